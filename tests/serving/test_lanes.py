"""Admission lanes: bounded concurrency and queue, shedding, deadlines, batching, retries."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from shipyard.core.errors import ModelFailed, Shed, Timeout, Unavailable
from shipyard.registry.loaders import ModelOutput
from shipyard.serving.lanes import Lane
from shipyard.serving.policy import BatchingPolicy, ConcurrencyPolicy, RetryPolicy


class Gate:
    """A model whose calls block until the test opens the gate."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.running = 0
        self.peak = 0
        self.calls = 0
        self._lock = threading.Lock()

    def predict(self, inputs: Any) -> ModelOutput:
        with self._lock:
            self.calls += 1
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            self.open.wait(10)
            return ModelOutput(inputs, None)
        finally:
            with self._lock:
                self.running -= 1

    def predict_batch(self, batch: list[Any]) -> list[ModelOutput]:
        return [self.predict(x) for x in batch]

    def close(self) -> None: ...


class Batcher:
    def __init__(self) -> None:
        self.sizes: list[int] = []

    def predict(self, inputs: Any) -> ModelOutput:
        if inputs == 13:
            raise ModelFailed("unlucky input")
        return ModelOutput(inputs * 2, None)

    def predict_batch(self, batch: list[Any]) -> list[ModelOutput]:
        self.sizes.append(len(batch))
        time.sleep(0.02)  # a batch takes a while, so the next one fills up meanwhile
        return [self.predict(x) for x in batch]

    def close(self) -> None: ...


class Flaky:
    """A remote runtime that fails `failures` times with `code`, then answers."""

    remote = True

    def __init__(self, failures: int, code: str = "upstream_error") -> None:
        self.failures = failures
        self.code = code
        self.calls = 0

    def predict(self, inputs: Any) -> ModelOutput:
        self.calls += 1
        if self.calls <= self.failures:
            raise Unavailable("endpoint said 503", code=self.code)
        return ModelOutput("ok", None)

    def predict_batch(self, batch: list[Any]) -> list[ModelOutput]:
        return [self.predict(x) for x in batch]

    def close(self) -> None: ...


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    pool = ThreadPoolExecutor(16)
    yield pool
    pool.shutdown(wait=True, cancel_futures=True)


def lane(executor: ThreadPoolExecutor, **concurrency: Any) -> Lane:
    batching = concurrency.pop("batching", None)
    return Lane("svc v1", executor, ConcurrencyPolicy.model_validate(concurrency), batching, slo_ms=1000)


async def call(lane_: Lane, model: Any, x: Any) -> ModelOutput:
    return await lane_.call(model, x, timeout_s=5, deadline=None, retry=None)


