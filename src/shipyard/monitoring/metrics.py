"""Prometheus metrics for the invoke path. Labels are service, version, outcome and causes: never payloads.

Counters and histograms are updated on the call; gauges that describe state (breakers, lanes, the
spool) are read at scrape time by a collector, so the hot path pays nothing for them.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import Any

from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

CALLS = Counter("shipyard_calls_total", "Model calls by outcome", ["service", "version", "outcome"])
LATENCY = Histogram(
    "shipyard_call_latency_seconds",
    "Time from request to recorded answer",
    ["service", "version"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
FALLBACKS = Counter(
    "shipyard_fallbacks_total", "Calls answered by a fallback step", ["service", "version", "step", "cause"]
)
SHED = Counter(
    "shipyard_shed_total", "Calls turned away to protect admitted ones", ["service", "version", "reason"]
)
BATCH_SIZE = Histogram(
    "shipyard_batch_size",
    "Inputs per dynamic batch",
    ["service", "version"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
)
RECORDS_DROPPED = Counter(
    "shipyard_records_dropped_total",
    "Answers given without a record because the spool was full (services that keep serving)",
    ["service"],
)
RATE_LIMITED = Counter("shipyard_rate_limited_total", "Calls refused by a rate limit", ["service"])


def version_label(version: int | None) -> str:
    return str(version) if version is not None else "none"


def observe(service: str, version: int | None, outcome: str, seconds: float) -> None:
    label = version_label(version)
    CALLS.labels(service, label, outcome).inc()
    LATENCY.labels(service, label).observe(seconds)


# -- state read at scrape time -------------------------------------------------------------------


class _StateCollector(Collector):
    """Gauges from every live source (one per app context in this process)."""

    _HELP = {
        "shipyard_breaker_state": "Circuit breaker per version: 0 closed, 1 half-open, 2 open",
        "shipyard_lane_in_flight": "Model executions running per version",
        "shipyard_lane_queued": "Calls waiting for a model slot per version",
        "shipyard_spool_backlog_records": "Recorded calls not yet shipped to the database",
        "shipyard_spool_backlog_bytes": "Bytes of recorded calls not yet shipped to the database",
    }

    def __init__(self) -> None:
        self.sources: list[weakref.ref[Any]] = []

    def collect(self) -> Iterable[GaugeMetricFamily]:
        families: dict[str, GaugeMetricFamily] = {}
        self.sources = [ref for ref in self.sources if ref() is not None]
        for ref in self.sources:
            source = ref()
            if source is None:
                continue
            for name, labels, value in source.metric_samples():
                family = families.get(name)
                if family is None:
                    family = families[name] = GaugeMetricFamily(
                        name, self._HELP.get(name, name), labels=list(labels)
                    )
                family.add_metric(list(labels.values()), value)
        return list(families.values())

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return []  # dynamic families; describing none keeps registration cheap


_STATE = _StateCollector()
REGISTRY.register(_STATE)


def watch(source: Any) -> None:
    """Export `source.metric_samples()` (name, labels, value) at every scrape while source lives."""
    _STATE.sources.append(weakref.ref(source))


def unwatch(source: Any) -> None:
    _STATE.sources = [ref for ref in _STATE.sources if ref() is not source]
