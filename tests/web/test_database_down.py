"""With the database gone, the hot path keeps serving from cache, and a cache miss is a clear 503."""

from __future__ import annotations

import asyncio
from pathlib import Path

import anyio.to_thread
import httpx
import pytest
from sqlalchemy import select

from shipyard.db.migrate import upgrade
from shipyard.serving.models import Prediction
from tests.factories import World, bearer


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """SQLite only: the test takes the database away by moving its file."""
    url = f"sqlite:///{tmp_path / 'shipyard.db'}"
    upgrade(url)
    return url


def move(folder: Path, name: str, to: str) -> None:
    """Move a SQLite database with its write-ahead log."""
    for suffix in ("", "-wal", "-shm"):
        if (folder / f"{name}{suffix}").exists():
            (folder / f"{name}{suffix}").rename(folder / f"{to}{suffix}")


async def test_cached_calls_still_serve_and_a_miss_is_503(
    client: httpx.AsyncClient, world: World, tmp_path: Path
) -> None:
    key = world.user_with_key("carol", ["consumer"])
    world.service("echo")
    warm = await client.post("/v1/services/echo/invoke", json={"inputs": {"x": 1}}, headers=bearer(key))
    assert warm.status_code == 200

    world.ctx.engine.dispose()
    move(tmp_path, "shipyard.db", "elsewhere.db")  # the database is gone
    served = await client.post("/v1/services/echo/invoke", json={"inputs": {"x": 2}}, headers=bearer(key))
    assert served.status_code == 200 and served.json()["output"] == 4  # from cache, into the spool

    world.ctx.services.invalidate()  # e.g. a change arrived just before the outage
    miss = await client.post("/v1/services/echo/invoke", json={"inputs": {"x": 3}}, headers=bearer(key))
    assert miss.status_code == 503 and miss.json()["code"] == "database_unavailable"
    assert miss.headers["retry-after"] == "5"
    for _ in range(100):  # the shipper tries on its own schedule
        ready = await client.get("/readyz")
        if "shipping" in ready.json():
            break
        await asyncio.sleep(0.05)
    assert ready.status_code == 200 and ready.json()["status"] == "degraded"
    # The shipper keeps retrying and says why; SQLite reports a moved file as a missing table or a
    # disk I/O error depending on timing, so only the kind of failure is pinned down.
    assert "OperationalError" in ready.json()["shipping"]

    # The database comes back: the spool drains and the calls served meanwhile are on record.
    for leftover in tmp_path.glob("shipyard.db*"):  # what SQLite created meanwhile
        leftover.unlink()
    move(tmp_path, "elsewhere.db", "shipyard.db")
    world.ctx.engine.dispose()  # SQLite's pooled connections still hold the empty file made meanwhile
    assert await anyio.to_thread.run_sync(world.ctx.shipper.flush)
    with world.ctx.sessions() as s:
        ids = set(s.scalars(select(Prediction.request_id)))
    assert {warm.json()["request_id"], served.json()["request_id"]} <= ids
