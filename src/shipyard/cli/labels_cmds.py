"""`shipyard labels upload`: ground-truth labels from a CSV or JSONL file, checked item by item."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import typer

from shipyard.cli.common import HomeOption, cli_actor, console, err, session_for

labels_app = typer.Typer(help="Ground-truth labels for recorded predictions.", no_args_is_help=True)


def read_items(path: Path, text: str) -> list[Any]:
    """Items {request_id, label} from JSONL (one object a line) or CSV (columns request_id, label)."""
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        items: list[Any] = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                items.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"line {number} is not JSON: {exc.msg}") from None
        return items
    if path.suffix.lower() != ".csv":
        raise ValueError(f"{path.name}: use a .csv or .jsonl file")
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or not {"request_id", "label"} <= set(reader.fieldnames):
        raise ValueError("the CSV header must have the columns request_id and label")
    return [{"request_id": row["request_id"], "label": _cell(row["label"])} for row in reader]


def _cell(value: str | None) -> Any:
    """A CSV cell is JSON when it parses as JSON (4, 0.5, true, "quoted"), else the text as it is."""
    if value is None or value == "":
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


@labels_app.command("upload")
def upload(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="A .csv or .jsonl file."),
    service: str = typer.Option(..., "--service", help="The service the predictions belong to."),
    home: Path | None = HomeOption,
) -> None:
    """Store the labels; each bad item is reported with its line, the others are stored."""
    from shipyard.review import service as review
    from shipyard.review.schemas import MAX_LABELS_PER_UPLOAD

    try:
        items = read_items(file, file.read_text(encoding="utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    if not items:
        err.print(f"[red]error:[/red] {file.name} has no labels")
        raise typer.Exit(1)
    accepted = replaced = 0
    failures = []
    with session_for(home) as (_, session):
        for start in range(0, len(items), MAX_LABELS_PER_UPLOAD):
            result = review.upload_labels(
                session, cli_actor(), service, items[start : start + MAX_LABELS_PER_UPLOAD]
            )
            accepted, replaced = accepted + result.accepted, replaced + result.replaced
            failures += [(start + e.index, e) for e in result.errors]
    console.print(f"Stored {accepted} label(s) for {service} ({replaced} replaced an earlier one).")
    for index, error in failures:
        err.print(f"item {index + 1}: {error.code}: {error.message}")
    if failures:
        raise typer.Exit(2)
