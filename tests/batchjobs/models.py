"""Callable models for the batch job tests (loaded by the `callable` loader, in the test process)."""

from __future__ import annotations

import threading
from typing import Any

from shipyard.core.errors import Shed

GATE = threading.Event()  # rows from GATED_FROM on wait for it
GATED_FROM = 10
_WAITING = [0]
_SEEN: set[Any] = set()
_SEEN_LOCK = threading.Lock()


def gated(inputs: dict[str, Any]) -> tuple[float, float]:
    if inputs["x"] >= GATED_FROM and not GATE.is_set():
        with _SEEN_LOCK:
            _WAITING[0] += 1
        GATE.wait(30)
    return inputs["x"] * 2, 0.9


def waiting() -> int:
    """How many calls the gate has held so far."""
    with _SEEN_LOCK:
        return _WAITING[0]


def picky(inputs: dict[str, Any]) -> tuple[float, float]:
    """A model with a bug: it cannot take negative numbers."""
    if inputs["x"] < 0:
        raise ValueError("negative x")
    return inputs["x"] * 2, 0.9


def shed_first(inputs: dict[str, Any]) -> tuple[float, float]:
    """Turns each input away once, as an overloaded lane does, then answers."""
    with _SEEN_LOCK:
        first = inputs["x"] not in _SEEN
        _SEEN.add(inputs["x"])
    if first:
        raise Shed("over capacity; retry shortly", retry_after=0.01)
    return inputs["x"] * 2, 0.9


def reset() -> None:
    GATE.clear()
    with _SEEN_LOCK:
        _SEEN.clear()
        _WAITING[0] = 0


def slow_double(inputs: dict[str, Any]) -> tuple[float, float]:
    """Slow enough that a job of a few hundred rows is still running when the test kills its server."""
    import time

    time.sleep(0.01)
    return inputs["x"] * 2, 0.9
