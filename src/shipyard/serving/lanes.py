"""Admission per model version: bounded concurrency, a bounded queue, optional dynamic batching.

A lane is the only way a call reaches a model thread. It admits at most `max_concurrency` executions
at once (a batch counts as one); others wait in a queue of at most `max_queue` calls, for at most
`max_queue_wait_ms` or the caller's deadline; anything beyond is shed at once with `Shed` (503 with
Retry-After). A slot is held until the model thread really finishes, even when the caller has stopped
waiting (a timed-out local call cannot be interrupted): so a hung model fills its own lane and is shed,
instead of quietly eating every thread in the process.

Lanes live on one event loop (their queues are asyncio futures); `LaneSet` keeps one per version,
policy and loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from concurrent.futures import Future as ThreadFuture
from dataclasses import dataclass, field
from typing import Any, TypeVar

from shipyard.core.errors import ModelFailed, Shed, ShipyardError, Timeout, Unavailable
from shipyard.monitoring import cost
from shipyard.registry.loaders import ModelOutput, Runtime
from shipyard.serving.policy import BatchingPolicy, ConcurrencyPolicy, RetryPolicy

T = TypeVar("T")

# Failures of a remote runtime that are safe to try again: nothing reached the model, or it said so.
RETRYABLE_CODES = frozenset({"upstream_unavailable", "upstream_error"})


def is_remote(runtime: Runtime) -> bool:
    return bool(getattr(runtime, "remote", False))


def call_with_retries(fn: Callable[[], T], retry: RetryPolicy | None, give_up_at: float) -> T:
    """Run fn, retrying retryable upstream failures with jittered exponential back-off (in the thread)."""
    attempt = 0
    while True:
        try:
            return fn()
        except Unavailable as exc:
            if retry is None or exc.code not in RETRYABLE_CODES or attempt >= retry.attempts:
                exc.extra["attempts"] = attempt + 1
                raise
            delay = min(retry.max_backoff_ms, retry.backoff_ms * 2**attempt) / 1000
            delay *= random.uniform(0.5, 1.0)  # workers that lost the same endpoint do not retry in step
            if time.monotonic() + delay >= give_up_at:
                exc.extra["attempts"] = attempt + 1
                raise
            time.sleep(delay)
            attempt += 1


def _run_batch(
    runtime: Runtime, batch: list[Any], retry: RetryPolicy | None, give_up_at: float
) -> list[ModelOutput | BaseException]:
    """One vectorised call; if it fails, each item alone, so one bad input fails only itself. A remote
    runtime's items are retried under the retry policy, as single calls are."""
    if is_remote(runtime):
        return _predict_batch(runtime, batch, retry, give_up_at)
    start = time.thread_time()
    results = _predict_batch(runtime, batch, None, give_up_at)
    return cost.share_cpu(results, time.thread_time() - start)


def _predict_batch(
    runtime: Runtime, batch: list[Any], retry: RetryPolicy | None, give_up_at: float
) -> list[ModelOutput | BaseException]:
    try:
        outputs = call_with_retries(lambda: runtime.predict_batch(batch), retry, give_up_at)
        if len(outputs) != len(batch):
            raise ModelFailed(f"the model returned {len(outputs)} results for a batch of {len(batch)}")
        return list(outputs)
    except Exception as exc:
        if len(batch) == 1:
            return [exc]
    results: list[ModelOutput | BaseException] = []
    for inputs in batch:
        try:
            results.append(call_with_retries(functools.partial(runtime.predict, inputs), retry, give_up_at))
        except Exception as exc:
            results.append(exc)
    return results


@dataclass
class _Item:
    inputs: Any
    future: asyncio.Future[ModelOutput]
    enqueued: float
    deadline: float | None


@dataclass
class LaneStats:
    in_flight: int
    queued: int
    shed_total: int
    batches_total: int
    batched_items_total: int
    max_concurrency: int
    max_queue: int
    batching: bool


