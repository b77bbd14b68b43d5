"""The periodic jobs every server process registers (each runs in one process per interval)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from shipyard.db.periodic import PeriodicJob

if TYPE_CHECKING:
    from shipyard.web.context import AppContext


def roll_up(ctx: AppContext) -> None:
    """One rollup round over the recent window (see monitoring/rollups/service.py)."""
    from shipyard.monitoring.rollups import service as rollups
    from shipyard.registry import service as registry

    # Derived data, rebuilt every minute: no audit event (it records no one's decision).
    with ctx.uow() as session:
        slos = {s.slug: s.latency_slo_ms for s in registry.list_services(session)}
        rollups.refresh(session, ctx.clock.now(), ctx.settings.monitoring.rollups, slos)


def register(ctx: AppContext) -> None:
    """Add monitoring's jobs to `ctx.periodic`; they start with the process (see AppContext.start)."""
    from shipyard.monitoring.drift import jobs as drift_jobs
    from shipyard.review.jobs import refresh_accuracy
    from shipyard.review.queue.jobs import refresh_backlog

    every = timedelta(seconds=ctx.settings.monitoring.rollups.every_s)
    ctx.periodic.add(PeriodicJob("rollups", every, lambda: roll_up(ctx)))
    ctx.periodic.add(drift_jobs.job(ctx))

    def accuracy() -> None:
        refresh_accuracy(ctx)

    every_s = ctx.settings.monitoring.accuracy_every_s
    ctx.periodic.add(PeriodicJob("accuracy", timedelta(seconds=every_s), accuracy))

    def review_backlog() -> None:
        refresh_backlog(ctx)

    every_s = ctx.settings.monitoring.review_backlog_every_s
    ctx.periodic.add(PeriodicJob("review.backlog", timedelta(seconds=every_s), review_backlog))
    alerts = ctx.settings.alerts
    if alerts.enabled:
        from shipyard.monitoring.alerts.evaluate import evaluate_round

        def evaluate_alerts() -> None:
            evaluate_round(ctx.sessions, ctx.settings, ctx.clock, ctx.sync_transport, ctx)

        ctx.periodic.add(
            PeriodicJob("alerts.evaluate", timedelta(seconds=alerts.evaluate_every_s), evaluate_alerts)
        )
