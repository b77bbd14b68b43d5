"""Alert signals over the drift checks, the accuracy from feedback and labels, and the review queue.

Registered at import (the alerts evaluator imports this module), beside the built-in signals in
`signals.py`. They read what the drift and review domains stored, never raw payloads.
"""

from __future__ import annotations

from shipyard.monitoring.alerts.signals import SignalQuery, matchers, register_signal
from shipyard.monitoring.drift import history as drift_history
from shipyard.review import service as review
from shipyard.review.queue import service as queue

# Fewer labelled calls than this in the window: no accuracy value, so one wrong answer cannot page anyone.
MIN_LABELLED = 20


def drift(q: SignalQuery) -> dict[str, float]:
    """1 when the service's latest drift check found drift, 0 when it found none (no value before a
    check, or when the window had too few calls to judge)."""
    values = {}
    for slug in q.services:
        status = drift_history.latest_drift(q.session, slug)
        if status is not None and status.verdict != "insufficient_data":
            values[slug] = 1.0 if status.drifted else 0.0
    return values


def drift_share(q: SignalQuery) -> dict[str, float]:
    """The share (0 to 1) of input features drifted at the service's latest check."""
    values = {}
    for slug in q.services:
        status = drift_history.latest_drift(q.session, slug)
        if status is not None and status.verdict != "insufficient_data":
            values[slug] = status.drift_share
    return values


def accuracy(q: SignalQuery) -> dict[str, float]:
    """Accuracy (0 to 1) of the window's predictions that have a label or a verdict from feedback."""
    values = {}
    for slug in q.services:
        window = review.rolling_accuracy(q.session, slug, start=q.since, end=q.now)
        if window.labelled >= MIN_LABELLED and window.accuracy is not None:
            values[slug] = window.accuracy
    return values


def review_backlog(q: SignalQuery) -> dict[str, float]:
    """Open review tasks (pending and escalated) per service; 0 for a service with none open."""
    found = {r.service: float(r.open) for r in queue.backlog(q.session, q.now, q.services)}
    return {slug: found.get(slug, 0.0) for slug in q.services}


def review_age(q: SignalQuery) -> dict[str, float]:
    """Seconds the oldest open review task has waited (no value for a service with none open)."""
    return {
        r.service: r.oldest_age_s
        for r in queue.backlog(q.session, q.now, q.services)
        if r.oldest_age_s is not None
    }


def review_held_age(q: SignalQuery) -> dict[str, float]:
    """Seconds the caller of the oldest open held call has waited (no value when none is held)."""
    return {
        r.service: r.held_oldest_age_s
        for r in queue.backlog(q.session, q.now, q.services)
        if r.held_oldest_age_s is not None
    }


register_signal(
    "drift",
    drift,
    description="1 when the latest drift check of the service found drift, else 0",
    unit="flag",
    promql=lambda m, w: f"max by (service) (shipyard_drift_detected{matchers(m)})",
)
register_signal(
    "drift_share",
    drift_share,
    description="Share of input features drifted at the latest drift check (0 to 1)",
    unit="ratio",
)
register_signal(
    "accuracy",
    accuracy,
    description=(
        f"Accuracy of labelled predictions in the window (0 to 1; needs {MIN_LABELLED} labelled). "
        "The Prometheus rule reads the shipyard_accuracy gauge (7 days by default)"
    ),
    unit="ratio",
    promql=lambda m, w: f"min by (service) (shipyard_accuracy{matchers(m)})",
)
register_signal(
    "review_backlog",
    review_backlog,
    description="Open review tasks (pending and escalated), held and queued alike",
    unit="tasks",
    promql=lambda m, w: f"max by (service) (shipyard_review_backlog{matchers(m)})",
)
register_signal(
    "review_age",
    review_age,
    description="Seconds the oldest open review task (held or queued) has waited",
    unit="s",
    promql=lambda m, w: f"max by (service) (shipyard_review_oldest_age_seconds{matchers(m)})",
)
register_signal(
    "review_held_age",
    review_held_age,
    description="Seconds the caller of the oldest open held call has waited for a reviewer",
    unit="s",
    promql=lambda m, w: f"max by (service) (shipyard_review_held_oldest_age_seconds{matchers(m)})",
)
