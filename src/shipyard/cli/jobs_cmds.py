"""`shipyard jobs`: batch scoring of CSV and JSONL files, with a progress bar."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import anyio.to_thread
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Column, Table

from shipyard.cli.common import HomeOption, cli_actor, console, err, session_for
from shipyard.core.config import Settings

jobs_app = typer.Typer(help="Batch jobs: score a CSV or JSONL file through a service.", no_args_is_help=True)

WAIT_HELP = (
    "Follow the job with a progress bar until it ends. If no server or worker picks it up within "
    "SHIPYARD_JOBS__PICKUP_WAIT_S seconds (3), this command runs it itself, in this process, through the "
    "same governed path; Ctrl-C hands it back to the queue."
)
HERE_HELP = "Run the job in this process at once, without waiting for a server to pick it up."
_EXIT = {"succeeded": 0, "completed_with_errors": 2}  # anything else (failed, cancelled): 1


def _summary(job_id: str, settings: Settings) -> str:
    from shipyard.batchjobs import service as jobs
    from shipyard.db.engine import make_engine
    from shipyard.db.session import make_sessionmaker

    engine = make_engine(settings.database_url)
    try:
        with make_sessionmaker(engine)() as session:
            job = jobs.to_read(session, jobs.get_job(session, job_id))
    finally:
        engine.dispose()
    line = (
        f"Job {job.id} {job.status.replace('_', ' ')}: {job.rows_done}/{job.total_rows} rows, "
        f"{job.succeeded} succeeded ({job.fallback} by a fallback), {job.failed} failed"
    )
    if job.error:
        line += f"\n  {job.error}"
    if job.failed:
        line += f"\n  See the reasons: shipyard jobs export {job.id} --dead-letters -o failed.csv"
    return line


async def _follow(settings: Settings, job_id: str, here: bool) -> str:
    """Show progress until the job ends; run it here when nobody else does. Returns the final status."""
    from shipyard.batchjobs import service as jobs
    from shipyard.batchjobs.runner import JobRunner
    from shipyard.batchjobs.schemas import FINAL, QUEUED, JobRead
    from shipyard.db.engine import make_engine
    from shipyard.db.session import make_sessionmaker
    from shipyard.web.context import AppContext

    engine = make_engine(settings.database_url)
    factory = make_sessionmaker(engine)

    def read() -> JobRead:
        with factory() as session:
            return jobs.to_read(session, jobs.get_job(session, job_id))

    ctx: AppContext | None = None
    runner: JobRunner | None = None
    pickup_by = time.monotonic() + settings.jobs.pickup_wait_s
    columns = (
        TextColumn("{task.description:<10}"),
        BarColumn(bar_width=20),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TextColumn("[red]{task.fields[failed]} failed"),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=console) as bar:
            task = bar.add_task("queued", total=None, failed=0)
            while True:
                job = await anyio.to_thread.run_sync(read)
                bar.update(
                    task,
                    description=job.status,
                    total=job.total_rows,
                    completed=job.rows_done,
                    failed=job.failed,
                )
                if job.status in FINAL:
                    return job.status
                if runner is None and job.status == QUEUED and (here or time.monotonic() >= pickup_by):
                    local = settings.model_copy(
                        update={"jobs": settings.jobs.model_copy(update={"enabled": False})}
                    )
                    ctx = AppContext.build(local)
                    ctx.start()
                    runner = JobRunner(ctx, only_job=job_id)
                    runner.start()
                    bar.console.print("Running the job in this process.")
                await asyncio.sleep(0.2)
    finally:
        if runner is not None:
            await runner.stop()
        if ctx is not None:
            await ctx.stop()
        engine.dispose()


def _wait(settings: Settings, job_id: str, here: bool) -> None:
    try:
        status = asyncio.run(_follow(settings, job_id, here))
    except KeyboardInterrupt:
        err.print(
            f"Stopped following job {job_id}; it goes on in any server, or: shipyard jobs wait {job_id}"
        )
        raise typer.Exit(130) from None
    console.print(_summary(job_id, settings), soft_wrap=True, highlight=False)
    raise typer.Exit(_EXIT.get(status, 1))


@jobs_app.command("submit")
def submit(
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, readable=True, help="A .csv or .jsonl file"
    ),
    service: str = typer.Option(..., "--service", "-s", help="The service that scores each row"),
    fmt: str | None = typer.Option(
        None, "--format", help="csv or jsonl (default: from the file's extension)"
    ),
    wait: bool = typer.Option(True, "--wait/--no-wait", help=WAIT_HELP),
    here: bool = typer.Option(False, "--here", help=HERE_HELP),
    as_user: str | None = typer.Option(
        None, "--as-user", help="Score the rows as this user (default: the CLI operator, with the admin role)"
    ),
    home: Path | None = HomeOption,
) -> None:
    """Submit a file for batch scoring: each row goes through the service's schema, policy and recorder.

    CSV files need a header row; cells are converted to the types of the service's input schema and an
    empty cell is a missing field. JSONL files hold one JSON object per line. Rows that fail land in
    the job's dead letters with the reason. Exit status with --wait: 0 succeeded, 2 completed with
    failed rows, 1 failed or cancelled.
    """
    from shipyard.auth import service as auth
    from shipyard.batchjobs import service as jobs
    from shipyard.registry.artifacts import ArtifactStore

    actor = cli_actor()
    with console.status(f"Checking and storing {file.name}…"), session_for(home) as (settings, session):
        principal = (
            auth.user_principal(auth.get_user(session, as_user))
            if as_user
            else jobs.cli_principal(actor.name)
        )
        job = jobs.submit_job(
            session,
            actor,
            ArtifactStore(settings.artifacts_dir),
            principal,
            service=service,
            source=file,
            fmt=fmt or "",
            name=file.name,
        )
        job_id, total = job.id, job.total_rows
    console.print(f"Submitted job [bold]{job_id}[/bold]: {total} rows of {file.name} for {service}")
    if wait or here:
        _wait(settings, job_id, here)
    console.print(f"Follow it with: shipyard jobs status {job_id}")


@jobs_app.command("wait")
def wait_for(
    job_id: str = typer.Argument(..., help="Job id (or a unique prefix of 6+ characters)"),
    here: bool = typer.Option(False, "--here", help=HERE_HELP),
    home: Path | None = HomeOption,
) -> None:
    """Follow a job with a progress bar until it ends (running it here if no server picks it up)."""
    from shipyard.batchjobs import service as jobs

    with session_for(home) as (settings, session):
        job_id = jobs.find_job(session, job_id).id
    _wait(settings, job_id, here)


@jobs_app.command("list")
def list_jobs(
    service: str | None = typer.Option(None, "--service", "-s"),
    status: str | None = typer.Option(None, "--status"),
    limit: int = typer.Option(20, min=1, max=500),
    home: Path | None = HomeOption,
) -> None:
    """List jobs, newest first."""
    from shipyard.batchjobs import service as jobs

    table = Table("service", "file", "status", "rows", "succeeded", "failed", "created")
    table.columns.insert(0, Column("job", no_wrap=True))  # ids are copied from here whole
    with session_for(home) as (_, session):
        for job in jobs.to_reads(
            session, jobs.list_jobs(session, service=service, status=status, limit=limit)
        ):
            table.add_row(
                job.id,
                job.service,
                job.input_name,
                job.status,
                f"{job.rows_done}/{job.total_rows}",
                str(job.succeeded),
                str(job.failed),
                job.created_at.strftime("%Y-%m-%d %H:%M"),
            )
    console.print(table)


@jobs_app.command("status")
def status(
    job_id: str = typer.Argument(..., help="Job id (or a unique prefix of 6+ characters)"),
    home: Path | None = HomeOption,
) -> None:
    """Show a job's progress and counts, and its first dead letters with their reasons."""
    from shipyard.batchjobs import service as jobs

    with session_for(home) as (_, session):
        row = jobs.find_job(session, job_id)
        job = jobs.to_read(session, row)
        letters = jobs.dead_letters(session, row.id, limit=10)
    console.print(f"[bold]{job.id}[/bold]  {job.service}  {job.input_name} ({job.input_format})")
    console.print(f"status:    {job.status}" + (f"  ({job.error})" if job.error else ""))
    console.print(f"progress:  {job.rows_done}/{job.total_rows} rows ({job.progress:.0%})")
    console.print(
        f"counts:    {job.succeeded} succeeded ({job.fallback} by a fallback), {job.failed} failed"
        + (f", {job.retrying} being retried" if job.retrying else "")
    )
    console.print(f"run as:    {job.run_as} (submitted by {job.submitted_by})")
    if letters:
        table = Table("row", "status", "code", "reason", "attempts", title="Dead letters (first 10)")
        for dl in letters:
            table.add_row(str(dl.row_number), dl.status, dl.error_code, dl.reason, str(dl.attempts))
        console.print(table)