@dataclass
class Lane:
    label: str
    executor: Executor
    concurrency: ConcurrencyPolicy
    batching: BatchingPolicy | None
    slo_ms: int
    on_shed: Callable[[str], None] = lambda reason: None
    # a batch finished: its size, how long its oldest input waited for it to start, its model time
    on_batch_done: Callable[[int, float, float], None] = lambda size, waited_s, model_s: None
    _active: int = 0
    _waiters: deque[asyncio.Future[None]] = field(default_factory=deque)
    _pending: deque[_Item] = field(default_factory=deque)
    _timer: asyncio.TimerHandle | None = None
    _runtime: Runtime | None = None
    _retry: RetryPolicy | None = None
    _timeout_s: float = 0.0
    shed_total: int = 0
    batches_total: int = 0
    batched_items_total: int = 0

    @property
    def queue_wait_s(self) -> float:
        ms = self.concurrency.max_queue_wait_ms or max(1, self.slo_ms // 2)
        return ms / 1000

    def stats(self) -> LaneStats:
        return LaneStats(
            in_flight=self._active,
            queued=len(self._waiters) + len(self._pending),
            shed_total=self.shed_total,
            batches_total=self.batches_total,
            batched_items_total=self.batched_items_total,
            max_concurrency=self.concurrency.max_concurrency,
            max_queue=self.concurrency.max_queue,
            batching=self.batching is not None,
        )

    def _shed(self, reason: str, detail: str) -> Shed:
        self.shed_total += 1
        self.on_shed(reason)
        # Retry-After: roughly one queue's worth of waiting, at least a second (it is whole seconds).
        return Shed(detail, code="shed" if reason != "deadline" else "deadline_exceeded", retry_after=1)

    # -- one call at a time ---------------------------------------------------------------------

    async def call(
        self,
        runtime: Runtime,
        inputs: Any,
        *,
        timeout_s: float,
        deadline: float | None,
        retry: RetryPolicy | None,
    ) -> ModelOutput:
        """Run one input through the model under this lane's limits.

        Raises Shed when not admitted, Timeout when the model (or the caller's deadline) ran out of time,
        and whatever the runtime raised otherwise.
        """
        if self.batching is not None:
            return await self._call_batched(
                runtime, inputs, timeout_s=timeout_s, deadline=deadline, retry=retry
            )
        await self._acquire(deadline)
        budget, by_deadline = _budget(timeout_s, deadline)
        give_up_at = time.monotonic() + budget
        if is_remote(runtime):

            def work() -> ModelOutput:
                return call_with_retries(lambda: runtime.predict(inputs), retry, give_up_at)

        else:

            def work() -> ModelOutput:
                return cost.measured(runtime.predict, inputs)

        return await self._execute(work, budget, by_deadline)

    async def _acquire(self, deadline: float | None) -> None:
        if self._active < self.concurrency.max_concurrency and not self._waiters:
            self._active += 1
            return
        if len(self._waiters) >= self.concurrency.max_queue:
            raise self._shed(
                "queue_full",
                f"{self.label} is at capacity ({self._active} running, {len(self._waiters)} waiting); "
                "retry shortly",
            )
        wait = self.queue_wait_s
        if deadline is not None:
            wait = min(wait, deadline - time.monotonic())
        if wait <= 0:
            raise self._shed("deadline", f"{self.label}: the caller's deadline passed before a slot freed")
        slot: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(slot)
        try:
            await asyncio.wait_for(slot, wait)
        except TimeoutError:
            if slot.done() and not slot.cancelled():
                return  # handed a slot at the last moment: it is ours
            with contextlib.suppress(ValueError):
                self._waiters.remove(slot)
            reason = "deadline" if deadline is not None and time.monotonic() >= deadline else "queue_wait"
            raise self._shed(
                reason, f"{self.label}: no slot freed within {wait * 1000:.0f} ms; retry shortly"
            ) from None
        except asyncio.CancelledError:
            if slot.done() and not slot.cancelled():
                self._release()
            raise

    def _release(self) -> None:
        while self._waiters:
            slot = self._waiters.popleft()
            if not slot.done():
                slot.set_result(None)  # the slot passes straight to the next waiter
                return
        self._active -= 1

    async def _execute(
        self, work: Callable[[], ModelOutput], budget: float, by_deadline: bool
    ) -> ModelOutput:
        loop = asyncio.get_running_loop()
        try:
            job = self.executor.submit(work)
        except RuntimeError:  # the executor is shutting down
            self._release()
            raise Unavailable("the server is shutting down", code="shutting_down", retry_after=1) from None
        job.add_done_callback(lambda _: _call_soon(loop, self._release))
        try:
            return await asyncio.wait_for(asyncio.wrap_future(job, loop=loop), budget)
        except TimeoutError:
            raise _timed_out(self.label, budget, by_deadline) from None

    # -- dynamic batching -----------------------------------------------------------------------

    @property
    def _pending_cap(self) -> int:
        assert self.batching is not None
        return max(self.concurrency.max_queue, self.batching.max_batch_size)

    async def _call_batched(
        self,
        runtime: Runtime,
        inputs: Any,
        *,
        timeout_s: float,
        deadline: float | None,
        retry: RetryPolicy | None,
    ) -> ModelOutput:
        assert self.batching is not None
        if len(self._pending) >= self._pending_cap:
            raise self._shed(
                "queue_full", f"{self.label} is at capacity ({len(self._pending)} waiting); retry shortly"
            )
        loop = asyncio.get_running_loop()
        item = _Item(inputs, loop.create_future(), time.monotonic(), deadline)
        self._pending.append(item)
        # The lane serves one version under one policy, so these are the same for every item.
        self._runtime, self._retry, self._timeout_s = runtime, retry, timeout_s
        if len(self._pending) >= self.batching.max_batch_size:
            self._flush(full_only=True)
        if self._pending and self._timer is None:
            self._timer = loop.call_later(self.batching.max_wait_ms / 1000, self._on_timer)
        budget, by_deadline = _budget(timeout_s, deadline)
        try:
            return await asyncio.wait_for(item.future, budget)
        except TimeoutError:
            if item in self._pending:  # never started: dropped, not computed
                self._pending.remove(item)
                raise self._shed(
                    "deadline" if by_deadline else "queue_wait",
                    f"{self.label}: not started within {budget * 1000:.0f} ms; retry shortly",
                ) from None
            raise _timed_out(self.label, budget, by_deadline) from None

    def _on_timer(self) -> None:
        self._timer = None
        self._flush(full_only=False)

    def _flush(self, *, full_only: bool) -> None:
        assert self.batching is not None
        size = self.batching.max_batch_size
        while self._pending and self._active < self.concurrency.max_concurrency:
            if full_only and len(self._pending) < size:
                break
            batch = self._take(size)
            if batch:
                self._dispatch(batch)
        if self._timer is not None and not self._pending:
            self._timer.cancel()
            self._timer = None

    def _take(self, size: int) -> list[_Item]:
        now, batch = time.monotonic(), list[_Item]()
        limit = self.queue_wait_s
        while self._pending and len(batch) < size:
            item = self._pending.popleft()
            if item.future.done():  # the caller gave up
                continue
            if item.deadline is not None and now >= item.deadline:
                item.future.set_exception(self._shed("deadline", f"{self.label}: deadline passed in queue"))
            elif now - item.enqueued > limit:
                item.future.set_exception(
                    self._shed(
                        "queue_wait", f"{self.label}: waited over {limit * 1000:.0f} ms; retry shortly"
                    )
                )
            else:
                batch.append(item)
        return batch

    def _dispatch(self, batch: list[_Item]) -> None:
        loop = asyncio.get_running_loop()
        runtime = self._runtime
        assert runtime is not None
        self._active += 1
        self.batches_total += 1
        self.batched_items_total += len(batch)
        started = time.monotonic()
        try:
            give_up_at = started + self._timeout_s
            job = self.executor.submit(
                _run_batch, runtime, [item.inputs for item in batch], self._retry, give_up_at
            )
        except RuntimeError:
            self._active -= 1
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(
                        Unavailable("the server is shutting down", code="shutting_down", retry_after=1)
                    )
            return
        waited = started - min(item.enqueued for item in batch)
        # the model time is taken in the worker thread, so a busy event loop does not count in it
        job.add_done_callback(
            lambda j: _call_soon(loop, self._batch_done, batch, j, waited, time.monotonic() - started)
        )

    def _batch_done(
        self,
        batch: list[_Item],
        job: ThreadFuture[list[ModelOutput | BaseException]],
        waited_s: float,
        model_s: float,
    ) -> None:
        self._active -= 1
        self.on_batch_done(len(batch), waited_s, model_s)
        try:
            results: list[ModelOutput | BaseException] = job.result()
        except BaseException as exc:  # _run_batch catches model errors; this is the executor failing
            results = [exc] * len(batch)
        for item, result in zip(batch, results, strict=True):
            if item.future.done():
                continue
            if isinstance(result, BaseException):
                item.future.set_exception(result)
            else:
                item.future.set_result(result)
        self._after_batch()

    def _after_batch(self) -> None:
        assert self.batching is not None
        if not self._pending:
            return
        waited = time.monotonic() - self._pending[0].enqueued
        if len(self._pending) >= self.batching.max_batch_size or waited >= self.batching.max_wait_ms / 1000:
            self._flush(full_only=False)
        elif self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self.batching.max_wait_ms / 1000 - waited, self._on_timer)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def _budget(timeout_s: float, deadline: float | None) -> tuple[float, bool]:
    """Seconds to wait for the model, and whether the caller's deadline (not the timeout) set it."""
    if deadline is None:
        return timeout_s, False
    left = deadline - time.monotonic()
    return (left, True) if left < timeout_s else (timeout_s, False)


