"""A circuit breaker per model version: stop calling a version that keeps failing, try it again later.

closed -> (failure_threshold consecutive failures) -> open -> (cooldown_s) -> half_open: one trial call
at a time; half_open_successes trial successes close it, a trial failure opens it again for another
cool-down. Per server process (like most breakers): each worker learns about a failing version from its
own calls, which keeps the hot path free of shared-state round trips.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from shipyard.serving.policy import BreakerPolicy

log = logging.getLogger(__name__)

State = Literal["closed", "open", "half_open"]
STATE_VALUES: dict[State, int] = {"closed": 0, "half_open": 1, "open": 2}  # the metric's encoding


@dataclass(frozen=True)
class BreakerSnapshot:
    state: State
    consecutive_failures: int
    opened_for_s: float | None  # how long ago it (last) opened, while open or half-open
    retry_in_s: float | None  # while open: until the next trial call
    last_failure: str | None
    opened_total: int


class CircuitBreaker:
    """Thread-safe: batch jobs and the server's event loop may share one."""

    def __init__(
        self, policy: BreakerPolicy, *, label: str = "", clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.policy = policy
        self.label = label
        self._clock = clock
        self._lock = threading.Lock()
        self._state: State = "closed"
        self._failures = 0
        self._successes = 0  # trial successes while half-open
        self._trial_in_flight = False
        self._opened_at = 0.0
        self._opened_total = 0
        self._last_failure: str | None = None

    @property
    def state(self) -> State:
        with self._lock:
            return self._current()

    def _current(self) -> State:
        if self._state == "open" and self._clock() - self._opened_at >= self.policy.cooldown_s:
            self._state, self._successes, self._trial_in_flight = "half_open", 0, False
        return self._state

    def allow(self) -> bool:
        """May a call go to this version now? While half-open, only one trial call at a time."""
        if not self.policy.enabled:
            return True
        with self._lock:
            state = self._current()
            if state == "closed":
                return True
            if state == "half_open" and not self._trial_in_flight:
                self._trial_in_flight = True
                return True
            return False

    def retry_after_s(self) -> float:
        """Seconds until the next trial call could be let through (0 when calls go through now)."""
        with self._lock:
            if self._current() != "open":
                return 0.0
            return max(0.0, self.policy.cooldown_s - (self._clock() - self._opened_at))

    def success(self) -> None:
        with self._lock:
            if self._state == "half_open":
                self._trial_in_flight = False
                self._successes += 1
                if self._successes >= self.policy.half_open_successes:
                    self._state, self._failures = "closed", 0
                    log.warning("circuit breaker for %s closed: trial calls succeeded", self.label)
            else:
                self._failures = 0

    def failure(self, reason: str) -> None:
        if not self.policy.enabled:  # a disabled breaker neither counts nor shows failures
            return
        with self._lock:
            self._last_failure = reason
            self._failures += 1
            if self._state == "half_open" or (
                self._state == "closed" and self._failures >= self.policy.failure_threshold
            ):
                self._open()

    def release_trial(self) -> None:
        """A trial call ended with neither verdict (shed, cancelled): let another one try."""
        with self._lock:
            self._trial_in_flight = False

    def reset(self) -> None:
        """Close it by hand (an operator knows the version is fixed)."""
        with self._lock:
            self._state, self._failures, self._successes, self._trial_in_flight = "closed", 0, 0, False

    def _open(self) -> None:
        self._state, self._opened_at, self._trial_in_flight = "open", self._clock(), False
        self._opened_total += 1
        log.warning(
            "circuit breaker for %s opened after %d failure(s), last %s; next trial in %g s",
            self.label,
            self._failures,
            self._last_failure,
            self.policy.cooldown_s,
        )

    def snapshot(self) -> BreakerSnapshot:
        with self._lock:
            state = self._current()
            now = self._clock()
            return BreakerSnapshot(
                state=state,
                consecutive_failures=self._failures,
                opened_for_s=round(now - self._opened_at, 3) if state != "closed" else None,
                retry_in_s=round(max(0.0, self.policy.cooldown_s - (now - self._opened_at)), 3)
                if state == "open"
                else None,
                last_failure=self._last_failure,
                opened_total=self._opened_total,
            )
