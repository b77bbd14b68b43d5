"""Models for the process-isolation tests, loaded by the callable loader inside spawned processes.

Each misbehaving model behaves like `double` unless the input asks it to misbehave, so one runtime
can show both the failure and the recovery after it.
"""

from __future__ import annotations

import ctypes
import os
import time
from pathlib import Path
from typing import Any

from shipyard.core.errors import Unavailable


def double(inputs: dict[str, Any]) -> tuple[float, float]:
    """The well-behaved model: twice x, with a confidence."""
    return inputs["x"] * 2, 0.75


def rendezvous(inputs: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """Answer only once `n` calls are running at the same moment (each in its own process).

    Calls that were not spread over distinct processes could never all arrive, so they would time out.
    """
    folder = Path(inputs["dir"])
    (folder / str(os.getpid())).touch()
    while len(list(folder.iterdir())) < inputs["n"]:
        time.sleep(0.01)
    return {"pid": os.getpid()}, 1.0


def segfault(inputs: dict[str, Any]) -> tuple[float, float]:
    if inputs.get("misbehave"):
        ctypes.string_at(0)  # reads address 0: SIGSEGV
    return double(inputs)


def exit3(inputs: dict[str, Any]) -> tuple[float, float]:
    if inputs.get("misbehave"):
        os._exit(3)
    return double(inputs)


def hang(inputs: dict[str, Any]) -> tuple[float, float]:
    if inputs.get("misbehave"):
        time.sleep(3600)
    return double(inputs)


def allocate(inputs: dict[str, Any]) -> tuple[float, float]:
    """Allocate `mb` megabytes when asked to misbehave."""
    if inputs.get("misbehave"):
        block = bytearray(inputs["mb"] * 1024 * 1024)
        return len(block), 1.0
    return double(inputs)


def value_error(inputs: dict[str, Any]) -> tuple[float, float]:
    if inputs.get("misbehave"):
        raise ValueError(f"x must be positive, got {inputs['x']}")
    return double(inputs)


def not_a_number(inputs: dict[str, Any]) -> tuple[float, float]:
    return float("nan"), 0.5


def upstream_down(inputs: dict[str, Any]) -> None:
    raise Unavailable("the feature store is down", code="feature_store_down", retry_after=3)


class Counter:
    """Stateful: counts the calls this process has served, so a recycled process starts again at 1."""

    def __init__(self) -> None:
        self.calls = 0

    def predict(self, inputs: dict[str, Any]) -> tuple[dict[str, Any], float]:
        self.calls += 1
        return {"pid": os.getpid(), "calls": self.calls}, 1.0


class BrokenAtLoad:
    """A class whose construction fails: the load error must reach the caller with this message."""

    def __init__(self) -> None:
        raise RuntimeError("weights file is corrupt")

    def predict(self, inputs: dict[str, Any]) -> None:
        return None


class LoadsUnlessFlagged:
    """Loads unless the file named by `flag` exists: lets a test make restarts fail, then heal."""

    def __init__(self, flag: str) -> None:
        if Path(flag).exists():
            raise RuntimeError(f"refusing to load while {flag} exists")

    def predict(self, inputs: dict[str, Any]) -> tuple[float, float]:
        return exit3(inputs)
