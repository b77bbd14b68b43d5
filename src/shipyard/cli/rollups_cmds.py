"""`shipyard rollups`: backfill the dashboard's history after an outage longer than the lookback."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import typer

from shipyard.cli.common import HomeOption, console, err, session_for

rollups_app = typer.Typer(help="The metric rollups behind the dashboard.", no_args_is_help=True)


@rollups_app.command("rebuild")
def rebuild(
    since: str = typer.Option(..., help="How far back to recompute: e.g. 6h, 2d (at most what is kept)."),
    home: Path | None = HomeOption,
) -> None:
    """Recompute the rollups from the recorded predictions since then (records that arrived late)."""
    from shipyard.core.clock import Clock
    from shipyard.monitoring.alerts.schemas import duration_s
    from shipyard.monitoring.rollups import service as rollups
    from shipyard.registry import service as registry

    try:
        seconds = duration_s(since)
    except ValueError as exc:
        err.print(f"[red]--since: {exc}[/red]")
        raise typer.Exit(1) from None
    if seconds <= 0:
        err.print("[red]--since must be a positive duration, e.g. 6h or 2d[/red]")
        raise typer.Exit(1)
    with session_for(home) as (settings, session):
        now = Clock().now()
        slos = {s.slug: s.latency_slo_ms for s in registry.list_services(session)}
        stats = rollups.rebuild(
            session, now, settings.monitoring.rollups, slos, now - timedelta(seconds=seconds)
        )
    console.print(
        f"Rebuilt {stats.minute} minute, {stats.hour} hour and {stats.day} day bucket(s) "
        f"since {since} ago; {stats.deleted} past retention deleted."
    )
