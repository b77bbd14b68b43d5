"""Console pages for batch jobs: the list with live progress, one job's page, upload, cancel, retry."""

from __future__ import annotations

import functools
import shutil
import tempfile
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

import anyio.to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from shipyard.auth.principal import Principal
from shipyard.batchjobs import service as jobs
from shipyard.batchjobs.api import wake_runner
from shipyard.batchjobs.schemas import ACTIVE, DL_OPEN, UNPARSABLE
from shipyard.core.errors import InvalidInput, ShipyardError
from shipyard.registry import service as registry
from shipyard.web.console import render
from shipyard.web.deps import Require, actor, get_ctx
from shipyard.web.problems import status_for

router = APIRouter(include_in_schema=False)

# Fixed keys, never free text in a link (see registry/pages.py).
FLASHES: dict[str, tuple[str, str]] = {
    "submitted": ("ok", "Submitted. The job is queued and starts within seconds."),
    "cancelled": ("ok", "Cancelled. A runner working on it stops at its next checkpoint."),
    "retrying": ("ok", "The failed rows are queued for another try."),
}
DEAD_LETTERS_SHOWN = 100


def _flashes(request: Request) -> list[tuple[str, str]]:
    found = FLASHES.get(request.query_params.get("flash", ""))
    return [found] if found else []


def _is_fragment(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _list(
    request: Request,
    principal: Principal,
    *,
    status_code: int = 200,
    flashes: list[tuple[str, str]] | None = None,
) -> HTMLResponse:
    with get_ctx(request).uow() as session:
        found = jobs.to_reads(session, jobs.list_jobs(session, principal, limit=100))
        services = [
            s.slug
            for s in registry.list_services(session)
            if principal.can(jobs.JOB_PERMISSION, service=s.slug, service_owner=s.owner_id)
        ]
    active = any(j.status in ACTIVE for j in found)
    if _is_fragment(request):
        return render(request, "_job_rows.html", jobs=found, active=active)
    return render(
        request,
        "jobs.html",
        status_code=status_code,
        jobs=found,
        active=active,
        services=services,
        flashes=flashes if flashes is not None else _flashes(request),
    )


@router.get("/jobs", response_class=HTMLResponse)
def jobs_page(
    request: Request, principal: Annotated[Principal, Depends(Require("job:read"))]
) -> HTMLResponse:
    return _list(request, principal)


@router.post("/jobs")
async def submit_form(
    request: Request, principal: Annotated[Principal, Depends(Require("service:invoke"))]
) -> Response:
    ctx = get_ctx(request)
    who = actor(request, principal)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            async with request.form() as form:  # closes the spooled upload when done
                slug, upload, fmt = form.get("service"), form.get("file"), form.get("format")
                if not isinstance(slug, str) or not slug:
                    raise InvalidInput("choose a service")
                if not isinstance(upload, UploadFile) or not upload.filename:
                    raise InvalidInput("choose a CSV or JSONL file to upload")
                name = Path(upload.filename).name
                path = Path(tmp) / name
                with path.open("wb") as fh:
                    await anyio.to_thread.run_sync(shutil.copyfileobj, upload.file, fh)

            def work() -> str:
                with ctx.uow() as session:
                    job = jobs.submit_job(
                        session,
                        who,
                        ctx.store,
                        principal,
                        service=slug,
                        source=path,
                        fmt=fmt if isinstance(fmt, str) else "",
                        name=name,
                    )
                    return job.id

            job_id = await anyio.to_thread.run_sync(work)
    except ShipyardError as exc:
        failed = functools.partial(
            _list, request, principal, status_code=status_for(exc), flashes=[("error", exc.detail)]
        )
        return await anyio.to_thread.run_sync(failed)
    wake_runner(ctx)
    return RedirectResponse(f"/jobs/{quote(job_id)}?flash=submitted", status_code=303)


def _detail(
    request: Request,
    principal: Principal,
    job_id: str,
    *,
    status_code: int = 200,
    flashes: list[tuple[str, str]] | None = None,
) -> HTMLResponse:
    with get_ctx(request).uow() as session:
        row = jobs.get_job(session, job_id)
        jobs.check_access(session, principal, row, jobs.READ_PERMISSION)
        job = jobs.to_read(session, row)
        owner_id = registry.get_service(session, row.service).owner_id if not _is_fragment(request) else None
        letters = (
            [] if _is_fragment(request) else jobs.dead_letters(session, job_id, limit=DEAD_LETTERS_SHOWN)
        )
    if _is_fragment(request):
        return render(request, "_job_progress.html", job=job)
    can_act = principal.can(jobs.JOB_PERMISSION, service=job.service, service_owner=owner_id)
    return render(
        request,
        "job_detail.html",
        status_code=status_code,
        job=job,
        letters=letters,
        # Only parsable rows can be retried; past the rows shown, trust the counts.
        can_retry=any(dl.status == DL_OPEN and dl.error_code != UNPARSABLE for dl in letters)
        or (len(letters) >= DEAD_LETTERS_SHOWN and job.failed > job.retrying),
        can_act=can_act,
        flashes=flashes if flashes is not None else _flashes(request),
    )


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(
    job_id: str, request: Request, principal: Annotated[Principal, Depends(Require("job:read"))]
) -> HTMLResponse:
    return _detail(request, principal, job_id)


def _act(request: Request, principal: Principal, job_id: str, what: str) -> Response:
    ctx = get_ctx(request)
    try:
        with ctx.uow() as session:
            jobs.check_access(session, principal, jobs.get_job(session, job_id), jobs.JOB_PERMISSION)
            if what == "cancel":
                jobs.cancel_job(session, actor(request, principal), job_id)
            else:
                jobs.request_retry(session, actor(request, principal), job_id)
    except ShipyardError as exc:
        return _detail(
            request, principal, job_id, status_code=status_for(exc), flashes=[("error", exc.detail)]
        )
    wake_runner(ctx)
    flash = "cancelled" if what == "cancel" else "retrying"
    return RedirectResponse(f"/jobs/{quote(job_id)}?flash={flash}", status_code=303)


@router.post("/jobs/{job_id}/cancel")
def cancel_submit(
    job_id: str, request: Request, principal: Annotated[Principal, Depends(Require("service:invoke"))]
) -> Response:
    return _act(request, principal, job_id, "cancel")


@router.post("/jobs/{job_id}/retry")
def retry_submit(
    job_id: str, request: Request, principal: Annotated[Principal, Depends(Require("service:invoke"))]
) -> Response:
    return _act(request, principal, job_id, "retry")
