"""Per-caller rate limits, shared by every worker through Redis and per process without it.

The algorithm is GCRA (see `gcra.py`): one number per caller, exact Retry-After, and no window
boundary a caller could double up at. With Redis, one EVALSHA decides each call atomically on Redis's
clock. If Redis errs or times out, calls are decided by this process alone (so with N workers a
caller may get up to N times its limit) until Redis answers again; one warning marks the fall and
one info line the return, and Redis is tried again at most every `redis_retry_s`, by one call.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from shipyard.core.clock import Clock
from shipyard.core.errors import InvalidInput
from shipyard.guard.gcra import LUA, US, LocalGcra, Verdict

log = logging.getLogger(__name__)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    retry_after_s: int  # 0 when allowed
    shared: bool  # True when Redis decided, False when the per-process fallback did


class RateLimiter:
    """`await limiter.hit(f"{service}:{caller}", limit)`; raise `RateLimited` when it says no."""

    def __init__(
        self,
        redis_url: str | None,
        *,
        clock: Clock | None = None,
        prefix: str = "shipyard:rl:",
        timeout_s: float = 0.25,
        redis_retry_s: float = 5.0,
        local_max_keys: int = 100_000,
    ) -> None:
        self._clock = clock or Clock()
        self._prefix = prefix
        self._timeout_s = timeout_s
        self._retry = timedelta(seconds=redis_retry_s)
        self._local = LocalGcra(local_max_keys)
        self._redis: aioredis.Redis | None = None
        self._script: Any = None
        self._where = ""
        self._down_since: datetime | None = None
        self._next_try: datetime | None = None
        if redis_url:
            try:
                self._redis = aioredis.Redis.from_url(
                    redis_url,
                    socket_connect_timeout=timeout_s,
                    socket_timeout=timeout_s,
                    retry=Retry(NoBackoff(), 0),  # the fallback is our retry; never stack waits
                )
            except ValueError as exc:
                raise InvalidInput(f"not a Redis URL: {exc}", code="invalid_redis_url") from exc
            kwargs = self._redis.connection_pool.connection_kwargs
            self._where = f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}"  # never the password
            self._script = self._redis.register_script(LUA)

    @property
    def degraded(self) -> bool:
        """True while Redis is configured but unreachable, and limits are per process."""
        return self._down_since is not None

    @property
    def local_keys(self) -> int:
        """Callers the per-process limiter is tracking now (bounded; idle ones are dropped)."""
        return len(self._local)

    async def hit(self, key: str, limit: int, window_s: int = 60) -> RateDecision:
        """Count one call by `key` against `limit` calls per `window_s` seconds."""
        if limit < 1 or window_s < 1:
            raise InvalidInput(
                f"a rate limit needs limit >= 1 and window_s >= 1 (got {limit} per {window_s} s)",
                code="invalid_rate_limit",
            )
        window_us = window_s * US
        if self._script is not None and self._redis_worth_trying():
            try:
                async with asyncio.timeout(self._timeout_s * 4):  # EVALSHA + a SCRIPT LOAD at worst
                    allowed, remaining, retry_us = await self._script(
                        keys=[self._prefix + key], args=[limit, window_us]
                    )
            except (RedisError, OSError, TimeoutError) as exc:
                self._fell(exc)
            else:
                self._back()
                return _decision(Verdict(bool(allowed), int(remaining), int(retry_us)), limit, shared=True)
        now = (self._clock.now() - _EPOCH) // _MICROSECOND
        return _decision(self._local.hit(key, limit, window_us, now), limit, shared=False)

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()

    def _redis_worth_trying(self) -> bool:
        if self._down_since is None or self._next_try is None:
            return True
        now = self._clock.now()
        # A clock that jumped back must not postpone the retry by the size of the jump.
        if now >= self._next_try or now < self._down_since:
            self._next_try = now + self._retry  # the calls racing this one stay local meanwhile
            return True
        return False

    def _fell(self, exc: BaseException) -> None:
        now = self._clock.now()
        self._next_try = now + self._retry
        if self._down_since is None:
            self._down_since = now
            log.warning(
                "Redis at %s is unreachable (%s); rate limits are per process until it is back",
                self._where,
                exc.__class__.__name__ + (f": {exc}" if str(exc) else ""),
            )

    def _back(self) -> None:
        if self._down_since is not None:
            log.info("Redis at %s is back; rate limits are shared again", self._where)
            self._down_since = None
            self._next_try = None


def _decision(verdict: Verdict, limit: int, *, shared: bool) -> RateDecision:
    retry_after_s = 0 if verdict.allowed else max(1, -(-verdict.retry_us // US))
    return RateDecision(verdict.allowed, limit, verdict.remaining, retry_after_s, shared)
