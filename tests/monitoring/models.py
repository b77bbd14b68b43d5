"""Callable models for the monitoring tests: they burn CPU, or report token usage."""

from __future__ import annotations

import time
from typing import Any


def burn(inputs: dict[str, Any]) -> tuple[float, float]:
    """Spends about x milliseconds of CPU (a busy loop, not a sleep), then answers."""
    until = time.thread_time() + float(inputs["x"]) / 1000
    n = 0
    while time.thread_time() < until:
        n += 1
    return float(inputs["x"]), 0.9


def sleeper(inputs: dict[str, Any]) -> tuple[float, float]:
    """Waits x milliseconds without using CPU."""
    time.sleep(float(inputs["x"]) / 1000)
    return float(inputs["x"]), 0.9


def llm(inputs: dict[str, Any]) -> dict[str, Any]:
    """Says it used x input tokens and 2x output tokens of the model named by `label`."""
    x = int(inputs["x"])
    usage = {"tokens_in": x, "tokens_out": 2 * x, "model": inputs.get("label", "gpt-4o-mini")}
    return {"output": x, "confidence": 0.8, "usage": usage}


def leaky(inputs: dict[str, Any]) -> float:
    """Fails with the caller's input in its message (which may reach the record, never a metric)."""
    raise ValueError(f"cannot handle {inputs.get('label')}")
