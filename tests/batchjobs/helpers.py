"""Submitting jobs through the API and waiting for the app's runner, for the batch job tests."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import anyio.to_thread
import httpx
from sqlalchemy import select

from shipyard.batchjobs import service as jobs
from shipyard.batchjobs.schemas import FINAL, JobRead
from shipyard.serving.models import Prediction
from tests.factories import World, bearer


async def submit(
    client: httpx.AsyncClient, key: str, body: str, fmt: str, slug: str = "echo", name: str | None = None
) -> dict[str, Any]:
    """Multipart upload; the job as the API returns it."""
    files = {"file": (name or f"rows.{fmt}", body.encode(), "application/octet-stream")}
    r = await client.post(f"/v1/services/{slug}/jobs", files=files, headers=bearer(key))
    assert r.status_code == 201, r.text
    job: dict[str, Any] = r.json()
    return job


def job_read(world: World, job_id: str) -> JobRead:
    with world.ctx.sessions() as s:
        return jobs.to_read(s, jobs.get_job(s, job_id))


async def wait_for(
    world: World, job_id: str, statuses: frozenset[str] = FINAL, timeout_s: float = 60
) -> JobRead:
    """Let the app's runner work until the job reaches one of `statuses`."""
    deadline = time.monotonic() + timeout_s
    while True:
        job = await anyio.to_thread.run_sync(job_read, world, job_id)
        if job.status in statuses:
            return job
        assert time.monotonic() < deadline, f"job still {job.status}: {job}"
        await asyncio.sleep(0.02)


async def wait_until(world: World, job_id: str, rows_done: int, timeout_s: float = 60) -> JobRead:
    """Until the checkpoint has passed `rows_done` rows."""
    deadline = time.monotonic() + timeout_s
    while True:
        job = await anyio.to_thread.run_sync(job_read, world, job_id)
        if job.rows_done >= rows_done:
            return job
        assert time.monotonic() < deadline, f"job at {job.rows_done} rows: {job}"
        await asyncio.sleep(0.02)


async def recorded(world: World, job_id: str) -> dict[str, Prediction]:
    """The job's recorded predictions by request id, once the recorder has shipped them."""
    assert await anyio.to_thread.run_sync(world.ctx.shipper.flush)
    prefix = f"job-{job_id}-"
    with world.ctx.sessions() as s:
        rows = s.scalars(select(Prediction).where(Prediction.request_id.startswith(prefix, autoescape=True)))
        return {p.request_id: p for p in rows}
