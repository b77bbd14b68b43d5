"""The runner beside live traffic: cancel, paused service, revoked submitter, several runners, shutdown."""

from __future__ import annotations

import asyncio
import time

import anyio.to_thread
import httpx

from shipyard.auth import service as auth
from shipyard.batchjobs.runner import JobRunner
from shipyard.batchjobs.schemas import CANCELLED, FAILED, PAUSED, QUEUED, RUNNING, SUCCEEDED
from shipyard.registry import service as registry
from tests.batchjobs import models
from tests.batchjobs.helpers import job_read, recorded, submit, wait_for
from tests.factories import World, bearer

ROWS = "".join(f'{{"x": {x}}}\n' for x in range(30))  # rows 11.. (x >= 10) wait for models.GATE


async def held(calls: int = 4, timeout_s: float = 30) -> None:
    """Until `calls` rows are in flight, held by the gated model (a chunk's whole concurrency)."""
    deadline = time.monotonic() + timeout_s
    while models.waiting() < calls:
        assert time.monotonic() < deadline, f"only {models.waiting()} calls reached the gate"
        await asyncio.sleep(0.01)


async def idle(runner: JobRunner, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while runner.current is not None:
        assert time.monotonic() < deadline, "the runner is still working"
        await asyncio.sleep(0.02)


def gated_service(world: World) -> str:
    return world.service("gated", entrypoint="tests.batchjobs.models:gated", timeout_ms=30_000)


async def test_cancel_stops_the_job_at_the_next_checkpoint(client: httpx.AsyncClient, world: World) -> None:
    key = world.user_with_key("carol", ["consumer"])
    gated_service(world)
    job = await submit(client, key, ROWS, "jsonl", slug="gated")
    await held()  # rows 11-14 are in flight, held by the gate
    r = await client.post(f"/v1/jobs/{job['id']}/cancel", headers=bearer(key))
    assert r.status_code == 200 and r.json()["status"] == CANCELLED
    models.GATE.set()
    await idle(world.ctx.jobs)
    done = await anyio.to_thread.run_sync(job_read, world, job["id"])
    assert done.status == CANCELLED and done.rows_done == 15  # the chunk in flight finished; no more
    assert done.finished_at is not None
    assert len(await recorded(world, job["id"])) == 15
    again = await client.post(f"/v1/jobs/{job['id']}/cancel", headers=bearer(key))
    assert again.status_code == 409 and again.json()["code"] == "job_finished"
    retry = await client.post(f"/v1/jobs/{job['id']}/retry", headers=bearer(key))
    assert retry.status_code == 409 and retry.json()["code"] == "job_cancelled"


async def test_a_paused_service_pauses_the_job_and_resuming_continues(
    client: httpx.AsyncClient, world: World
) -> None:
    key = world.user_with_key("carol", ["consumer"])
    gated_service(world)
    job = await submit(client, key, ROWS, "jsonl", slug="gated")
    await held()
    with world.ctx.uow() as s:
        registry.pause(s, world.actor(), "gated", "checking a bad answer")
    models.GATE.set()  # the rows in flight finish; the next one finds the service paused

    paused = await wait_for(world, job["id"], frozenset({PAUSED}))
    assert paused.rows_done == 14 and paused.failed == 0  # nothing was dead-lettered
    assert paused.error is not None and "paused by test: checking a bad answer" in paused.error
    assert len(await recorded(world, job["id"])) == 14  # no call was made (or recorded) while paused
    r = await client.get(f"/v1/jobs/{job['id']}", headers=bearer(key))
    assert r.json()["status"] == PAUSED

    with world.ctx.uow() as s:
        registry.resume(s, world.actor(), "gated")
    done = await wait_for(world, job["id"])
    assert (done.status, done.rows_done, done.succeeded, done.error) == (SUCCEEDED, 30, 30, None)
    records = await recorded(world, job["id"])
    assert set(records) == {f"job-{job['id']}-{n}" for n in range(1, 31)}  # each row exactly once
    assert all(p.outcome == "served" for p in records.values())


async def test_a_job_submitted_to_a_paused_service_waits(client: httpx.AsyncClient, world: World) -> None:
    key = world.user_with_key("carol", ["consumer"])
    world.service("echo")
    with world.ctx.uow() as s:
        registry.pause(s, world.actor(), "echo", "maintenance window")
    job = await submit(client, key, '{"x": 1}\n{"x": 2}\n', "jsonl")
    paused = await wait_for(world, job["id"], frozenset({PAUSED}))
    assert paused.rows_done == 0 and "maintenance window" in (paused.error or "")
    assert await recorded(world, job["id"]) == {}
    with world.ctx.uow() as s:
        registry.resume(s, world.actor(), "echo")
    assert (await wait_for(world, job["id"])).status == SUCCEEDED


async def test_a_revoked_key_stops_its_jobs(client: httpx.AsyncClient, world: World) -> None:
    key = world.user_with_key("carol", ["consumer"])
    world.service("echo")
    with world.ctx.uow() as s:
        registry.pause(s, world.actor(), "echo", "hold the job")
    job = await submit(client, key, '{"x": 1}\n', "jsonl")
    await wait_for(world, job["id"], frozenset({PAUSED}))
    with world.ctx.uow() as s:
        carol = auth.get_user(s, "carol")
        caller = auth.user_principal(carol)
        auth.revoke_key(s, world.actor(), caller, auth.list_keys(s, carol.id)[0].id)
        registry.resume(s, world.actor(), "echo")
    failed = await wait_for(world, job["id"])
    assert failed.status == FAILED and failed.error is not None
    assert failed.error.startswith("run_as_revoked:") and "was revoked" in failed.error
    assert await recorded(world, job["id"]) == {}


async def test_two_runners_score_each_row_once(client: httpx.AsyncClient, world: World) -> None:
    key = world.user_with_key("carol", ["consumer"])
    world.service("echo")
    second = JobRunner(world.ctx)
    second.start()
    try:
        jobs = [
            await submit(client, key, "x\n" + "".join(f"{i}\n" for i in range(25)), "csv") for _ in range(3)
        ]
        for job in jobs:
            assert (await wait_for(world, job["id"])).status == SUCCEEDED
            records = await recorded(world, job["id"])
            assert set(records) == {f"job-{job['id']}-{n}" for n in range(1, 26)}
    finally:
        await second.stop()


async def test_shutdown_hands_the_job_back_and_another_runner_resumes(
    client: httpx.AsyncClient, world: World
) -> None:
    key = world.user_with_key("carol", ["consumer"])
    gated_service(world)
    job = await submit(client, key, ROWS, "jsonl", slug="gated")
    await held()
    first = world.ctx.jobs
    stopping = asyncio.create_task(first.stop())  # as on server shutdown: calls in flight finish first
    await asyncio.sleep(0.05)
    models.GATE.set()
    await stopping
    handed_back = await anyio.to_thread.run_sync(job_read, world, job["id"])
    assert handed_back.status == QUEUED and handed_back.rows_done == 14
    assert len(await recorded(world, job["id"])) == 14

    successor = JobRunner(world.ctx)
    successor.start()
    try:
        done = await wait_for(world, job["id"])
        assert (done.status, done.succeeded) == (SUCCEEDED, 30)
        assert set(await recorded(world, job["id"])) == {f"job-{job['id']}-{n}" for n in range(1, 31)}
    finally:
        await successor.stop()
    assert first.current is None and handed_back.status != RUNNING
