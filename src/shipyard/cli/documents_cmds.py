"""`shipyard documents`: upload policy documents, load the demo corpus, list, withdraw, settle."""

from __future__ import annotations

import time
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from shipyard.cli.common import HomeOption, cli_actor, console, err, session_for, settings_for
from shipyard.core.config import Settings

documents_app = typer.Typer(help="Policy documents the assistant answers from.", no_args_is_help=True)

_STATUS_STYLE = {
    "active": "green",
    "pending": "cyan",
    "superseded": "yellow",
    "withdrawn": "red",
    "duplicate": "dim",
}


def _tools(settings: Settings) -> tuple[Any, Any, Any]:
    """The vault, the embedder and the OCR options; a clear exit when the extra is missing."""
    try:
        from shipyard.assistants.policy.embedder import Embedder
        from shipyard.documents.extract import OcrOptions
    except ImportError as exc:
        hint = "pip install 'shipyard[assistant]'"
        err.print(f"[red]error:[/red] policy documents need the assistant extra: {hint} ({exc})")
        raise typer.Exit(1) from None
    from shipyard.documents.vault import DocumentVault

    a = settings.assistant
    ocr = OcrOptions(dpi=a.ocr_dpi, workers=a.ocr_workers, min_confidence=a.ocr_min_confidence)
    embedder = Embedder(torch_threads=a.embedder_threads)
    return DocumentVault(settings.documents_dir, settings.secret()), embedder, ocr


def load_items(settings: Settings, items: list[Any], *, title: str) -> list[Any]:
    """Ingest items with a progress bar and a summary; returns the outcomes."""
    from shipyard.assistants.policy.index import embed_passages
    from shipyard.db.engine import make_engine
    from shipyard.db.session import make_sessionmaker
    from shipyard.documents.bulk import ingest_many

    vault, embedder, ocr = _tools(settings)

    def embed(passages: Any) -> Any:
        return embed_passages(embedder, passages)

    engine = make_engine(settings.database_url)
    t0 = time.perf_counter()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(bar_width=24),
        MofNCompleteColumn(),
        TextColumn("files"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[last]}", style="dim"),
    )
    try:
        with Progress(*columns, console=console) as bar:
            task = bar.add_task("loading model", total=len(items), last="")
            embedder.load()
            bar.update(task, description=title)

            def done(outcome: Any) -> None:
                bar.update(task, advance=1, last=outcome.item.path.name)
                _print_outcome(bar.console, outcome)

            outcomes = ingest_many(
                make_sessionmaker(engine), cli_actor(), vault, embed, items, ocr=ocr, on_done=done
            )
    finally:
        engine.dispose()
    _summary(outcomes, time.perf_counter() - t0)
    return outcomes


def _print_outcome(out: Any, outcome: Any) -> None:
    name = outcome.item.path.name
    if outcome.error is not None:
        out.print(f"[red]✗ {name}[/red]: {outcome.error.detail} ({outcome.error.code})")
        return
    result = outcome.result
    if result.outcome == "duplicate":
        dup = result.duplicate_of
        out.print(f"[dim]= {name}: duplicate of {dup.doc_key} {dup.version} ({dup.id}); not stored[/dim]")
        return
    doc = result.document
    style = _STATUS_STYLE.get(doc.status, "white")
    line = f"[{style}]✓ {name}[/{style}] → {doc.doc_key} {doc.version} [{style}]{doc.status}[/{style}]"
    if doc.ocr_pages:
        line += f", {doc.ocr_pages} page(s) OCR'd"
    out.print(line)
    for p in result.problems:
        page = f" (page {p.page})" if p.page else ""
        out.print(f"    [yellow]! {p.code}{page}[/yellow]: {p.message}")


def _summary(outcomes: list[Any], seconds: float) -> None:
    kinds: Counter[str] = Counter()
    for o in outcomes:
        kinds["failed" if o.error else o.result.outcome] += 1
    problems = Counter(p.code for o in outcomes if o.result for p in o.result.problems)
    console.print(
        f"{kinds['stored']} stored, {kinds['duplicate']} duplicates skipped, {kinds['failed']} failed "
        f"in {seconds:.1f} s" + (f"; problems: {dict(problems)}" if problems else "")
    )


