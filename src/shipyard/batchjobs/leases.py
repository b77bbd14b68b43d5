"""The runner's side of the database: claim a job, renew the claim, checkpoint, let go.

A claim is one conditional UPDATE (claimable and not leased, or its lease expired), so of several
runners, in one process or many, on SQLite or PostgreSQL, exactly one wins. Every later write is
conditional on still holding the lease: a runner that lost its job (it stalled past the lease and
another took over) writes nothing more, and the rows it scored after the last checkpoint are
scored again by the new holder under the same request ids, which the recorder keeps once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from shipyard.batchjobs.models import BatchJob, DeadLetter, RowAttempt
from shipyard.batchjobs.schemas import (
    ACTIVE,
    COMPLETED_WITH_ERRORS,
    DL_OPEN,
    DL_RESOLVED,
    DL_RETRYING,
    FINAL,
    RUNNING,
    SUCCEEDED,
)
from shipyard.db.session import unit_of_work

Factory = sessionmaker[Session]


@dataclass(frozen=True)
class Claimed:
    id: str
    service: str
    input_format: str
    input_sha256: str
    total_rows: int
    next_row: int
    next_offset: int
    run_as: dict[str, Any]


@dataclass(frozen=True)
class NewLetter:
    row_number: int
    error_code: str
    reason: str
    inputs: Any = None
    raw: str | None = None
    request_id: str | None = None
    last_attempt: int = 0


@dataclass(frozen=True)
class RetriedLetter:
    row_number: int
    resolved: bool
    request_id: str
    last_attempt: int
    fallback: bool = False
    error_code: str = ""
    reason: str = ""


@dataclass
class Progress:
    """What one chunk changed; written in one transaction with the checkpoint."""

    next_row: int | None = None  # main pass only: the new checkpoint
    next_offset: int | None = None
    succeeded: int = 0
    fallback: int = 0
    letters: list[NewLetter] = field(default_factory=list)
    retried: list[RetriedLetter] = field(default_factory=list)


def _claimable(now: datetime) -> Any:
    return BatchJob.status.in_(ACTIVE) & or_(
        BatchJob.lease_expires_at.is_(None), BatchJob.lease_expires_at < now
    )


def candidates(factory: Factory, now: datetime, only_job: str | None = None) -> list[tuple[str, str, str]]:
    """(id, service, status) of jobs a runner could claim now, oldest first."""
    stmt = select(BatchJob.id, BatchJob.service, BatchJob.status).where(_claimable(now))
    if only_job is not None:
        stmt = stmt.where(BatchJob.id == only_job)
    with factory() as session:
        rows = session.execute(stmt.order_by(BatchJob.created_at, BatchJob.id).limit(20))
        return [(job_id, service, status) for job_id, service, status in rows]


def claim(factory: Factory, job_id: str, owner: str, now: datetime, lease_s: float) -> Claimed | None:
    """Take the job if it is still claimable; None when another runner was first."""
    with unit_of_work(factory) as session:
        result = session.execute(
            update(BatchJob)
            .where(BatchJob.id == job_id, _claimable(now))
            .values(
                status=RUNNING,
                lease_owner=owner,
                lease_expires_at=now + timedelta(seconds=lease_s),
                error=None,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:
            return None
        job = session.get(BatchJob, job_id, populate_existing=True)
        assert job is not None
        if job.started_at is None:
            job.started_at = now
        return Claimed(
            id=job.id,
            service=job.service,
            input_format=job.input_format,
            input_sha256=job.input_sha256,
            total_rows=job.total_rows,
            next_row=job.next_row,
            next_offset=job.next_offset,
            run_as=dict(job.run_as),
        )


def _hold(session: Session, job_id: str, owner: str, now: datetime, lease_s: float, **values: Any) -> bool:
    """Renew the lease (and apply `values`) only if this runner still holds it."""
    result = session.execute(
        update(BatchJob)
        .where(BatchJob.id == job_id, BatchJob.lease_owner == owner)
        .values(lease_expires_at=now + timedelta(seconds=lease_s), **values)
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


def heartbeat(factory: Factory, job_id: str, owner: str, now: datetime, lease_s: float) -> str | None:
    """Renew the lease; the job's status, or None when the lease was lost."""
    with unit_of_work(factory) as session:
        if not _hold(session, job_id, owner, now, lease_s):
            return None
        return session.scalar(select(BatchJob.status).where(BatchJob.id == job_id))


class _LeaseLost(Exception):
    pass


