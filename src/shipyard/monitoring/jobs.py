"""The periodic jobs every server process registers (each runs in one process per interval)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shipyard.web.context import AppContext


def register(ctx: AppContext) -> None:
    """Add monitoring's jobs to `ctx.periodic`; they start with the process (see AppContext.start)."""
    from shipyard.monitoring.drift import jobs as drift_jobs

    ctx.periodic.add(drift_jobs.job(ctx))