@jobs_app.command("cancel")
def cancel(job_id: str = typer.Argument(...), home: Path | None = HomeOption) -> None:
    """Cancel a job; a runner working on it stops at its next checkpoint."""
    from shipyard.batchjobs import service as jobs

    with session_for(home) as (_, session):
        job = jobs.cancel_job(session, cli_actor(), jobs.find_job(session, job_id).id)
        done = job.next_row - 1
    console.print(f"Cancelled job {job.id} after {done} of {job.total_rows} rows")


@jobs_app.command("retry")
def retry(
    job_id: str = typer.Argument(...),
    rows: list[int] | None = typer.Option(None, "--row", help="Retry only this row (repeatable)"),
    wait: bool = typer.Option(True, "--wait/--no-wait", help=WAIT_HELP),
    here: bool = typer.Option(False, "--here", help=HERE_HELP),
    home: Path | None = HomeOption,
) -> None:
    """Score a job's failed rows again (after fixing the cause), through the same governed path."""
    from shipyard.batchjobs import service as jobs

    with session_for(home) as (settings, session):
        job, queued, skipped = jobs.request_retry(
            session, cli_actor(), jobs.find_job(session, job_id).id, rows
        )
        job_id = job.id
    console.print(f"Queued {len(queued)} failed rows of job {job_id} for another try")
    if skipped:
        console.print(f"[yellow]Skipped {len(skipped)} rows that could not be parsed; fix the file.[/yellow]")
    if wait or here:
        _wait(settings, job_id, here)