def checkpoint(
    factory: Factory, job_id: str, owner: str, now: datetime, lease_s: float, progress: Progress
) -> str | None:
    """Write a chunk's counts, dead letters and checkpoint at once; the status after, None if lost."""
    resolved = [r for r in progress.retried if r.resolved]
    values: dict[str, Any] = {
        "succeeded": BatchJob.succeeded + progress.succeeded + len(resolved),
        "fallback": BatchJob.fallback + progress.fallback + sum(r.fallback for r in resolved),
        "failed": BatchJob.failed + len(progress.letters) - len(resolved),
        "updated_at": now,
    }
    if progress.next_row is not None:
        values["next_row"] = progress.next_row
        values["next_offset"] = progress.next_offset
    try:
        with unit_of_work(factory) as session:
            if not _hold(session, job_id, owner, now, lease_s, **values):
                raise _LeaseLost
            session.add_all(
                DeadLetter(
                    job_id=job_id,
                    row_number=letter.row_number,
                    inputs=letter.inputs,
                    raw=letter.raw,
                    error_code=letter.error_code,
                    reason=letter.reason,
                    attempts=1,
                    last_attempt=letter.last_attempt,
                    request_id=letter.request_id,
                    status=DL_OPEN,
                    created_at=now,
                    updated_at=now,
                )
                for letter in progress.letters
            )
            for r in progress.retried:
                changes: dict[str, Any] = {
                    "status": DL_RESOLVED if r.resolved else DL_OPEN,
                    "attempts": DeadLetter.attempts + 1,
                    "last_attempt": r.last_attempt,
                    "request_id": r.request_id,
                    "updated_at": now,
                }
                if not r.resolved:
                    changes.update(error_code=r.error_code, reason=r.reason)
                session.execute(
                    update(DeadLetter)
                    .where(DeadLetter.job_id == job_id, DeadLetter.row_number == r.row_number)
                    .values(**changes)
                    .execution_options(synchronize_session=False)
                )
            return session.scalar(select(BatchJob.status).where(BatchJob.id == job_id))
    except _LeaseLost:
        return None


def attempts_for(factory: Factory, job_id: str, first: int, last: int) -> dict[int, int]:
    """Rows in [first, last] that need a request id suffix, and the suffix."""
    with factory() as session:
        rows = session.execute(
            select(RowAttempt.row_number, RowAttempt.attempt).where(
                RowAttempt.job_id == job_id, RowAttempt.row_number.between(first, last)
            )
        )
        return dict(rows.all())


def bump(
    factory: Factory,
    job_id: str,
    owner: str,
    now: datetime,
    lease_s: float,
    row: int,
    attempt: int,
    *,
    letter: bool,
) -> bool:
    """Persist that the row's next call uses `attempt`, before making it. False if the lease was lost."""
    with unit_of_work(factory) as session:
        if not _hold(session, job_id, owner, now, lease_s):
            return False
        if letter:  # a retried dead letter: its own record of the last id used
            session.execute(
                update(DeadLetter)
                .where(DeadLetter.job_id == job_id, DeadLetter.row_number == row)
                .values(last_attempt=attempt - 1, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            return True
        existing = session.get(RowAttempt, (job_id, row))
        if existing is None:
            session.add(RowAttempt(job_id=job_id, row_number=row, attempt=attempt))
        else:
            existing.attempt = attempt
        return True


def retrying_letters(factory: Factory, job_id: str, limit: int) -> list[tuple[int, Any, int]]:
    """(row, inputs, last attempt) of dead letters queued for a retry."""
    with factory() as session:
        rows = session.execute(
            select(DeadLetter.row_number, DeadLetter.inputs, DeadLetter.last_attempt)
            .where(DeadLetter.job_id == job_id, DeadLetter.status == DL_RETRYING)
            .order_by(DeadLetter.row_number)
            .limit(limit)
        )
        return [(row, inputs, last) for row, inputs, last in rows]


def let_go(
    factory: Factory, job_id: str, owner: str, now: datetime, status: str, error: str | None = None
) -> None:
    """Give the job up: a running job takes `status` (queued, paused or failed); any other keeps its own."""
    with unit_of_work(factory) as session:
        job = session.get(BatchJob, job_id, with_for_update=True, populate_existing=True)
        if job is None or job.lease_owner != owner:
            return
        if job.status == RUNNING:
            job.status, job.error = status, error
            if status in FINAL:
                job.finished_at = now
        job.lease_owner, job.lease_expires_at, job.updated_at = None, None, now


def finish(factory: Factory, job_id: str, owner: str, now: datetime) -> str:
    """After the last row: 'more' when retries were queued meanwhile, 'lost', or 'done'."""
    with unit_of_work(factory) as session:
        job = session.get(BatchJob, job_id, with_for_update=True, populate_existing=True)
        if job is None or job.lease_owner != owner:
            return "lost"
        if job.status == RUNNING:
            pending = session.scalar(
                select(exists().where(DeadLetter.job_id == job_id, DeadLetter.status == DL_RETRYING))
            )
            if pending:
                return "more"
            job.status = SUCCEEDED if job.failed == 0 else COMPLETED_WITH_ERRORS
            job.finished_at, job.error = now, None
        job.lease_owner, job.lease_expires_at, job.updated_at = None, None, now
        return "done"
