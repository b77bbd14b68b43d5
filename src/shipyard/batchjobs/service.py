"""Batch jobs: submit, read, cancel, retry. State changes are audited in the caller's transaction."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from shipyard.audit.service import Actor, record
from shipyard.auth.models import ApiKey, User
from shipyard.auth.principal import Principal
from shipyard.batchjobs import formats
from shipyard.batchjobs.models import BatchJob, DeadLetter
from shipyard.batchjobs.schemas import (
    ACTIVE,
    CANCELLED,
    DL_OPEN,
    DL_RETRYING,
    FINAL,
    QUEUED,
    STATUSES,
    UNPARSABLE,
    DeadLetterRead,
    JobRead,
)
from shipyard.core.clock import Clock, as_utc
from shipyard.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from shipyard.registry import service as registry
from shipyard.registry.artifacts import ArtifactStore

JOB_PERMISSION = "service:invoke"  # what submitting, cancelling and retrying need on the job's service
READ_PERMISSION = "job:read"  # service:invoke or prediction:read on the job's service


def request_id(job_id: str, row: int, attempt: int = 0) -> str:
    """Deterministic per row and attempt, so a row re-run after a crash is recorded once."""
    return f"job-{job_id}-{row}" if attempt == 0 else f"job-{job_id}-{row}-{attempt}"


# --- who a job runs as ---------------------------------------------------------------------------------


def snapshot(principal: Principal) -> dict[str, Any]:
    """What a runner needs to act as the submitter later; never a secret."""
    return {
        "id": principal.id,
        "name": principal.name,
        "kind": principal.kind,
        "roles": sorted(principal.roles),
        "user_id": principal.user_id,
        "key_id": principal.key_id,
        "services": sorted(principal.services) if principal.services is not None else None,
    }


def principal_for(session: Session, run_as: dict[str, Any], clock: Clock) -> Principal:
    """The submitter as it stands now: a revoked key or a disabled user stops its jobs."""
    kind = run_as["kind"]
    services = frozenset(run_as["services"]) if run_as.get("services") is not None else None
    if kind == "key":
        key = session.get(ApiKey, run_as["key_id"])
        owner = session.get(User, key.user_id) if key is not None else None
        if key is None or key.revoked_at is not None:
            raise Forbidden(
                f"the API key {run_as['name']} this job runs as was revoked", code="run_as_revoked"
            )
        if key.expires_at is not None and as_utc(key.expires_at) <= clock.now():
            raise Forbidden(
                f"the API key {run_as['name']} this job runs as has expired", code="run_as_revoked"
            )
        if owner is None or not owner.is_active:
            raise Forbidden(f"the owner of {run_as['name']} is disabled", code="run_as_revoked")
        # As when the key is used: it never outranks its owner (an admin owner covers every role).
        roles = (
            frozenset(key.roles) if "admin" in owner.roles else frozenset(key.roles) & frozenset(owner.roles)
        )
        services = frozenset(key.services) if key.services is not None else None
        return Principal(
            id=owner.id,
            name=run_as["name"],
            kind="key",
            roles=roles,
            user_id=owner.id,
            key_id=key.id,
            services=services,
        )
    if kind == "user":
        user = session.get(User, run_as["user_id"])
        if user is None or not user.is_active:
            raise Forbidden(f"the user {run_as['name']} this job runs as is disabled", code="run_as_revoked")
        return Principal(
            id=user.id, name=user.username, kind="user", roles=frozenset(user.roles), user_id=user.id
        )
    # SSO tokens and the CLI's operator have no row to re-check: the job keeps what they had.
    return Principal(
        id=run_as["id"],
        name=run_as["name"],
        kind=kind,
        roles=frozenset(run_as["roles"]),
        user_id=run_as.get("user_id"),
        services=services,
    )


def cli_principal(name: str) -> Principal:
    """The CLI works on the instance directly, as an operator with the admin role."""
    return Principal(id=name, name=name, kind="system", roles=frozenset({"admin"}))


# --- reading -------------------------------------------------------------------------------------------


def get_job(session: Session, job_id: str, *, for_update: bool = False) -> BatchJob:
    job = session.get(BatchJob, job_id, with_for_update=for_update, populate_existing=for_update)
    if job is None:
        raise NotFound(f"no batch job {job_id!r}")
    return job


def find_job(session: Session, ref: str) -> BatchJob:
    """A job by its id or a unique prefix of it (at least 6 characters), for people typing ids."""
    job = session.get(BatchJob, ref)
    if job is not None:
        return job
    if len(ref) >= 6:
        matches = list(
            session.scalars(select(BatchJob).where(BatchJob.id.startswith(ref, autoescape=True)).limit(2))
        )
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise InvalidInput(f"{ref!r} matches several jobs; give more of the id", code="ambiguous_id")
    raise NotFound(f"no batch job {ref!r}")


def check_access(session: Session, principal: Principal, job: BatchJob, permission: str) -> None:
    """Per-service check for routes whose path names a job rather than a service."""
    owner_id = _owner_id(session, job.service)
    if not principal.can(permission, service=job.service, service_owner=owner_id):
        raise Forbidden(f"{principal.name} may not {permission} on {job.service}", code="forbidden")


def _owner_id(session: Session, slug: str) -> str | None:
    try:
        return registry.get_service(session, slug).owner_id
    except NotFound:  # the service is gone; only roles that are not owner-scoped still apply
        return None


def list_jobs(
    session: Session,
    principal: Principal | None = None,
    *,
    service: str | None = None,
    status: str | None = None,
    limit: int = 50,
) -> list[BatchJob]:
    """Newest first; with a principal, only the jobs it may read."""
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"unknown status {status!r}; one of {', '.join(STATUSES)}", code="bad_status")
    stmt = select(BatchJob).order_by(BatchJob.created_at.desc(), BatchJob.id.desc())
    if service:
        stmt = stmt.where(BatchJob.service == service)
    if status:
        stmt = stmt.where(BatchJob.status == status)
    if principal is None:
        return list(session.scalars(stmt.limit(limit)))
    owners: dict[str, str | None] = {}
    found: list[BatchJob] = []
    for job in session.scalars(stmt.limit(max(limit * 5, 200))):
        if job.service not in owners:
            owners[job.service] = _owner_id(session, job.service)
        if principal.can(READ_PERMISSION, service=job.service, service_owner=owners[job.service]):
            found.append(job)
            if len(found) == limit:
                break
    return found


def to_reads(session: Session, jobs: list[BatchJob]) -> list[JobRead]:
    ids = [j.id for j in jobs]
    retrying: dict[str, int] = {}
    if ids:
        rows = session.execute(
            select(DeadLetter.job_id, func.count())
            .where(DeadLetter.job_id.in_(ids), DeadLetter.status == DL_RETRYING)
            .group_by(DeadLetter.job_id)
        )
        retrying = {job_id: int(n) for job_id, n in rows}
    return [_read(job, retrying.get(job.id, 0)) for job in jobs]


def to_read(session: Session, job: BatchJob) -> JobRead:
    return to_reads(session, [job])[0]


def _read(job: BatchJob, retrying: int) -> JobRead:
    done = min(job.next_row - 1, job.total_rows)
    return JobRead(
        id=job.id,
        service=job.service,
        status=job.status,
        submitted_by=job.submitted_by,
        run_as=job.run_as.get("name", "?"),
        input_format=job.input_format,
        input_name=job.input_name,
        input_sha256=job.input_sha256,
        input_bytes=job.input_bytes,
        total_rows=job.total_rows,
        rows_done=done,
        succeeded=job.succeeded,
        failed=job.failed,
        fallback=job.fallback,
        retrying=retrying,
        progress=done / job.total_rows if job.total_rows else 1.0,
        error=job.error,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        updated_at=job.updated_at,
    )


def dead_letters(
    session: Session, job_id: str, *, after_row: int = 0, limit: int = 100, status: str | None = None
) -> list[DeadLetter]:
    stmt = select(DeadLetter).where(DeadLetter.job_id == job_id, DeadLetter.row_number > after_row)
    if status:
        stmt = stmt.where(DeadLetter.status == status)
    return list(session.scalars(stmt.order_by(DeadLetter.row_number).limit(limit)))


def dead_letter_read(dl: DeadLetter) -> DeadLetterRead:
    return DeadLetterRead(
        row_number=dl.row_number,
        status=dl.status,
        error_code=dl.error_code,
        reason=dl.reason,
        attempts=dl.attempts,
        retried=dl.attempts > 1,
        request_id=dl.request_id,
        inputs=dl.inputs,
        raw=dl.raw,
        updated_at=dl.updated_at,
    )


# --- changing ------------------------------------------------------------------------------------------


def submit_job(
    session: Session,
    actor: Actor,
    store: ArtifactStore,
    principal: Principal,
    *,
    service: str,
    source: Path,
    fmt: str,
    name: str = "",
) -> BatchJob:
    """Check the file, store it content-addressed, and queue a job that runs as `principal`."""
    svc = registry.get_service(session, service)
    if not principal.can(JOB_PERMISSION, service=service, service_owner=svc.owner_id):
        raise Forbidden(f"{principal.name} may not {JOB_PERMISSION} on {service}", code="forbidden")
    fmt = formats.format_for(name or source.name, fmt)
    total = formats.scan(source, fmt, svc.input_schema)
    sha, _ = store.put(source)
    now = actor.clock.now()
    job = BatchJob(
        service=service,
        submitted_by=actor.name,
        run_as=snapshot(principal),
        input_format=fmt,
        input_name=Path(name or source.name).name[:255],
        input_sha256=sha,
        input_bytes=source.stat().st_size,
        total_rows=total,
        next_row=1,
        next_offset=0,
        succeeded=0,
        failed=0,
        fallback=0,
        status=QUEUED,
        created_at=now,
        updated_at=now,
    )
    session.add(job)
    session.flush()
    record(
        session,
        actor,
        "batch_job.submit",
        "batch_job",
        job.id,
        service=service,
        after={"format": fmt, "name": job.input_name, "sha256": sha, "rows": total, "run_as": principal.name},
    )
    return job


def cancel_job(session: Session, actor: Actor, job_id: str) -> BatchJob:
    """Stop a job; a runner working on it stops at its next checkpoint."""
    job = get_job(session, job_id, for_update=True)
    if job.status in FINAL:
        raise Conflict(f"job {job.id} is already {job.status}", code="job_finished")
    before = job.status
    now = actor.clock.now()
    job.status, job.finished_at, job.updated_at = CANCELLED, now, now
    if before != "running":  # no runner holds it; a running one reads the status and lets go itself
        job.lease_owner, job.lease_expires_at = None, None
    session.execute(
        update(DeadLetter)
        .where(DeadLetter.job_id == job.id, DeadLetter.status == DL_RETRYING)
        .values(status=DL_OPEN, updated_at=now)
    )
    record(
        session,
        actor,
        "batch_job.cancel",
        "batch_job",
        job.id,
        service=job.service,
        before={"status": before},
        after={"status": CANCELLED, "rows_done": job.next_row - 1},
    )
    return job


def request_retry(
    session: Session, actor: Actor, job_id: str, rows: list[int] | None = None
) -> tuple[BatchJob, list[int], list[int]]:
    """Queue dead letters (all open ones, or the rows named) for another try through the same path.

    Returns the job, the rows queued and the rows skipped because they could not be parsed.
    """
    job = get_job(session, job_id, for_update=True)
    if job.status == CANCELLED:
        raise Conflict(f"job {job.id} was cancelled; submit the file again", code="job_cancelled")
    stmt = select(DeadLetter).where(DeadLetter.job_id == job.id, DeadLetter.status == DL_OPEN)
    wanted = sorted(set(rows)) if rows is not None else None
    if wanted is not None:
        stmt = stmt.where(DeadLetter.row_number.in_(wanted))
    letters = list(session.scalars(stmt.order_by(DeadLetter.row_number)))
    if wanted is not None:
        missing = sorted(set(wanted) - {dl.row_number for dl in letters})
        if missing:
            shown = ", ".join(map(str, missing[:20])) + (" ..." if len(missing) > 20 else "")
            raise InvalidInput(
                f"rows {shown} are not open dead letters of job {job.id}", code="not_dead_letters"
            )
    skipped = [dl.row_number for dl in letters if dl.error_code == UNPARSABLE]
    queued = [dl for dl in letters if dl.error_code != UNPARSABLE]
    if not queued:
        detail = (
            "no failed rows to retry" if not skipped else "the failed rows could not be parsed; fix the file"
        )
        raise Conflict(f"job {job.id}: {detail}", code="nothing_to_retry")
    now = actor.clock.now()
    for dl in queued:
        dl.status, dl.updated_at = DL_RETRYING, now
    before = job.status
    if job.status not in ACTIVE:  # finished: back in the queue; active: the runner picks them up
        job.status, job.finished_at, job.error = QUEUED, None, None
        job.lease_owner, job.lease_expires_at = None, None
    job.updated_at = now
    numbers = [dl.row_number for dl in queued]
    record(
        session,
        actor,
        "batch_job.retry",
        "batch_job",
        job.id,
        service=job.service,
        before={"status": before},
        after={"status": job.status, "rows": numbers[:100], "count": len(numbers)},
    )
    return job, numbers, skipped
