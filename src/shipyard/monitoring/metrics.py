"""Prometheus metrics. Labels are service, version, outcome, step, cause, reason and error code: never
payloads, caller names or anything else a caller chose.

One process: the default registry, as any prometheus_client program. Several worker processes
(`shipyard serve --workers N` sets PROMETHEUS_MULTIPROC_DIR before they start): every value is kept in
a per-process file and /metrics sums the files, so any worker's scrape answers for all of them.
Counters and histograms are updated on the call. Gauges that describe state (breakers, lanes, the
spool) are read from their sources at scrape time in the scraping process, and written every
`monitoring.state_refresh_s` by each other worker (see `sample_state`); the hot path pays nothing
for them.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import weakref
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import values as _values
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from shipyard.registry.loaders.base import Usage
from shipyard.serving.schemas import OUTCOMES

# Decided by prometheus_client when it was imported: file-backed values iff PROMETHEUS_MULTIPROC_DIR.
MULTIPROCESS = _values.ValueClass is not _values.MutexValue
CONTENT_TYPE = CONTENT_TYPE_LATEST
# Upper bounds of the latency histogram; the rollups use the same ones, so both give the same percentiles.
LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

CALLS = Counter("shipyard_calls_total", "Model calls by outcome", ["service", "version", "outcome"])
LATENCY = Histogram(
    "shipyard_call_latency_seconds",
    "Time from request to recorded answer",
    ["service", "version"],
    buckets=LATENCY_BUCKETS_S,
)
ERRORS = Counter(
    "shipyard_errors_total",
    "Calls whose record carries an error code (failures, rejections, failures a fallback answered)",
    ["service", "version", "code"],
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
_BATCH_SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5)
BATCH_SECONDS = Histogram(
    "shipyard_batch_seconds",
    "Model time per dynamic batch, from its start to its last result",
    ["service", "version"],
    buckets=_BATCH_SECONDS_BUCKETS,
)
BATCH_WAIT = Histogram(
    "shipyard_batch_wait_seconds",
    "How long the oldest input of a dynamic batch waited before the batch started",
    ["service", "version"],
    buckets=_BATCH_SECONDS_BUCKETS,
)
RECORDS_DROPPED = Counter(
    "shipyard_records_dropped_total",
    "Answers given without a record because the spool was full (services that keep serving)",
    ["service"],
)
REVIEWS_REQUESTED = Counter(
    "shipyard_reviews_requested_total",
    "Calls sent to human review, by action (hold: answer withheld; queue: answered, checked later) and rule",
    ["service", "action", "rule"],
)
RATE_LIMITED = Counter("shipyard_rate_limited_total", "Calls refused by a rate limit", ["service"])
MODEL_CPU = Counter(
    "shipyard_model_cpu_seconds_total", "CPU time the model used for answered calls", ["service", "version"]
)
TOKENS = Counter(
    "shipyard_llm_tokens_total", "Tokens LLM runtimes reported using", ["service", "version", "direction"]
)
COST = Counter(
    "shipyard_cost_total",
    "Money the reported tokens cost at the configured prices (monitoring.currency)",
    ["service", "version"],
)

# State, refreshed from the watched sources. With several processes: in-flight, queue and backlog add
# up over live workers; a breaker shows the worst state any live worker sees.
BREAKER_STATE = Gauge(
    "shipyard_breaker_state",
    "Circuit breaker per version: 0 closed, 1 half-open, 2 open (the worst over live workers)",
    ["service", "version"],
    multiprocess_mode="livemax",
)
LANE_IN_FLIGHT = Gauge(
    "shipyard_lane_in_flight",
    "Model executions running per version",
    ["service", "version"],
    multiprocess_mode="livesum",
)
LANE_QUEUED = Gauge(
    "shipyard_lane_queued",
    "Calls waiting for a model slot per version",
    ["service", "version"],
    multiprocess_mode="livesum",
)
SPOOL_RECORDS = Gauge(
    "shipyard_spool_backlog_records",
    "Recorded calls not yet shipped to the database",
    multiprocess_mode="livesum",
)
SPOOL_BYTES = Gauge(
    "shipyard_spool_backlog_bytes",
    "Bytes of recorded calls not yet shipped to the database",
    multiprocess_mode="livesum",
)
_STATE_GAUGES: dict[str, tuple[Gauge, bool]] = {  # name -> (gauge, combine by max rather than sum)
    "shipyard_breaker_state": (BREAKER_STATE, True),
    "shipyard_lane_in_flight": (LANE_IN_FLIGHT, False),
    "shipyard_lane_queued": (LANE_QUEUED, False),
    "shipyard_spool_backlog_records": (SPOOL_RECORDS, False),
    "shipyard_spool_backlog_bytes": (SPOOL_BYTES, False),
}

_CODE = re.compile(r"^[a-z][a-z0-9_]{0,49}$")


def version_label(version: int | None) -> str:
    return str(version) if version is not None else "none"


def code_label(code: str) -> str:
    """An error code as a label: our codes are short snake_case words; anything else is 'other'."""
    return code if _CODE.match(code) else "other"


class _Series:
    """The children of one (service, version), resolved once: `.labels()` costs a lock and a lookup."""

    __slots__ = ("calls", "cost", "cpu", "errors", "latency", "tokens_in", "tokens_out")

    def __init__(self, service: str, version: str) -> None:
        # Every outcome from the first call on, so `rate(...{outcome="abstained"}[5m])` is 0, not absent.
        self.calls = {outcome: CALLS.labels(service, version, outcome) for outcome in OUTCOMES}
        self.latency = LATENCY.labels(service, version)
        self.errors: dict[str, Any] = {}
        self.cpu = MODEL_CPU.labels(service, version)
        self.tokens_in = TOKENS.labels(service, version, "in")
        self.tokens_out = TOKENS.labels(service, version, "out")
        self.cost = COST.labels(service, version)


_series: dict[tuple[str, int | None], _Series] = {}
_series_lock = threading.Lock()


def _for(service: str, version: int | None) -> _Series:
    series = _series.get((service, version))
    if series is None:
        with _series_lock:
            series = _series.setdefault((service, version), _Series(service, version_label(version)))
    return series


def observe(service: str, version: int | None, outcome: str, seconds: float, code: str | None = None) -> None:
    """Count one call: its outcome, its latency and, when its record has one, its error code."""
    series = _for(service, version)
    counter = series.calls.get(outcome)
    if counter is None:
        counter = series.calls[outcome] = CALLS.labels(service, version_label(version), outcome)
    counter.inc()
    series.latency.observe(seconds)
    if code is not None:
        errors = series.errors.get(code)
        if errors is None:
            errors = series.errors[code] = ERRORS.labels(service, version_label(version), code_label(code))
        errors.inc()


def observe_cost(
    service: str, version: int | None, cpu_s: float | None, usage: Usage | None, cost: float | None
) -> None:
    """Count what one answer cost: model CPU time, tokens and money (see monitoring/cost.py)."""
    series = _for(service, version)
    if cpu_s:
        series.cpu.inc(cpu_s)
    if usage is not None:
        if usage.tokens_in:
            series.tokens_in.inc(usage.tokens_in)
        if usage.tokens_out:
            series.tokens_out.inc(usage.tokens_out)
    if cost:
        series.cost.inc(cost)


def observe_batch(service: str, version: int | None, size: int, waited_s: float, model_s: float) -> None:
    """One finished dynamic batch: its size, how long its oldest input waited for it, its model time."""
    label = version_label(version)
    BATCH_SIZE.labels(service, label).observe(size)
    BATCH_WAIT.labels(service, label).observe(waited_s)
    BATCH_SECONDS.labels(service, label).observe(model_s)


# -- state gauges --------------------------------------------------------------------------------

_sources: list[weakref.ref[Any]] = []
_state_lock = threading.Lock()
_state_set: dict[str, set[tuple[str, ...]]] = {}  # label values this process last set, per gauge


def watch(source: Any) -> None:
    """Export `source.metric_samples()` (name, labels, value) in the state gauges while source lives."""
    with _state_lock:
        _sources.append(weakref.ref(source))


def unwatch(source: Any) -> None:
    """Stop exporting `source`; the last one gone in a worker process retires its live gauge files."""
    with _state_lock:
        _sources[:] = [ref for ref in _sources if ref() is not None and ref() is not source]
        last = not _sources
    refresh_state()
    if last and MULTIPROCESS:
        mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


def refresh_state() -> None:
    """Set the state gauges from every live source in this process (summed, or the max for breakers)."""
    with _state_lock:
        sources = [s for s in (ref() for ref in _sources) if s is not None]
        values: dict[str, dict[tuple[str, ...], float]] = {name: {} for name in _STATE_GAUGES}
        for source in sources:
            for name, labels, value in source.metric_samples():
                if name not in values:
                    continue
                key = tuple(labels.values())
                seen = values[name].get(key)
                use_max = _STATE_GAUGES[name][1]
                values[name][key] = value if seen is None else max(seen, value) if use_max else seen + value
        for name, (gauge, _) in _STATE_GAUGES.items():
            now = values[name]
            for key, value in now.items():
                (gauge.labels(*key) if key else gauge).set(value)
            for key in _state_set.get(name, set()) - now.keys():
                if key and not MULTIPROCESS:
                    gauge.remove(*key)
                else:  # a file cannot forget a series: it reads 0 (closed, idle, empty)
                    (gauge.labels(*key) if key else gauge).set(0)
            _state_set[name] = set(now)


def sample_state(stop: threading.Event, every_s: float) -> None:
    """Refresh the state gauges until `stop` (a worker's thread, so other workers' scrapes see them)."""
    while not stop.wait(every_s):
        refresh_state()


# -- exposition ----------------------------------------------------------------------------------


def exposition() -> bytes:
    """The /metrics body: this process's registry, or with several workers every worker's files."""
    refresh_state()
    if not MULTIPROCESS:
        return generate_latest(REGISTRY)
    # prometheus_client's own variable (set by `serve` or the operator), read where it reads it
    directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    _retire_dead(directory)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    return generate_latest(registry)


_LIVE_FILE = re.compile(r"^gauge_live[a-z]+_(\d+)\.db$")


def _retire_dead(directory: Path) -> None:
    """Drop the live gauges of workers that died without saying so (killed, crashed): a restarted
    worker has a new pid, and the dead one's in-flight count must not stay in the sum."""
    pids = {int(m.group(1)) for p in directory.iterdir() if (m := _LIVE_FILE.match(p.name))}
    for pid in pids - {os.getpid()}:
        if not _alive(pid):
            with contextlib.suppress(FileNotFoundError):  # another worker's scrape got there first
                mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True
