"""Redis goes away under load, then goes silent (accepts connections, never answers), with a per-caller
rate limit putting it on the hot path. Calls never hang and are only ever served or rate limited (429);
the limits fall back to the process while Redis is gone and are shared through Redis again after."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from tests.faults.harness import Instance, Load, assert_clean
from tests.faults.servers import PrivateRedis

pytestmark = pytest.mark.slow

LIMIT = 60  # per caller per minute: a burst of 60, then one a second


def _wait_until(condition: Callable[[], bool], what: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout_s} s"
        time.sleep(0.05)


def test_redis_stopped_or_silent_mid_load(private_redis: PrivateRedis, tmp_path: Path) -> None:
    instance = Instance(tmp_path / "instance")
    instance.service(
        "limited", "tests.factories:double", policy={"rate_limit": {"per_caller_per_minute": LIMIT}}
    )
    server = instance.serve(tmp_path / "server.log", SHIPYARD_REDIS_URL=private_redis.url)
    probe = redis.Redis(port=private_redis.port, socket_timeout=1)

    def shared() -> bool:
        """Rate-limit decisions are being made in Redis (its keys exist)."""
        try:
            return bool(probe.keys("shipyard:rl:*"))
        except redis.RedisError:
            return False

    try:
        load = Load(server.url, instance.consumer_key, "limited", clients=4, pause_s=0.01)
        with load:
            load.wait_for(LIMIT + 30)  # past the burst
            assert shared()
            private_redis.freeze()  # the nastier fault first: connections hang instead of failing
            load.phase = "redis silent"
            load.wait_for(60, lambda r: r.phase == "redis silent")

            private_redis.stop()
            load.phase = "redis stopped"
            load.wait_for(60, lambda r: r.phase == "redis stopped")

            private_redis.start()  # empty: nothing persisted
            load.phase = "redis back"
            _wait_until(shared, "the limiter using the restarted Redis")
            load.wait_for(20, lambda r: r.phase == "redis back")
        replies = load.stop()

        # No hang (every call answered within the client's timeout), nothing but 200 and 429.
        seen = assert_clean(replies, instance.database_url, codes=("rate_limited",))
        assert set(seen) == {"200 served", "429 rate_limited"}, seen
        assert {r.phase for r in replies} == {"start", "redis silent", "redis stopped", "redis back"}
        assert {r.kind for r in replies if r.phase == "start"} == {"200 served", "429 rate_limited"}
        # Without Redis the process decides alone, from a fresh allowance: calls were served, not refused.
        assert any(r.status == 200 for r in replies if r.phase == "redis silent")
        server.assert_healthy()
    finally:
        probe.close()
        server.stop()
