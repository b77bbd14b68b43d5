"""Scoring a job's rows through the invoke path: a few in flight, refusals waited out, ids kept stable.

Each row's request id is deterministic (job, row, attempt), so a row scored again after a crash is
recorded once. When the invoke path turns a row away (shed, rate-limited, unavailable) that refusal is
on record under the id, so the row's next call takes the next attempt number, written down first.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
from dataclasses import dataclass
from typing import Any

import anyio.to_thread

from shipyard.auth.principal import Principal
from shipyard.batchjobs import leases
from shipyard.batchjobs import service as jobs
from shipyard.batchjobs.leases import Claimed
from shipyard.core.errors import Paused, RateLimited, ShipyardError, Timeout, Unavailable
from shipyard.registry.cache import ServiceConfig
from shipyard.serving.service import invoke
from shipyard.web.context import AppContext

log = logging.getLogger(__name__)

# Refusals that only mean "not now, you are too many": waited out however long they last.
_BACKPRESSURE = frozenset({"shed", "rate_limited"})


@dataclass(frozen=True)
class Scored:
    outcome: str  # served, fallback, abstained, held_for_review, ...
    request_id: str
    attempt: int


@dataclass(frozen=True)
class Failed:
    """The row's own answer was an error (schema, model, timeout): a dead letter."""

    code: str
    reason: str
    request_id: str | None
    attempt: int


@dataclass(frozen=True)
class Blocked:
    """The service is paused or has no live version: no row can be scored until a person acts."""

    reason: str


class Stopped:
    """The runner is stopping, the job was cancelled, or another runner took it over."""


Outcome = Scored | Failed | Blocked | Stopped


def blocked_reason(config: ServiceConfig) -> str | None:
    """Why no row of this service can be scored now, or None."""
    if config.paused:
        return f"{config.slug} is paused by {config.paused_by}: {config.paused_reason}"
    if config.live is None:
        return f"{config.slug} has no live version"
    return None


def is_transient(exc: ShipyardError) -> bool:
    """Shed, rate-limited, paused or otherwise unavailable: try the row again later. A timeout is the
    model's answer for that row, like a schema violation or a model error: a dead letter."""
    return isinstance(exc, Unavailable | RateLimited) and not isinstance(exc, Timeout)


def describe(exc: ShipyardError) -> str:
    """The error's detail, with each schema violation listed."""
    violations = exc.extra.get("errors")
    if not isinstance(violations, list) or not violations:
        return exc.detail
    listed = "; ".join(
        f"{v.get('loc', '')}: {v.get('message', '')}" for v in violations[:10] if isinstance(v, dict)
    )
    more = f" (and {len(violations) - 10} more)" if len(violations) > 10 else ""
    return f"{exc.detail}: {listed}{more}"


class RowScorer:
    """Scores rows of one claimed job as its submitter; `stop` ends the work between calls."""

    def __init__(
        self, ctx: AppContext, job: Claimed, principal: Principal, owner: str, stop: asyncio.Event
    ) -> None:
        self.ctx = ctx
        self.settings = ctx.settings.jobs
        self.job = job
        self.principal = principal
        self.owner = owner
        self.stop = stop

    async def score_all(self, todo: list[tuple[int, Any, int]], *, letter: bool = False) -> list[Outcome]:
        """(row, inputs, attempt) each, at most `concurrency` in flight; after a block or stop, start
        no more (the calls in flight finish). `letter`: these are dead letters being retried."""
        results: list[Outcome] = [Stopped()] * len(todo)
        indexes = iter(range(len(todo)))
        halt = False

        async def worker() -> None:
            nonlocal halt
            for i in indexes:
                if halt:
                    return
                number, inputs, attempt = todo[i]
                results[i] = await self.score(number, inputs, attempt, letter=letter)
                if isinstance(results[i], Blocked | Stopped):
                    halt = True

        await asyncio.gather(*(worker() for _ in range(min(self.settings.concurrency, len(todo)))))
        return results

    async def score(self, number: int, inputs: Any, attempt: int, *, letter: bool = False) -> Outcome:
        tries = failing = 0
        while True:
            if self.stop.is_set():
                return Stopped()
            config = await self.ctx.service_config(self.job.service)
            reason = blocked_reason(config)
            if reason:  # checked on the same config invoke reads, so no call is made (or recorded)
                return Blocked(reason)
            rid = jobs.request_id(self.job.id, number, attempt)
            try:
                result = await invoke(self.ctx, self.principal, config, inputs, rid)
            except ShipyardError as exc:
                if not is_transient(exc):
                    return Failed(exc.code, describe(exc), rid, attempt)
                attempt += 1
                if not await self._bump(number, attempt, letter):
                    self.stop.set()
                    return Stopped()
                if isinstance(exc, Paused):
                    return Blocked(exc.detail)
                tries += 1
                if exc.code not in _BACKPRESSURE:
                    failing += 1
                    if failing >= self.settings.max_failing_tries:
                        # Not backpressure but a fault that outlasted every retry: a dead letter to
                        # retry once it is fixed, instead of a job that stalls without a word.
                        reason = f"gave up after {failing} tries: {describe(exc)}"
                        return Failed(exc.code, reason, rid, attempt)
                if tries % 5 == 0:
                    log.warning(
                        "batch job %s row %d: still refused after %d tries: %s %s",
                        self.job.id,
                        number,
                        tries,
                        exc.code,
                        exc.detail,
                    )
                await self._backoff(tries, exc)
                continue
            except Exception as exc:  # a bug below must cost one row, not the job
                log.exception("batch job %s row %d: unexpected error", self.job.id, number)
                return Failed("internal_error", f"{type(exc).__name__}: {exc}", rid, attempt)
            return Scored(result.outcome, rid, attempt)

    async def _bump(self, number: int, attempt: int, letter: bool) -> bool:
        """Persist the row's next attempt before making it; False when the job's lease was lost."""
        bump = functools.partial(
            leases.bump,
            self.ctx.sessions,
            self.job.id,
            self.owner,
            self.ctx.clock.now(),
            self.settings.lease_s,
            number,
            attempt,
            letter=letter,
        )
        return await anyio.to_thread.run_sync(bump)

    async def _backoff(self, tries: int, exc: ShipyardError) -> None:
        delay = min(self.settings.backoff_max_s, self.settings.backoff_initial_s * 2 ** (tries - 1))
        retry_after = exc.extra.get("retry_after")
        if isinstance(retry_after, int | float) and retry_after > 0:
            delay = max(delay, min(float(retry_after), self.settings.backoff_max_s))
        delay *= random.uniform(0.5, 1.0)  # jitter, so rows pushed back together do not return together
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), delay)
