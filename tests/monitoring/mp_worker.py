"""A process for the multiprocess metrics test: `worker CALLS IN_FLIGHT BREAKER DRIFT` counts calls,
sets its state gauges and a drift gauge, prints "ready" and waits for a line on stdin; `scrape` prints
the /metrics body. Both run with PROMETHEUS_MULTIPROC_DIR set by the test."""

from __future__ import annotations

import sys

from prometheus_client import Gauge

from shipyard.monitoring import metrics
from shipyard.registry.loaders.base import Usage


class Source:
    def __init__(self, in_flight: float, breaker: float) -> None:
        self.in_flight, self.breaker = in_flight, breaker

    def metric_samples(self) -> list[tuple[str, dict[str, str], float]]:
        labels = {"service": "svc", "version": "1"}
        return [
            ("shipyard_lane_in_flight", labels, self.in_flight),
            ("shipyard_breaker_state", labels, self.breaker),
            ("shipyard_spool_backlog_records", {}, 10),
        ]


def main() -> None:
    assert metrics.MULTIPROCESS, "PROMETHEUS_MULTIPROC_DIR must be set before prometheus_client is imported"
    if sys.argv[1] == "scrape":
        sys.stdout.write(metrics.exposition().decode())
        return
    calls, in_flight, breaker, drift = (float(a) for a in sys.argv[2:6])
    for _ in range(int(calls)):
        metrics.observe("svc", 1, "served", 0.02)
        metrics.observe_cost("svc", 1, 0.001, Usage(10, 5, "m"), 0.5)
    metrics.observe("svc", 1, "failed", 0.02, "model_failed")
    source = Source(in_flight, breaker)
    metrics.watch(source)
    metrics.refresh_state()
    score = Gauge("shipyard_test_drift_score", "A drift score", ["service"], multiprocess_mode="mostrecent")
    score.labels("svc").set(drift)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sys.stdin.readline()
    metrics.unwatch(source)  # a graceful exit: its live gauges go with it


if __name__ == "__main__":
    main()
