"""With Redis configured, a change made by one worker reaches the others at once, not by polling;
with Redis down, workers fall back to polling and nothing hangs."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from shipyard.core.config import Settings
from shipyard.web.app import create_app
from tests.factories import World, bearer

REDIS_URL = "redis://127.0.0.1:6379/0"


async def _instance(settings: Settings, **overrides: object) -> AsyncIterator[FastAPI]:
    app = create_app(settings.model_copy(update=overrides))
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def pair(settings: Settings) -> AsyncIterator[tuple[FastAPI, FastAPI]]:
    # Polling every 60 s: anything faster than that came through Redis.
    cache = settings.cache.model_copy(update={"poll_seconds": 60.0})
    first = _instance(settings, redis_url=REDIS_URL, cache=cache)
    a = await anext(first)
    second_settings = settings.model_copy(
        update={
            "recorder": settings.recorder.model_copy(
                update={"spool_dir": Path(str(settings.spool_dir) + "-b")}
            )
        }
    )
    second = _instance(second_settings, redis_url=REDIS_URL, cache=cache)
    b = await anext(second)
    yield a, b
    for gen in (second, first):
        with pytest.raises(StopAsyncIteration):
            await anext(gen)


async def test_a_pause_reaches_the_other_worker_through_redis(
    pair: tuple[FastAPI, FastAPI],
) -> None:
    a, b = pair
    world = World(a)
    admin = world.user_with_key("root", ["admin"])
    consumer = world.user_with_key("ada", ["consumer"])
    world.service("echo")
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=a), base_url="http://a") as ca,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=b), base_url="http://b") as cb,
    ):
        r = await cb.post("/v1/services/echo/invoke", json={"inputs": {"x": 1}}, headers=bearer(consumer))
        assert r.status_code == 200  # b has the service and the key cached now
        r = await ca.post("/v1/services/echo/pause", json={"reason": "incident 42"}, headers=bearer(admin))
        assert r.status_code == 200
        deadline = time.monotonic() + 5
        while True:
            r = await cb.post("/v1/services/echo/invoke", json={"inputs": {"x": 1}}, headers=bearer(consumer))
            if r.status_code == 503 or time.monotonic() > deadline:
                break
        assert r.status_code == 503 and r.json()["code"] == "paused" and "incident 42" in r.json()["detail"]


async def test_redis_down_falls_back_to_polling(settings: Settings) -> None:
    cache = settings.cache.model_copy(update={"poll_seconds": 0.2})
    started = time.monotonic()
    gen = _instance(settings, redis_url="redis://127.0.0.1:1/0", cache=cache)  # nothing listens there
    app = await anext(gen)
    assert time.monotonic() - started < 10  # starting does not hang on Redis
    world = World(app)
    key = world.user_with_key("ada", ["consumer"])
    world.service("echo")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://a") as c:
        r = await c.post("/v1/services/echo/invoke", json={"inputs": {"x": 2}}, headers=bearer(key))
        assert r.status_code == 200 and r.json()["output"] == 4
        with world.ctx.uow() as s:
            from shipyard.registry import service as registry

            registry.pause(s, world.actor(), "echo", "maintenance")
        r = await c.post("/v1/services/echo/invoke", json={"inputs": {"x": 2}}, headers=bearer(key))
        assert r.status_code == 503 and r.json()["code"] == "paused"
    with pytest.raises(StopAsyncIteration):
        await anext(gen)
