"""The review backlog gauges: open tasks per service and how long they wait, refreshed by a periodic job."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import Gauge
from sqlalchemy import select
from sqlalchemy.orm import Session

from shipyard.registry import service as registry
from shipyard.review.queue import service as queue
from shipyard.review.queue.models import ReviewTask

if TYPE_CHECKING:
    from shipyard.web.context import AppContext

# Set by whichever worker ran the job last; "mostrecent" makes a multiprocess scrape show that value.
BACKLOG = Gauge(
    "shipyard_review_backlog",
    "Review tasks not decided yet (pending and escalated), per service",
    ["service"],
    multiprocess_mode="mostrecent",
)
HELD = Gauge(
    "shipyard_review_held",
    "Of the open review tasks, the held calls: their caller waits for the decision",
    ["service"],
    multiprocess_mode="mostrecent",
)
OLDEST_AGE = Gauge(
    "shipyard_review_oldest_age_seconds",
    "How long the oldest open review task has waited (0 when none is open)",
    ["service"],
    multiprocess_mode="mostrecent",
)
HELD_OLDEST_AGE = Gauge(
    "shipyard_review_held_oldest_age_seconds",
    "How long the caller of the oldest open held call has waited (0 when none is held)",
    ["service"],
    multiprocess_mode="mostrecent",
)
_GAUGES = (BACKLOG, HELD, OLDEST_AGE, HELD_OLDEST_AGE)
_exported: set[str] = set()


@dataclass(frozen=True)
class Backlog:
    """One service's queue as the gauges and the alert signals show it."""

    open: int
    held: int
    oldest_age_s: float
    held_oldest_age_s: float | None  # None: no held call open


def _has_tasks(session: Session, slug: str) -> bool:
    # One index probe (ix_review_tasks_service_state), not a scan of every decided task.
    stmt = select(ReviewTask.request_id).where(ReviewTask.service == slug).limit(1)
    return session.scalar(stmt) is not None


def current(session: Session, now: datetime) -> dict[str, Backlog]:
    """Every service that has review tasks, open or decided: its open counts and ages (0 when drained)."""
    rows = {r.service: r for r in queue.backlog(session, now)}
    drained = {
        s.slug for s in registry.list_services(session) if s.slug not in rows and _has_tasks(session, s.slug)
    }
    values = dict.fromkeys(sorted(drained), Backlog(0, 0, 0.0, None))
    for slug, row in rows.items():
        values[slug] = Backlog(row.open, row.held, row.oldest_age_s or 0.0, row.held_oldest_age_s)
    return values


def refresh_backlog(ctx: AppContext) -> dict[str, Backlog]:
    """Set the gauges for every service with review tasks; drop the series of services with none."""
    with ctx.sessions() as session:
        values = current(session, ctx.clock.now())
    for slug, b in values.items():
        BACKLOG.labels(slug).set(b.open)
        HELD.labels(slug).set(b.held)
        OLDEST_AGE.labels(slug).set(b.oldest_age_s)
        HELD_OLDEST_AGE.labels(slug).set(b.held_oldest_age_s or 0.0)
    for slug in _exported - values.keys():  # no task left (or no such service now): no stale series
        for gauge in _GAUGES:
            gauge.remove(slug)
    _exported.clear()
    _exported.update(values)
    return values
