"""Prometheus gauges of the latest drift check per version, set by whichever process ran it."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Gauge

DRIFT_SCORE = Gauge(
    "shipyard_drift_score",
    "Latest drift score per feature: KS statistic (numeric, text) or Jensen-Shannon distance (categorical)",
    ["service", "version", "feature"],
    multiprocess_mode="mostrecent",
)
DRIFT_DETECTED = Gauge(
    "shipyard_drift_detected",
    "1 when the latest drift check of a version found drift, else 0",
    ["service", "version"],
    multiprocess_mode="mostrecent",
)
_features: dict[tuple[str, str], set[str]] = {}


def publish(service: str, version: int, drifted: bool, scores: Iterable[tuple[str, float | None]]) -> None:
    """Set the gauges for one version's latest check, dropping features it no longer has."""
    label = str(version)
    DRIFT_DETECTED.labels(service, label).set(1.0 if drifted else 0.0)
    now = {name: value for name, value in scores if value is not None}
    for gone in _features.get((service, label), set()) - set(now):
        DRIFT_SCORE.remove(service, label, gone)
    for name, value in now.items():
        DRIFT_SCORE.labels(service, label, name).set(value)
    _features[(service, label)] = set(now)
