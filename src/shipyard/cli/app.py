"""Top-level commands: init, serve, demo, db, pause/resume, and the sub-command groups."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.panel import Panel

from shipyard.cli import (
    admin,
    alerts_cmds,
    documents_cmds,
    drift_cmds,
    eval_cmds,
    jobs_cmds,
    labels_cmds,
    registry_cmds,
    reviews_cmds,
    rollups_cmds,
)
from shipyard.cli.common import HomeOption, cli_actor, console, err, session_for, settings_for
from shipyard.core.config import Settings

app = typer.Typer(
    help="Shipyard: the production layer for AI models.", no_args_is_help=True, pretty_exceptions_enable=False
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(admin.users_app, name="users")
app.add_typer(admin.keys_app, name="keys")
app.add_typer(admin.audit_app, name="audit")
app.add_typer(registry_cmds.services_app, name="services")
app.add_typer(registry_cmds.versions_app, name="versions")
app.add_typer(jobs_cmds.jobs_app, name="jobs")
app.add_typer(documents_cmds.documents_app, name="documents")
app.add_typer(drift_cmds.drift_app, name="drift")
app.add_typer(labels_cmds.labels_app, name="labels")
app.add_typer(reviews_cmds.reviews_app, name="reviews")
app.add_typer(rollups_cmds.rollups_app, name="rollups")
app.add_typer(alerts_cmds.alerts_app, name="alerts")
app.command("eval")(eval_cmds.run_eval)


def _init(home: Path | None, admin_name: str, examples: bool) -> Settings:
    from shipyard.instance import init_instance

    with console.status("Setting up the instance (migrations, admin, example services)…"):
        result = init_instance(settings_for(home), admin=admin_name, examples=examples)
    settings = result.settings
    if result.created:
        console.print(f"[green]Created[/green] an instance in {settings.home} ({settings.database_url})")
        console.print(
            Panel(
                f"username: [bold]{result.admin}[/bold]\npassword: [bold]{result.admin_password}"
                "[/bold]\n\nShown once. Reset with `shipyard users reset-password`.",
                title="Admin sign-in",
                expand=False,
            )
        )
    else:
        console.print(f"Reusing the instance in {settings.home} ({settings.database_url})")
    for slug in result.examples:
        console.print(f"Registered example service [bold]{slug}[/bold] and made version 1 live")
    return settings


@app.command()
def init(
    home: Path | None = HomeOption,
    admin_name: str = typer.Option("admin", "--admin"),
    examples: bool = typer.Option(True, help="Register the example services."),
) -> None:
    """Create (or upgrade and reuse) an instance: database, secret, admin user, example services."""
    _init(home, admin_name, examples)


@app.command()
def serve(
    home: Path | None = HomeOption,
    host: str | None = None,
    port: int | None = None,
    workers: int = typer.Option(1, help="Worker processes (use PostgreSQL for more than one)."),
    log_level: str = "info",
    app_dir: Path | None = typer.Option(
        None, help="A folder put on the Python path, for `callable` models whose code lives there."
    ),
) -> None:
    """Serve the API and console."""
    import os

    import uvicorn

    settings = settings_for(home)
    if settings.tracing.enabled:  # fail here, once, rather than in every worker's app factory
        from shipyard.monitoring.tracing import TracingNotInstalled, require_exporter

        try:
            require_exporter(settings.tracing)
        except TracingNotInstalled as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(1) from None
    if home:
        os.environ["SHIPYARD_HOME"] = str(home)
    if workers > 1 and settings.is_sqlite:
        console.print("[yellow]Several workers on SQLite serialize writes; prefer PostgreSQL.[/yellow]")
    if workers > 1:
        _metrics_dir(settings.home / "metrics")
    uvicorn.run(
        "shipyard.web.asgi:create_default_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        # uvicorn kills a worker that does not answer its supervisor's ping in time, and a worker cannot
        # answer while it is still importing: at 5 s (the default) a busy host kills every new worker
        # before it starts, over and over.
        timeout_worker_healthcheck=30,
        log_level=log_level,
        access_log=False,
        app_dir=str(app_dir) if app_dir else None,
    )


def _metrics_dir(directory: Path) -> None:
    """Workers keep their metrics in files there, so any worker's /metrics sums them all (set before
    the workers import prometheus_client; emptied, since a previous run's values must not count)."""
    import os

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # the operator's own: theirs to empty
        return
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)