async def until(condition: Any, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition never became true"
        await asyncio.sleep(0.005)


async def test_concurrency_is_bounded_and_overflow_is_shed_at_once(executor: ThreadPoolExecutor) -> None:
    gate, sheds = Gate(), []
    lane_ = lane(executor, max_concurrency=2, max_queue=1, max_queue_wait_ms=5000)
    lane_.on_shed = sheds.append
    running = [
        asyncio.create_task(lane_.call(gate, i, timeout_s=5, deadline=None, retry=None)) for i in range(3)
    ]
    await until(lambda: gate.running == 2 and lane_.stats().queued == 1)
    started = time.monotonic()
    with pytest.raises(Shed) as caught:
        await lane_.call(gate, 99, timeout_s=5, deadline=None, retry=None)
    assert time.monotonic() - started < 1  # fast: nobody waits to be told no (generous bound, not a timing)
    assert caught.value.code == "shed" and caught.value.extra["retry_after"] >= 1
    gate.open.set()
    assert [r.output for r in await asyncio.gather(*running)] == [0, 1, 2]
    assert gate.peak == 2 and sheds == ["queue_full"] and lane_.stats().in_flight == 0


async def test_a_queued_call_that_waits_too_long_is_shed_not_run(executor: ThreadPoolExecutor) -> None:
    gate = Gate()
    lane_ = lane(executor, max_concurrency=1, max_queue=5, max_queue_wait_ms=50)
    first = asyncio.create_task(lane_.call(gate, 1, timeout_s=5, deadline=None, retry=None))
    await until(lambda: gate.running == 1)
    with pytest.raises(Shed) as caught:
        await lane_.call(gate, 2, timeout_s=5, deadline=None, retry=None)
    assert caught.value.code == "shed"
    gate.open.set()
    await first
    assert gate.calls == 1  # the shed call never reached the model
    assert lane_.stats().queued == 0


async def test_deadline_drops_queued_work(executor: ThreadPoolExecutor) -> None:
    gate = Gate()
    lane_ = lane(executor, max_concurrency=1, max_queue=5, max_queue_wait_ms=5000)
    first = asyncio.create_task(lane_.call(gate, 1, timeout_s=5, deadline=None, retry=None))
    await until(lambda: gate.running == 1)
    with pytest.raises(Shed) as caught:
        await lane_.call(gate, 2, timeout_s=5, deadline=time.monotonic() + 0.05, retry=None)
    assert caught.value.code == "deadline_exceeded"
    with pytest.raises(Shed):  # already past: not even queued
        await lane_.call(gate, 3, timeout_s=5, deadline=time.monotonic() - 1, retry=None)
    gate.open.set()
    await first
    assert gate.calls == 1


async def test_a_timed_out_call_holds_its_slot_until_the_thread_ends(executor: ThreadPoolExecutor) -> None:
    gate = Gate()
    lane_ = lane(executor, max_concurrency=1, max_queue=0)
    with pytest.raises(Timeout) as caught:
        await lane_.call(gate, 1, timeout_s=0.05, deadline=None, retry=None)
    assert caught.value.code == "timeout"
    # The hung call still runs, so the lane is still full: the next call is shed, not piled on.
    with pytest.raises(Shed):
        await lane_.call(gate, 2, timeout_s=0.05, deadline=None, retry=None)
    gate.open.set()
    await until(lambda: lane_.stats().in_flight == 0)
    gate2 = Gate()
    gate2.open.set()
    assert (await lane_.call(gate2, 3, timeout_s=1, deadline=None, retry=None)).output == 3


async def test_deadline_shorter_than_timeout_reports_deadline(executor: ThreadPoolExecutor) -> None:
    gate = Gate()
    lane_ = lane(executor, max_concurrency=1, max_queue=0)
    with pytest.raises(Timeout) as caught:
        await lane_.call(gate, 1, timeout_s=5, deadline=time.monotonic() + 0.05, retry=None)
    assert caught.value.code == "deadline_exceeded"
    gate.open.set()


async def test_batching_groups_calls_with_per_item_results(executor: ThreadPoolExecutor) -> None:
    model = Batcher()
    batching = BatchingPolicy(enabled=True, max_batch_size=8, max_wait_ms=20)
    lane_ = lane(executor, max_concurrency=1, max_queue=100, batching=batching)
    calls = [lane_.call(model, x, timeout_s=5, deadline=None, retry=None) for x in range(100, 130)]
    calls.append(lane_.call(model, 13, timeout_s=5, deadline=None, retry=None))
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert [r.output for r in results[:30] if isinstance(r, ModelOutput)] == [x * 2 for x in range(100, 130)]
    assert isinstance(results[30], ModelFailed)  # the poison input fails alone
    assert max(model.sizes) == 8 and len(model.sizes) < 31
    stats = lane_.stats()
    assert stats.batching and stats.batched_items_total == 31 and stats.in_flight == 0


async def test_a_lone_call_waits_at_most_max_wait(executor: ThreadPoolExecutor) -> None:
    model = Batcher()
    batching = BatchingPolicy(enabled=True, max_batch_size=64, max_wait_ms=10)
    lane_ = lane(executor, max_concurrency=1, max_queue=100, batching=batching)
    assert (await lane_.call(model, 4, timeout_s=5, deadline=None, retry=None)).output == 8
    assert model.sizes == [1]


async def test_batching_sheds_beyond_its_queue(executor: ThreadPoolExecutor) -> None:
    gate = Gate()
    batching = BatchingPolicy(enabled=True, max_batch_size=2, max_wait_ms=1)
    lane_ = lane(executor, max_concurrency=1, max_queue=4, batching=batching)
    running = [
        asyncio.create_task(lane_.call(gate, i, timeout_s=5, deadline=None, retry=None)) for i in range(6)
    ]
    await until(lambda: gate.running == 1 and lane_.stats().queued == 4)
    with pytest.raises(Shed):
        await lane_.call(gate, 99, timeout_s=5, deadline=None, retry=None)
    gate.open.set()
    assert sorted(r.output for r in await asyncio.gather(*running)) == list(range(6))


async def test_remote_failures_are_retried_with_backoff(executor: ThreadPoolExecutor) -> None:
    flaky = Flaky(failures=2)
    lane_ = lane(executor, max_concurrency=1, max_queue=0)
    retry = RetryPolicy(attempts=2, backoff_ms=1, max_backoff_ms=5)
    assert (await lane_.call(flaky, 1, timeout_s=5, deadline=None, retry=retry)).output == "ok"
    assert flaky.calls == 3


async def test_retries_give_up_and_say_how_many_attempts(executor: ThreadPoolExecutor) -> None:
    flaky = Flaky(failures=10)
    retry = RetryPolicy(attempts=2, backoff_ms=1, max_backoff_ms=5)
    with pytest.raises(Unavailable) as caught:
        await lane(executor).call(flaky, 1, timeout_s=5, deadline=None, retry=retry)
    assert caught.value.extra["attempts"] == 3 and flaky.calls == 3


async def test_what_is_not_safe_to_retry_is_not_retried(executor: ThreadPoolExecutor) -> None:
    retry = RetryPolicy(attempts=3, backoff_ms=1)
    other = Flaky(failures=1, code="breaker_open")
    with pytest.raises(Unavailable):
        await lane(executor).call(other, 1, timeout_s=5, deadline=None, retry=retry)
    assert other.calls == 1
    local = Flaky(failures=1)
    local.remote = False  # type: ignore[misc]  # a local model's failure is never retried
    with pytest.raises(Unavailable):
        await lane(executor).call(local, 1, timeout_s=5, deadline=None, retry=retry)
    assert local.calls == 1


async def test_batched_remote_calls_are_retried_too(executor: ThreadPoolExecutor) -> None:
    flaky = Flaky(failures=2)
    batching = BatchingPolicy(enabled=True, max_batch_size=4, max_wait_ms=1)
    retry = RetryPolicy(attempts=2, backoff_ms=1, max_backoff_ms=5)
    lane_ = lane(executor, max_concurrency=1, max_queue=10, batching=batching)
    result = await lane_.call(flaky, 1, timeout_s=5, deadline=None, retry=retry)
    assert result.output == "ok" and flaky.calls == 3