@jobs_app.command("export")
def export(
    job_id: str = typer.Argument(...),
    output: Path = typer.Option(..., "--output", "-o", help="File to write"),
    dead_letters: bool = typer.Option(False, "--dead-letters", help="The failed rows with their reasons"),
    results: bool = typer.Option(
        False, "--results", help="Each row's request id, outcome, output, confidence"
    ),
    fmt: str | None = typer.Option(
        None, "--format", help="csv or jsonl (default: from the output's extension)"
    ),
    home: Path | None = HomeOption,
) -> None:
    """Write a job's results (read back from the recorded predictions) or its dead letters. Audited."""
    from shipyard.batchjobs import exports
    from shipyard.batchjobs import service as jobs

    if dead_letters == results:
        err.print("[red]error:[/red] say what to export: --dead-letters or --results")
        raise typer.Exit(1)
    kind = "results" if results else "dead_letters"
    fmt = fmt or ("jsonl" if output.suffix.lower() in (".jsonl", ".ndjson") else "csv")
    with session_for(home) as (_, session):
        exports.check_format(fmt)
        job = jobs.find_job(session, job_id)
        exports.audit_export(session, cli_actor(), job, kind, fmt)
        entries = exports.results(session, job) if results else exports.dead_letter_rows(session, job)
        fields = exports.RESULT_FIELDS if results else exports.DEAD_LETTER_FIELDS
        with output.open("w", encoding="utf-8", newline="") as fh:
            for line in exports.lines(entries, fmt, fields):
                fh.write(line)
    what = "results" if results else "dead letters"
    console.print(f"Wrote the {what} of job {job.id} to {output} ({fmt})", soft_wrap=True)