@app.command()
def demo(home: Path | None = HomeOption, port: int | None = None) -> None:
    """Set up the embedded instance with the example services and the demo policy documents, print
    credentials, and serve."""
    from shipyard.instance import issue_key

    settings = _init(home, "admin", True)
    assistant = _load_demo_documents(settings)
    key = issue_key(settings, "admin", "demo key", ["consumer"], expires_in_days=30)
    url = f"http://{settings.host}:{port or settings.port}"
    console.print(f"API key (consumer, 30 days; shown once): [bold]{key}[/bold]")
    console.print("Try it:", style="bold")
    # Plain lines, not a panel, so the command can be copied as it is.
    console.print(
        f"curl -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' "
        f"-d @examples/claim.json {url}/v1/services/claims-triage/invoke",
        soft_wrap=True,
        highlight=False,
    )
    if assistant:
        console.print(
            f"curl -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' "
            f"-d @examples/question.json {url}/v1/services/billing-policy-assistant/invoke",
            soft_wrap=True,
            highlight=False,
        )
    console.print(f"Console: {url}  (sign in as admin; ask the policy assistant at {url}/ask)")
    serve(home=home, host=None, port=port, workers=1, log_level="info", app_dir=None)


def _load_demo_documents(settings: Settings) -> bool:
    """Load the demo policy corpus once, when the assistant is installed; whether it is."""
    try:
        from shipyard.cli.documents_cmds import demo_items, load_items
        from shipyard.documents.extract import extract  # noqa: F401  # the assistant extra is present
    except ImportError:
        console.print("[dim]The policy assistant is not installed (pip install 'shipyard[assistant]').[/dim]")
        return False
    from sqlalchemy import func, select

    from shipyard.db.engine import make_engine
    from shipyard.documents.models import PolicyDocument

    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            loaded = conn.scalar(select(func.count()).select_from(PolicyDocument))
    finally:
        engine.dispose()
    if not loaded:
        console.print("Loading the demo policy documents (fictional insurers; scans are OCR'd):")
        load_items(settings, demo_items(), title="demo corpus")
    return True


@db_app.command("upgrade")
def db_upgrade(home: Path | None = HomeOption, revision: str = "head") -> None:
    """Apply migrations up to `revision`."""
    from shipyard.db.migrate import current, upgrade

    settings = settings_for(home)
    if settings.is_sqlite:
        settings.home.mkdir(parents=True, exist_ok=True)
    with _database_errors(settings):
        upgrade(settings.database_url, revision)
        console.print(f"Database at revision {current(settings.database_url)}")


@db_app.command("current")
def db_current(home: Path | None = HomeOption) -> None:
    """Show the database's migration revision."""
    from shipyard.db.migrate import current

    settings = settings_for(home)
    with _database_errors(settings):
        revision = current(settings.database_url)
    console.print(revision or "(empty database)")


@contextmanager
def _database_errors(settings: Settings) -> Iterator[None]:
    """A database that cannot be reached is a one-line error, not a traceback."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except SQLAlchemyError as exc:
        where = make_url(settings.database_url).render_as_string(hide_password=True)
        err.print(f"[red]error:[/red] cannot open the database {where}: {getattr(exc, 'orig', None) or exc}")
        raise typer.Exit(1) from None


@app.command()
def pause(
    slug: str,
    reason: str = typer.Option(..., "--reason", "-r", help="Shown to every caller."),
    home: Path | None = HomeOption,
) -> None:
    """Pause a service: every call answers 503 with who paused it and why (the kill switch)."""
    from shipyard.registry import service as registry

    with session_for(home) as (_, session):
        registry.pause(session, cli_actor(), slug, reason)
    console.print(f"[yellow]{slug} paused[/yellow]: {reason}")


@app.command()
def resume(slug: str, home: Path | None = HomeOption) -> None:
    """Resume a paused service."""
    from shipyard.registry import service as registry

    with session_for(home) as (_, session):
        registry.resume(session, cli_actor(), slug)
    console.print(f"[green]{slug} resumed[/green]")
