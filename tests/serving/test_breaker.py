"""The circuit breaker's state machine, on a clock the test moves."""

from __future__ import annotations

from shipyard.serving.breaker import CircuitBreaker
from shipyard.serving.policy import BreakerPolicy


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(**policy: object) -> tuple[CircuitBreaker, Clock]:
    clock = Clock()
    settings = {"failure_threshold": 3, "cooldown_s": 10.0, **policy}
    return CircuitBreaker(BreakerPolicy.model_validate(settings), clock=clock), clock


def test_opens_after_consecutive_failures_only() -> None:
    breaker, _ = make()
    breaker.failure("model_failed")
    breaker.failure("model_failed")
    breaker.success()  # a success in between resets the streak
    breaker.failure("model_failed")
    breaker.failure("model_failed")
    assert breaker.state == "closed" and breaker.allow()
    breaker.failure("timeout")
    assert breaker.state == "open"
    assert not breaker.allow()
    snap = breaker.snapshot()
    assert (snap.last_failure, snap.opened_total, snap.retry_in_s) == ("timeout", 1, 10.0)


def test_half_open_lets_one_trial_through_and_closes_on_success() -> None:
    breaker, clock = make()
    for _ in range(3):
        breaker.failure("model_failed")
    clock.now += 9.5
    assert not breaker.allow() and breaker.retry_after_s() == 0.5
    clock.now += 0.5
    assert breaker.state == "half_open"
    assert breaker.allow()  # the trial call
    assert not breaker.allow()  # only one at a time
    breaker.success()
    assert breaker.state == "closed" and breaker.allow()


def test_a_failed_trial_opens_it_for_another_cooldown() -> None:
    breaker, clock = make()
    for _ in range(3):
        breaker.failure("model_failed")
    clock.now += 10
    assert breaker.allow()
    breaker.failure("model_failed")
    assert breaker.state == "open" and breaker.snapshot().opened_total == 2
    clock.now += 9
    assert not breaker.allow()


def test_several_trial_successes_may_be_required() -> None:
    breaker, clock = make(half_open_successes=2)
    for _ in range(3):
        breaker.failure("model_failed")
    clock.now += 10
    assert breaker.allow()
    breaker.success()
    assert breaker.state == "half_open"
    assert breaker.allow()
    breaker.success()
    assert breaker.state == "closed"


def test_a_trial_without_verdict_frees_the_slot() -> None:
    breaker, clock = make()
    for _ in range(3):
        breaker.failure("model_failed")
    clock.now += 10
    assert breaker.allow()
    breaker.release_trial()  # e.g. the trial call was shed
    assert breaker.allow()


def test_reset_and_disabled() -> None:
    breaker, _ = make()
    for _ in range(3):
        breaker.failure("model_failed")
    breaker.reset()
    assert breaker.state == "closed" and breaker.allow()
    off, _ = make(enabled=False)
    for _ in range(10):
        off.failure("model_failed")
    assert off.allow() and off.state == "closed" and off.snapshot().consecutive_failures == 0
