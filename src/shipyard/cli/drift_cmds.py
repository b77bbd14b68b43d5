"""`shipyard drift`: reference data per model version, thresholds, checks and the latest verdict."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import typer
from rich.table import Table

from shipyard.cli.common import HomeOption, cli_actor, console, err, session_for

drift_app = typer.Typer(
    help="Drift and data quality of live inputs against reference data.", no_args_is_help=True
)
reference_app = typer.Typer(help="Reference data of a model version.", no_args_is_help=True)
drift_app.add_typer(reference_app, name="reference")


def _kinds(values: list[str]) -> dict[str, str]:
    out = {}
    for value in values:
        name, sep, kind = value.partition("=")
        if not sep:
            err.print(f"[red]--kind takes name=kind, got {value!r}[/red]")
            raise typer.Exit(1)
        out[name] = kind
    return out


@reference_app.command("upload")
def reference_upload(
    slug: str,
    version: int,
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV (header row) or JSONL file."),
    fmt: str | None = typer.Option(None, "--format", help="csv or jsonl (default: from the file name)."),
    output_column: str | None = typer.Option(None, help="The column holding the model's output."),
    confidence_column: str | None = typer.Option(None, help="The column holding the confidence."),
    kind: list[str] = typer.Option([], help="Override a field's kind: name=numeric|categorical|text."),
    home: Path | None = HomeOption,
) -> None:
    """Set (or replace) a version's reference data from a file; only its profile is stored. Audited."""
    from shipyard.monitoring.drift import service as drift

    with session_for(home) as (settings, session):
        ref = drift.upload_reference(
            session,
            cli_actor(),
            settings.monitoring.drift,
            slug,
            version,
            file,
            file.name,
            fmt=fmt,
            output_column=output_column,
            confidence_column=confidence_column,
            kinds=_kinds(kind),
        )
        read = drift.reference_read(ref)
    features = ", ".join(f"{f['name']} ({f['kind']})" for f in read.features.values())
    console.print(f"Reference for {slug} v{version}: {read.rows} rows, {features}")


@reference_app.command("capture")
def reference_capture(
    slug: str,
    version: int,
    start: datetime = typer.Option(..., help="Window start, e.g. 2026-11-22T09:00:00+00:00."),
    end: datetime = typer.Option(..., help="Window end (exclusive)."),
    kind: list[str] = typer.Option([], help="Override a field's kind: name=numeric|categorical|text."),
    home: Path | None = HomeOption,
) -> None:
    """Set (or replace) a version's reference from its own recorded calls in [start, end). Audited."""
    from shipyard.monitoring.drift import service as drift
    from shipyard.monitoring.drift.frames import check_kinds

    with session_for(home) as (settings, session):
        ref = drift.capture_reference(
            session,
            cli_actor(),
            settings.monitoring.drift,
            slug,
            version,
            start,
            end,
            check_kinds(_kinds(kind)),
        )
        rows = ref.rows
    console.print(f"Reference for {slug} v{version} captured from {rows} recorded calls")


@reference_app.command("show")
def reference_show(slug: str, version: int, home: Path | None = HomeOption) -> None:
    """Show a version's reference data as JSON (source, rows, features; not the profile)."""
    from shipyard.monitoring.drift import service as drift

    with session_for(home) as (_, session):
        read = drift.reference_read(drift.get_reference(session, slug, version))
    console.print_json(read.model_dump_json())


@drift_app.command("thresholds")
def thresholds(
    slug: str,
    set_file: Path | None = typer.Option(None, "--set", help="Replace them with this JSON object's values."),
    home: Path | None = HomeOption,
) -> None:
    """Show a service's drift thresholds, or replace its own values with --set (audited)."""
    from pydantic import ValidationError

    from shipyard.monitoring.drift import service as drift
    from shipyard.monitoring.drift.schemas import ThresholdsUpdate

    with session_for(home) as (_, session):
        if set_file is None:
            read = drift.thresholds_read(session, slug)
        else:
            try:
                data = ThresholdsUpdate.model_validate(json.loads(set_file.read_text()))
            except (OSError, ValueError, ValidationError) as exc:
                err.print(f"[red]invalid thresholds in {set_file}:[/red]\n{exc}")
                raise typer.Exit(1) from None
            read = drift.set_thresholds(session, cli_actor(), slug, data)
    console.print_json(read.model_dump_json())


@drift_app.command("check")
def check(slug: str, home: Path | None = HomeOption) -> None:
    """Run the drift check of a service now over the latest window (audited) and print the verdicts."""
    from shipyard.monitoring.drift import history
    from shipyard.monitoring.drift import service as drift

    table = Table("version", "calls", "verdict", "drifted features", "findings")
    with session_for(home) as (settings, session):
        for run in drift.check_service(session, cli_actor(), settings.monitoring.drift, slug):
            status = history.status_of(session, run)
            table.add_row(
                f"v{run.version}",
                str(run.live_rows),
                status.verdict.replace("_", " "),
                ", ".join(status.drifted_features) or "-",
                str(status.findings),
            )
    console.print(table)
