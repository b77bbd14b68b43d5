"""The scheduled drift check: every version with a reference, over the latest window, then retention."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from shipyard.db.periodic import PeriodicJob
from shipyard.monitoring.drift import gauges, history
from shipyard.monitoring.drift import service as drift
from shipyard.monitoring.drift.models import DriftReference, DriftRun

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from shipyard.web.context import AppContext

log = logging.getLogger(__name__)
JOB_NAME = "drift-check"


def publish(session: Session, run: DriftRun) -> None:
    """Export a run's scores as Prometheus gauges (insufficient data leaves the last scores in place)."""
    if run.status != "ok":
        return
    rows = history.features_of(session, [run.id])[run.id]
    gauges.publish(run.service, run.version, run.drifted, [(f.name, f.value) for f in rows])


def check_all(ctx: AppContext) -> None:
    """One scheduled round: check each referenced version on its own, so one failure spares the rest."""
    settings = ctx.settings.monitoring.drift
    now = ctx.clock.now()
    start = now - timedelta(seconds=settings.window_s)
    with ctx.uow() as session:
        ref_ids = [ref.id for ref in drift.list_references(session)]
    failed: list[str] = []
    for ref_id in ref_ids:
        try:
            with ctx.uow() as session:
                ref = session.get(DriftReference, ref_id)
                if ref is None:  # deleted with its service since the list was read
                    continue
                run = drift.check_reference(session, ref, settings, start, now, "schedule", now)
                publish(session, run)
        except Exception as exc:
            log.exception("drift check of reference %s failed", ref_id)
            failed.append(f"{ref_id}: {exc}")
    with ctx.uow() as session:
        history.prune(session, now - timedelta(days=settings.retention_days))
    if failed:
        raise RuntimeError(f"{len(failed)} drift check(s) failed: " + "; ".join(failed)[:300])


def job(ctx: AppContext) -> PeriodicJob:
    every = timedelta(seconds=ctx.settings.monitoring.drift.interval_s)
    return PeriodicJob(JOB_NAME, every, lambda: check_all(ctx))