def _timed_out(label: str, budget: float, by_deadline: bool) -> ShipyardError:
    if by_deadline:
        return Timeout(
            f"{label}: the caller's deadline passed before the model answered", code="deadline_exceeded"
        )
    return Timeout(f"{label} did not answer within {budget:g} s")


def _call_soon(loop: asyncio.AbstractEventLoop, fn: Callable[..., Any], *args: Any) -> None:
    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
        loop.call_soon_threadsafe(fn, *args)


class LaneSet:
    """One lane per (version, concurrency and batching policy, event loop)."""

    def __init__(self, executor: Callable[[], Executor]) -> None:
        self._executor = executor
        self._lanes: dict[tuple[str, int], Lane] = {}

    def get(
        self,
        version_id: str,
        label: str,
        concurrency: ConcurrencyPolicy,
        batching: BatchingPolicy | None,
        slo_ms: int,
        **hooks: Any,
    ) -> Lane:
        key = (version_id, id(asyncio.get_running_loop()))
        lane = self._lanes.get(key)
        if lane is not None and lane.concurrency is concurrency and lane.batching is batching:
            if lane.slo_ms == slo_ms:  # the usual case: the same cached policy objects
                return lane
        if (
            lane is None
            or lane.concurrency != concurrency
            or lane.batching != batching
            or lane.slo_ms != slo_ms
        ):
            # A policy change starts a fresh lane; calls inside the old one finish there.
            lane = Lane(label, self._executor(), concurrency, batching, slo_ms, **hooks)
            self._lanes[key] = lane
        return lane

    def for_version(self, version_id: str) -> list[Lane]:
        return [lane for (vid, _), lane in self._lanes.items() if vid == version_id]

    def close(self) -> None:
        for lane in self._lanes.values():
            lane.close()
        self._lanes.clear()
