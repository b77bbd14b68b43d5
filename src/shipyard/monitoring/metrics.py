"""Prometheus metrics for the invoke path. Labels are service, version and outcome: never payloads."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

CALLS = Counter("shipyard_calls_total", "Model calls by outcome", ["service", "version", "outcome"])
LATENCY = Histogram(
    "shipyard_call_latency_seconds",
    "Time from request to recorded answer",
    ["service", "version"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


def observe(service: str, version: int | None, outcome: str, seconds: float) -> None:
    label = str(version) if version is not None else "none"
    CALLS.labels(service, label, outcome).inc()
    LATENCY.labels(service, label).observe(seconds)
