"""The periodic jobs every server process registers (each runs in one process per interval)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from shipyard.db.periodic import PeriodicJob

if TYPE_CHECKING:
    from shipyard.web.context import AppContext


def register(ctx: AppContext) -> None:
    """Add monitoring's jobs to `ctx.periodic`; they start with the process (see AppContext.start)."""
    alerts = ctx.settings.alerts
    if alerts.enabled:
        from shipyard.monitoring.alerts.evaluate import evaluate_round

        def evaluate_alerts() -> None:
            evaluate_round(ctx.sessions, ctx.settings, ctx.clock, ctx.sync_transport, ctx)

        ctx.periodic.add(
            PeriodicJob("alerts.evaluate", timedelta(seconds=alerts.evaluate_every_s), evaluate_alerts)
        )
