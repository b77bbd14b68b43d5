"""Periodic control-plane jobs (rollups, drift checks, alert evaluation) that run once per interval
across every worker process.

Each job has a row in `periodic_leases`. A process runs a job only after one conditional UPDATE has
made it the holder: the job is due (its last run began at least one interval ago) and nobody holds an
unexpired lease. So of several workers, on SQLite or PostgreSQL, exactly one runs each round; a holder
that dies mid-run is replaced once its lease expires.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import String, Table, or_, update
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from shipyard.core.clock import Clock
from shipyard.db.base import Base
from shipyard.db.inserts import insert_new

log = logging.getLogger(__name__)


class PeriodicLease(Base):
    __tablename__ = "periodic_leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(200))
    expires_at: Mapped[datetime | None]
    last_run_at: Mapped[datetime | None]  # when the latest round began
    last_ok_at: Mapped[datetime | None]  # when a round last finished without an error
    last_error: Mapped[str | None] = mapped_column(String(500))


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    every: timedelta
    run: Callable[[], None]  # opens its own units of work
    lease: timedelta = timedelta(minutes=10)  # longer than a round ever takes


def holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def _table() -> Table:
    table = PeriodicLease.__table__  # a Table; typed as FromClause
    assert isinstance(table, Table)
    return table


def claim(factory: sessionmaker[Session], job: PeriodicJob, holder: str, now: datetime) -> bool:
    """Become the holder of `job` for this round if it is due and free; whether we did."""
    engine = factory.kw["bind"]
    table = _table()
    with engine.begin() as conn:
        conn.execute(insert_new(conn, table, ["name"]).values(name=job.name))
        claimed = conn.execute(
            update(table)
            .where(
                table.c.name == job.name,
                or_(table.c.expires_at.is_(None), table.c.expires_at <= now),
                or_(table.c.last_run_at.is_(None), table.c.last_run_at <= now - job.every),
            )
            .values(holder=holder, expires_at=now + job.lease, last_run_at=now)
        )
        return bool(claimed.rowcount == 1)


def release(
    factory: sessionmaker[Session], job: PeriodicJob, holder: str, now: datetime, error: str | None
) -> None:
    table = _table()
    values: dict[str, object] = {"expires_at": None, "last_error": error[:500] if error else None}
    if error is None:
        values["last_ok_at"] = now
    with factory.kw["bind"].begin() as conn:
        conn.execute(update(table).where(table.c.name == job.name, table.c.holder == holder).values(**values))


class PeriodicRunner:
    """Runs registered jobs on one background thread when they are due and this process wins them."""

    def __init__(self, factory: sessionmaker[Session], clock: Clock, tick_s: float = 5.0) -> None:
        self.factory = factory
        self.clock = clock
        self.tick_s = tick_s
        self.jobs: list[PeriodicJob] = []
        self.holder = holder_id()

    def add(self, job: PeriodicJob) -> None:
        self.jobs.append(job)

    def run_due(self) -> list[str]:
        """One pass: run every due job this process wins; the names of those it ran."""
        ran = []
        for job in self.jobs:
            try:
                if not claim(self.factory, job, self.holder, self.clock.now()):
                    continue
            except Exception as exc:  # the database may be down; the next tick tries again
                log.warning("periodic job %s: could not claim: %s", job.name, exc)
                continue
            error = None
            try:
                job.run()
            except Exception as exc:
                log.exception("periodic job %s failed", job.name)
                error = f"{type(exc).__name__}: {exc}"
            try:
                release(self.factory, job, self.holder, self.clock.now(), error)
            except Exception as exc:  # the lease expires by itself
                log.warning("periodic job %s: could not release: %s", job.name, exc)
            ran.append(job.name)
        return ran

    def loop(self, stopping: threading.Event) -> None:
        while not stopping.wait(self.tick_s):
            self.run_due()
