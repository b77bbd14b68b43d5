"""`shipyard eval`: run labelled questions through a service and report against the targets."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from shipyard.cli.common import HomeOption, console, err, settings_for
from shipyard.core.config import Settings

# The policy assistant's agreed targets (issue #4); other services pass their own with --target.
TARGETS: dict[str, tuple[str, float]] = {
    "accuracy": (">=", 0.90),
    "abstention_precision": (">=", 0.90),
    "abstention_recall": (">=", 0.90),
    "superseded_citations": ("<=", 0),
    "latency_p95_ms": ("<=", 500),
}


def read_questions(path: Path | None, split: str) -> list[Any]:
    """Labelled questions from a JSONL file (default: the demo corpus's set), one split or all."""
    from shipyard.evaluation.qa import Example

    if path is None:
        from shipyard.assistants.policy.corpus import QUESTIONS_PATH

        path = QUESTIONS_PATH
    examples = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            example = Example(
                id=str(row["id"]),
                question=str(row["question"]),
                answerable=bool(row["answerable"]),
                insurer=row.get("insurer"),
                evidence=tuple(row.get("evidence") or ()),
                doc_key=row.get("doc_key"),
                version=row.get("version"),
                category=str(row.get("category", "")),
                split=str(row.get("split", "")),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise typer.BadParameter(f"{path} line {n}: {exc}") from None
        if split == "all" or example.split == split:
            examples.append(example)
    if not examples:
        raise typer.BadParameter(f"{path} has no questions in split {split!r}")
    return examples


def _in_force(settings: Settings) -> set[tuple[str, str]]:
    from sqlalchemy import select

    from shipyard.db.engine import make_engine
    from shipyard.documents.models import PolicyDocument

    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(PolicyDocument.doc_key, PolicyDocument.version).where(
                    PolicyDocument.status == "active"
                )
            )
            return {(k, v) for k, v in rows}
    finally:
        engine.dispose()


def _remote_in_force(url: str, api_key: str) -> set[tuple[str, str]]:
    """The active versions, as the server lists them (any signed-in role may read documents)."""
    import httpx

    reply = httpx.get(
        url.rstrip("/") + "/v1/documents",
        params={"status": "active", "limit": 1000},
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=30,
    )
    reply.raise_for_status()
    return {(d["doc_key"], d["version"]) for d in reply.json()}


async def _run_here(settings: Settings, slug: str, examples: list[Any], tick: Any) -> list[Any]:
    from shipyard.auth.principal import Principal
    from shipyard.evaluation.runner import run_in_process
    from shipyard.web.context import AppContext

    local = settings.model_copy(update={"jobs": settings.jobs.model_copy(update={"enabled": False})})
    ctx = AppContext.build(local)
    ctx.start()
    try:
        principal = Principal(id="eval", name="cli:eval", kind="user", roles=frozenset({"admin"}))
        return await run_in_process(ctx, principal, slug, examples, tick)
    finally:
        await ctx.stop()


def missed_targets(report: Any) -> list[str]:
    """The targets the report misses (a metric that could not be measured is not a miss)."""
    return [name for name in TARGETS if "FAIL" in _verdict(name, getattr(report, name))]


def _verdict(name: str, value: float) -> str:
    if name not in TARGETS:
        return ""
    op, bound = TARGETS[name]
    if isinstance(value, float) and math.isnan(value):
        return "[yellow]n/a[/yellow]"
    ok = value >= bound if op == ">=" else value <= bound
    return f"[green]PASS[/green] ({op} {bound:g})" if ok else f"[red]FAIL[/red] ({op} {bound:g})"


def run_eval(
    slug: str = typer.Argument("billing-policy-assistant", help="The service to evaluate."),
    questions: Path | None = typer.Option(
        None, exists=True, dir_okay=False, help="JSONL; default: the demo set."
    ),
    split: str = typer.Option("test", help="dev, test or all (tune on dev, report on test)."),
    out: Path = typer.Option(Path("eval-results.json"), help="Where to write the full report as JSON."),
    url: str | None = typer.Option(None, help="A running server's URL; default: run in this process."),
    api_key: str | None = typer.Option(None, envvar="SHIPYARD_API_KEY", help="Key for --url."),
    strict: bool = typer.Option(False, help="Exit 1 when a target is missed (for CI gates)."),
    home: Path | None = HomeOption,
) -> None:
    """Ask every labelled question through the service and report accuracy, abstention, citations and
    latency, as a table and a JSON file. Each question is a recorded call like any other."""
    from shipyard.evaluation.qa import score
    from shipyard.evaluation.runner import run_remote

    settings = settings_for(home)
    examples = read_questions(questions, split)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(bar_width=24),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as bar:
        task = bar.add_task(f"{slug} ({split})", total=len(examples))

        def tick(_: Any) -> None:
            bar.advance(task)

        if url:
            if not api_key:
                err.print("[red]error:[/red] --url needs --api-key (or SHIPYARD_API_KEY)")
                raise typer.Exit(2)
            results = run_remote(url, api_key, slug, examples, tick)
        else:
            results = asyncio.run(_run_here(settings, slug, examples, tick))
    report = score(
        examples, results, in_force=_remote_in_force(url, api_key or "") if url else _in_force(settings)
    )
    table = Table("metric", "value", "target")
    for name in (
        "questions",
        "answerable",
        "unanswerable",
        "accuracy",
        "abstention_precision",
        "abstention_recall",
        "citation_correctness",
        "superseded_citations",
        "errors",
        "latency_p50_ms",
        "latency_p95_ms",
    ):
        value = getattr(report, name)
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        table.add_row(name, shown, _verdict(name, value))
    console.print(table)
    body = {
        "service": slug,
        "split": split,
        "questions_file": str(questions or "demo"),
        "report": report.as_dict(),
    }
    out.write_text(json.dumps(body, indent=2, default=str) + "\n", encoding="utf-8")
    console.print(f"{len(report.failures)} question(s) wrong; the full report is in {out}")
    missed = missed_targets(report)
    if strict and missed:
        err.print(f"targets missed: {', '.join(missed)}")
        raise typer.Exit(1)