@documents_app.command("upload")
def upload(
    files: list[Path] = typer.Argument(
        ..., exists=True, dir_okay=False, help="PDF, DOCX, HTML, Markdown or text files."
    ),
    insurer: str = typer.Option(..., help="The insurer the policies belong to."),
    topic: str = typer.Option(..., help="e.g. imaging/mri, therapy/pt, claims."),
    effective_date: str = typer.Option(
        ..., "--effective-date", help="YYYY-MM-DD: when this version comes into force."
    ),
    doc_key: str | None = typer.Option(None, "--doc-key", help="The policy these files are versions of."),
    version: str | None = typer.Option(None, help="Default: the effective date."),
    title: str | None = typer.Option(None, help="Default: read from each file."),
    home: Path | None = HomeOption,
) -> None:
    """Upload policy documents: read (with OCR for scans), check for duplicates, index, supersede."""
    from pydantic import ValidationError

    from shipyard.documents.bulk import Item
    from shipyard.documents.schemas import DocumentMeta

    try:
        meta = DocumentMeta(
            insurer=insurer,
            topic=topic,
            effective_date=date.fromisoformat(effective_date),
            doc_key=doc_key,
            version=version,
            title=title,
        )
    except (ValueError, ValidationError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    if (doc_key or version) and len(files) > 1:
        err.print("[red]error:[/red] --doc-key and --version name one document: upload one file with them")
        raise typer.Exit(2)
    outcomes = load_items(settings_for(home), [Item(f, meta) for f in files], title="uploading")
    raise typer.Exit(1 if any(o.error for o in outcomes) else 0)


def demo_items() -> list[Any]:
    """The shipped demo corpus as upload items, in the manifest's order (older versions first)."""
    from shipyard.assistants.policy.corpus import load_manifest
    from shipyard.documents.bulk import Item
    from shipyard.documents.schemas import DocumentMeta

    items = []
    for doc in load_manifest():
        meta = DocumentMeta(
            insurer=doc.insurer,
            topic=doc.topic,
            effective_date=date.fromisoformat(str(doc.effective_date)),
            doc_key=doc.doc_key,
            version=doc.version,
            title=doc.title,
        )
        reason = "withdrawn by the insurer (demo corpus)" if doc.withdrawn else None
        items.append(Item(doc.path, meta, withdraw=reason))
    return items


@documents_app.command("load-demo")
def load_demo(home: Path | None = HomeOption) -> None:
    """Load the demo corpus shipped with Shipyard (fictional insurers), OCR included."""
    outcomes = load_items(settings_for(home), demo_items(), title="demo corpus")
    raise typer.Exit(1 if any(o.error for o in outcomes) else 0)


@documents_app.command("list")
def list_documents(
    insurer: str | None = None,
    status: str | None = typer.Option(None, help="active, pending, superseded, withdrawn or duplicate"),
    home: Path | None = HomeOption,
) -> None:
    """List documents by insurer and policy, newest version first."""
    from shipyard.documents import service as documents

    table = Table("id", "insurer", "policy", "version", "effective", "status", "pages", "problems")
    with session_for(home) as (_, session):
        for d in documents.list_documents(session, insurer=insurer, status=status):
            style = _STATUS_STYLE.get(d.status, "white")
            table.add_row(
                d.id,
                d.insurer,
                d.doc_key,
                d.version,
                d.effective_date.isoformat(),
                f"[{style}]{d.status}[/{style}]",
                str(d.page_count),
                str(len(d.problems or [])),
            )
    console.print(table)


@documents_app.command("withdraw")
def withdraw(
    document_id: str,
    reason: str = typer.Option(..., help="Why it is withdrawn (recorded in the audit trail)."),
    home: Path | None = HomeOption,
) -> None:
    """Withdraw a version; the previous version of the policy, if any, is in force again."""
    from shipyard.documents import service as documents

    with session_for(home) as (_, session):
        doc = documents.withdraw(session, cli_actor(), document_id, reason)
        console.print(f"{doc.id} ({doc.doc_key} {doc.version}) withdrawn")


@documents_app.command("settle")
def settle(home: Path | None = HomeOption) -> None:
    """Put pending versions whose effective date has come into force (servers also do it hourly)."""
    from shipyard.documents import service as documents

    with session_for(home) as (_, session):
        changed = documents.settle_all(session, cli_actor())
        for d in changed:
            console.print(f"{d.doc_key} {d.version}: {d.status}")
        console.print(f"{len(changed)} status change(s)")
