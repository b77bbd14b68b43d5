"""JSON routes for batch jobs: submit a file, follow it, cancel, retry, export."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from shipyard.auth.principal import Principal
from shipyard.batchjobs import exports
from shipyard.batchjobs import service as jobs
from shipyard.batchjobs.schemas import DeadLetterRead, JobRead, RetryRequest, RetryResult
from shipyard.web.context import AppContext
from shipyard.web.deps import Require, actor, get_ctx
from shipyard.web.uploads import TABLE_UPLOAD_OPENAPI, receive_table_file

router = APIRouter(tags=["batch jobs"])


def wake_runner(ctx: AppContext) -> None:
    """This process's runner looks for the new work at once instead of at its next poll."""
    if ctx.jobs is not None:
        ctx.jobs.wake()


@router.post(
    "/v1/services/{slug}/jobs",
    response_model=JobRead,
    status_code=201,
    openapi_extra=TABLE_UPLOAD_OPENAPI,
)
async def submit_job(
    slug: str,
    request: Request,
    principal: Annotated[Principal, Depends(Require("service:invoke"))],
    fmt: Annotated[str | None, Query(alias="format", description="csv or jsonl")] = None,
) -> JobRead:
    """Submit a CSV (header row) or JSONL file to be scored row by row through the service, as the caller.

    Send it as multipart (`file`, optional `format`) or as the raw body with `?format=` or a
    Content-Type of text/csv or application/x-ndjson. The job is queued at once; follow it with
    `GET /v1/jobs/{id}`.
    """
    ctx = get_ctx(request)
    who = actor(request, principal)
    with tempfile.TemporaryDirectory() as tmp:
        path, name, named = await receive_table_file(request, Path(tmp), fmt, "upload")

        def work() -> JobRead:
            with ctx.uow() as session:
                job = jobs.submit_job(
                    session, who, ctx.store, principal, service=slug, source=path, fmt=named or "", name=name
                )
                return jobs.to_read(session, job)

        read = await anyio.to_thread.run_sync(work)
    wake_runner(ctx)
    return read


@router.get("/v1/jobs", response_model=list[JobRead])
def list_jobs(
    request: Request,
    principal: Annotated[Principal, Depends(Require("job:read"))],
    service: str | None = None,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[JobRead]:
    """Jobs newest first, only those on services the caller may invoke or read predictions of."""
    with get_ctx(request).uow() as session:
        found = jobs.list_jobs(session, principal, service=service, status=status, limit=limit)
        return jobs.to_reads(session, found)


@router.get("/v1/jobs/{job_id}", response_model=JobRead)
def get_job(
    job_id: str, request: Request, principal: Annotated[Principal, Depends(Require("job:read"))]
) -> JobRead:
    """A job's status, progress (rows done of total) and counts."""
    with get_ctx(request).uow() as session:
        job = jobs.get_job(session, job_id)
        jobs.check_access(session, principal, job, jobs.READ_PERMISSION)
        return jobs.to_read(session, job)


@router.post("/v1/jobs/{job_id}/cancel", response_model=JobRead)
def cancel_job(
    job_id: str, request: Request, principal: Annotated[Principal, Depends(Require("service:invoke"))]
) -> JobRead:
    """Cancel a job; a runner working on it stops at its next checkpoint."""
    with get_ctx(request).uow() as session:
        jobs.check_access(session, principal, jobs.get_job(session, job_id), jobs.JOB_PERMISSION)
        job = jobs.cancel_job(session, actor(request, principal), job_id)
        return jobs.to_read(session, job)


@router.post("/v1/jobs/{job_id}/retry", response_model=RetryResult)
def retry_job(
    job_id: str,
    request: Request,
    principal: Annotated[Principal, Depends(Require("service:invoke"))],
    data: RetryRequest | None = None,
) -> RetryResult:
    """Score the job's dead letters again (all, or the `rows` named) through the same governed path."""
    ctx = get_ctx(request)
    with ctx.uow() as session:
        jobs.check_access(session, principal, jobs.get_job(session, job_id), jobs.JOB_PERMISSION)
        job, queued, skipped = jobs.request_retry(
            session, actor(request, principal), job_id, data.rows if data else None
        )
        result = RetryResult(job=jobs.to_read(session, job), queued=queued, skipped=skipped)
    wake_runner(ctx)
    return result


def _download(ctx: AppContext, job_id: str, what: str, fmt: str) -> StreamingResponse:
    return StreamingResponse(
        exports.stream(ctx.sessions, job_id, what, fmt),
        media_type=exports.MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="job-{job_id}-{what}.{fmt}"'},
    )


@router.get("/v1/jobs/{job_id}/dead-letters", response_model=list[DeadLetterRead])
def list_dead_letters(
    job_id: str,
    request: Request,
    principal: Annotated[Principal, Depends(Require("job:read"))],
    fmt: Annotated[str, Query(alias="format", description="json, or csv / jsonl for a download")] = "json",
    after_row: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    status: str | None = None,
) -> Any:
    """The rows that failed, with the reason and inputs. The read is audited."""
    if fmt != "json":
        exports.check_format(fmt)
    ctx = get_ctx(request)
    with ctx.uow() as session:
        job = jobs.get_job(session, job_id)
        jobs.check_access(session, principal, job, jobs.READ_PERMISSION)
        exports.audit_export(session, actor(request, principal), job, "dead_letters", fmt)
        if fmt == "json":
            page = jobs.dead_letters(session, job_id, after_row=after_row, limit=limit, status=status)
            return [jobs.dead_letter_read(dl) for dl in page]
    return _download(ctx, job_id, "dead-letters", fmt)


@router.get("/v1/jobs/{job_id}/results")
def export_results(
    job_id: str,
    request: Request,
    principal: Annotated[Principal, Depends(Require("job:read"))],
    fmt: Annotated[str, Query(alias="format", description="jsonl or csv")] = "jsonl",
) -> StreamingResponse:
    """Each scored row's request id, outcome, output and confidence, read back from the recorded
    predictions (a row scored seconds ago may show `pending` until its record is shipped). Audited."""
    exports.check_format(fmt)
    ctx = get_ctx(request)
    with ctx.uow() as session:
        job = jobs.get_job(session, job_id)
        jobs.check_access(session, principal, job, jobs.READ_PERMISSION)
        exports.audit_export(session, actor(request, principal), job, "results", fmt)
    return _download(ctx, job_id, "results", fmt)
