"""Rate limits: the GCRA arithmetic in process, shared through the real Redis, and Redis going away."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import redis

from shipyard.core.clock import FrozenClock
from shipyard.core.errors import InvalidInput
from shipyard.guard.ratelimit import RateDecision, RateLimiter
from tests.faults.servers import PrivateRedis
from tests.servers import accept_all, black_hole, free_port

SHARED_REDIS = "redis://127.0.0.1:6379/15"
LOGGER = "shipyard.guard.ratelimit"


@pytest.fixture
async def local(clock: FrozenClock) -> AsyncIterator[RateLimiter]:
    limiter = RateLimiter(None, clock=clock)
    yield limiter
    await limiter.close()


@pytest.fixture
def prefix() -> Iterator[str]:
    """A key prefix of this test's own on the machine's Redis; its keys are deleted afterwards."""
    value = f"test:rl:{uuid.uuid4().hex}:"
    yield value
    client = redis.Redis.from_url(SHARED_REDIS)
    try:
        keys = list(client.scan_iter(match=value + "*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def _warnings(caplog: pytest.LogCaptureFixture, level: int = logging.WARNING) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == level]


async def test_a_burst_up_to_the_limit_then_a_denial_with_retry_after(local: RateLimiter) -> None:
    decisions = [await local.hit("svc:ada", 3) for _ in range(4)]
    assert decisions[:3] == [
        RateDecision(allowed=True, limit=3, remaining=r, retry_after_s=0, shared=False) for r in (2, 1, 0)
    ]
    # 3 a minute is one every 20 s; the burst spent the allowance, so the next is 20 s away.
    assert decisions[3] == RateDecision(allowed=False, limit=3, remaining=0, retry_after_s=20, shared=False)
    assert not local.degraded


async def test_retry_after_rounds_up_to_whole_seconds(local: RateLimiter, clock: FrozenClock) -> None:
    for _ in range(7):
        assert (await local.hit("k", 7)).allowed
    assert (await local.hit("k", 7)).retry_after_s == 9  # 60/7 = 8.57 s
    clock.advance(seconds=8.5)
    assert (await local.hit("k", 7)).retry_after_s == 1  # not 0: 0.07 s is still to wait
    clock.advance(seconds=0.1)
    assert (await local.hit("k", 7)).allowed


async def test_the_window_slides(local: RateLimiter, clock: FrozenClock) -> None:
    for _ in range(3):
        await local.hit("k", 3)
    clock.advance(seconds=19)
    assert (await local.hit("k", 3)).retry_after_s == 1
    clock.advance(seconds=1)
    assert (await local.hit("k", 3)) == RateDecision(True, 3, 0, 0, False)  # one more, 20 s on
    assert not (await local.hit("k", 3)).allowed
    clock.advance(seconds=60)
    assert [(await local.hit("k", 3)).allowed for _ in range(4)] == [True, True, True, False]


async def test_no_doubling_up_at_a_minute_boundary(local: RateLimiter, clock: FrozenClock) -> None:
    clock.advance(seconds=59.5)
    assert all([(await local.hit("k", 60)).allowed for _ in range(60)])
    clock.advance(seconds=1)  # a fixed window would start afresh here and allow 60 more
    assert [(await local.hit("k", 60)).allowed for _ in range(60)].count(True) == 1


async def test_callers_are_counted_apart(local: RateLimiter) -> None:
    assert (await local.hit("svc:ada", 1)).allowed
    assert not (await local.hit("svc:ada", 1)).allowed
    assert (await local.hit("svc:bob", 1)).allowed
    assert (await local.hit("other:ada", 1)).allowed


async def test_a_clock_that_jumps_back_costs_at_most_one_window(
    local: RateLimiter, clock: FrozenClock
) -> None:
    for _ in range(2):
        await local.hit("k", 2)
    clock.advance(hours=-3)
    assert 0 < (await local.hit("k", 2)).retry_after_s <= 60


@pytest.mark.parametrize(("limit", "window_s"), [(0, 60), (-1, 60), (5, 0)])
async def test_a_nonsense_limit_is_refused(local: RateLimiter, limit: int, window_s: int) -> None:
    with pytest.raises(InvalidInput) as err:
        await local.hit("k", limit, window_s)
    assert err.value.code == "invalid_rate_limit"


def test_a_bad_redis_url_is_refused() -> None:
    with pytest.raises(InvalidInput) as err:
        RateLimiter("http://127.0.0.1:6379/0")
    assert err.value.code == "invalid_redis_url"


async def test_idle_callers_are_forgotten(local: RateLimiter, clock: FrozenClock) -> None:
    for n in range(5000):
        await local.hit(f"first:{n}", 10, window_s=1)
    clock.advance(seconds=2)
    for n in range(5000):
        await local.hit(f"second:{n}", 10, window_s=1)
    assert local.local_keys <= 5000  # every idle first:* key is gone


async def test_a_flood_of_distinct_callers_stays_bounded(clock: FrozenClock) -> None:
    limiter = RateLimiter(None, clock=clock, local_max_keys=100)
    for n in range(10_000):
        assert (await limiter.hit(f"caller:{n}", 5)).allowed
    assert limiter.local_keys <= 100
    assert (await limiter.hit("caller:9999", 5)).remaining == 3  # recent callers are still counted


async def test_two_workers_share_one_allowance_through_redis(prefix: str) -> None:
    a, b = RateLimiter(SHARED_REDIS, prefix=prefix), RateLimiter(SHARED_REDIS, prefix=prefix)
    try:
        assert [(await a.hit("svc:ada", 3)).remaining, (await b.hit("svc:ada", 3)).remaining] == [2, 1]
        assert await a.hit("svc:ada", 3) == RateDecision(True, 3, 0, 0, shared=True)
        denied = await b.hit("svc:ada", 3)
        assert not denied.allowed and denied.shared and 1 <= denied.retry_after_s <= 20
        assert (await b.hit("svc:bob", 3)).allowed
        client = redis.Redis.from_url(SHARED_REDIS)
        try:
            assert 0 < client.pttl(prefix + "svc:ada") <= 60_000  # Redis forgets idle callers too
        finally:
            client.close()
        assert not a.degraded and not b.degraded
    finally:
        await a.close()
        await b.close()


async def test_the_shared_window_slides(prefix: str) -> None:
    limiter = RateLimiter(SHARED_REDIS, prefix=prefix)
    try:
        assert [(await limiter.hit("k", 2, window_s=1)).allowed for _ in range(3)] == [True, True, False]
        while not (decision := await limiter.hit("k", 2, window_s=1)).allowed:
            assert decision.retry_after_s == 1 and decision.shared
        assert decision.shared
    finally:
        await limiter.close()


async def test_nothing_listening_means_per_process_limits_and_one_warning(
    clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    limiter = RateLimiter(f"redis://:secret@127.0.0.1:{free_port()}/0", clock=clock)
    try:
        decisions = [await limiter.hit("k", 3) for _ in range(50)]
        assert [d.allowed for d in decisions] == [True] * 3 + [False] * 47
        assert not any(d.shared for d in decisions) and limiter.degraded
        assert decisions[3].retry_after_s == 20
        warnings = _warnings(caplog)
        assert len(warnings) == 1 and "per process" in warnings[0] and "secret" not in warnings[0]
    finally:
        await limiter.close()


async def test_a_black_holed_redis_is_tried_once_per_retry_interval(clock: FrozenClock) -> None:
    # A listening socket that never answers: connections are accepted by the kernel and go nowhere.
    with black_hole() as hole:
        port = hole.getsockname()[1]
        limiter = RateLimiter(f"redis://127.0.0.1:{port}/0", clock=clock, timeout_s=0.1, redis_retry_s=5)
        try:
            for _ in range(30):
                assert not (await limiter.hit("k", 100)).shared
            assert limiter.degraded and accept_all(hole) == 1  # only the first call tried Redis
            clock.advance(seconds=5)
            for _ in range(30):
                await limiter.hit("k", 100)
            assert accept_all(hole) == 1  # one more try after the interval, by one call
        finally:
            await limiter.close()


async def test_redis_dying_and_coming_back(
    private_redis: PrivateRedis, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    limiter = RateLimiter(private_redis.url, clock=clock, redis_retry_s=5)
    try:
        assert (await limiter.hit("k", 5)).shared and not limiter.degraded
        private_redis.kill()
        after = [await limiter.hit("k", 5) for _ in range(10)]
        assert not any(d.shared for d in after) and limiter.degraded
        # The process's own allowance starts fresh: it never saw the call Redis counted.
        assert [d.allowed for d in after] == [True] * 5 + [False] * 5
        private_redis.start()
        assert not (await limiter.hit("k", 5)).shared  # not retried before the interval is up
        clock.advance(seconds=5)
        back = await limiter.hit("k", 5)
        assert back.shared and back.allowed and not limiter.degraded
        assert len(_warnings(caplog)) == 1
        assert [m for m in _warnings(caplog, logging.INFO) if "back" in m] != []
    finally:
        await limiter.close()
