"""The spool's size cap: each service's policy decides between refusing calls and answering unrecorded."""

from __future__ import annotations

import anyio.to_thread
import httpx
import pytest

from shipyard.core.config import Settings
from tests.factories import World
from tests.serving.test_resilience import invoke, metric, owner_key


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A tiny spool cap, so the tests can fill it by stopping the shipper."""
    return settings.model_copy(
        update={"recorder": settings.recorder.model_copy(update={"max_spool_bytes": 1})}
    )


async def test_a_full_spool_fails_closed_by_default(client: httpx.AsyncClient, world: World) -> None:
    key = owner_key(world)
    world.service("echo", owner="olive")
    await anyio.to_thread.run_sync(world.ctx.shipper.stop)
    assert (await invoke(client, key, {"x": 1})).status_code == 200  # fills the 1-byte cap
    r = await invoke(client, key, {"x": 1})
    assert r.status_code == 503 and r.json()["code"] == "recorder_unavailable"
    assert r.headers["retry-after"] == "5"
    ready = (await client.get("/readyz")).json()
    assert ready["recorder"] == "full" and ready["status"] == "degraded"


async def test_a_full_spool_keeps_serving_when_the_policy_says_so(
    client: httpx.AsyncClient, world: World
) -> None:
    key = owner_key(world)
    world.service("echo", owner="olive")
    world.policy("echo", {"on_recorder_full": "serve"})
    dropped_before = metric("shipyard_records_dropped_total", service="echo")
    await anyio.to_thread.run_sync(world.ctx.shipper.stop)
    for _ in range(3):
        assert (await invoke(client, key, {"x": 1})).status_code == 200
    assert world.ctx.spool.backlog() == 1  # only the first call fitted
    assert metric("shipyard_records_dropped_total", service="echo") - dropped_before == 2
    assert "over its cap" in (await client.get("/readyz")).json()["recorder_trouble"]


async def test_a_call_it_would_hold_is_refused_even_when_the_policy_keeps_serving(
    client: httpx.AsyncClient, world: World
) -> None:
    key = owner_key(world)
    world.service("echo", owner="olive")
    world.policy("echo", {"on_recorder_full": "serve", "review": {"low_confidence": 0.5}})
    await anyio.to_thread.run_sync(world.ctx.shipper.stop)
    assert (await invoke(client, key, {"x": 1})).status_code == 200  # fills the 1-byte cap
    assert (await invoke(client, key, {"x": 1})).status_code == 200  # answered, unrecorded
    # A held answer exists only in its record: without one no reviewer could ever release it.
    r = await invoke(client, key, {"x": 500})
    assert r.status_code == 503 and r.json()["code"] == "recorder_unavailable"
