"""The runbook page of each signal, and the default rules `install-defaults` offers."""

from __future__ import annotations

from typing import Any

# Runbook pages (docs/runbooks/) for the signals that have one; a rule may name its own link instead.
RUNBOOKS = {
    "error_rate": "high-error-rate.md",
    "p95_latency_ms": "slow-replies.md",
    "fallback_rate": "model-errors.md",
    "abstention_rate": "assistant-abstaining.md",
    "call_volume": "traffic-change.md",
    "spool_backlog": "spool-full.md",
    "breaker_open": "breaker-open.md",
    "drift": "drift.md",
    "accuracy": "accuracy-drop.md",
    "review_backlog": "review-backlog.md",
    "review_age": "review-backlog.md",
    "review_held_age": "review-backlog.md",
}

# Offered by `shipyard alerts install-defaults` and POST /v1/alerts/rules/defaults: every service.
# fmt: off
DEFAULT_RULES: list[dict[str, Any]] = [
    {"name": "high-error-rate", "signal": "error_rate", "threshold": 0.05, "window": "5m", "for": "5m",
     "severity": "critical", "description": "More than 5% of calls failed over 5 minutes."},
    {"name": "slow-replies", "signal": "p95_latency_ms", "threshold": 1.0, "threshold_unit": "slo",
     "window": "10m", "for": "10m", "description": "p95 latency above the service's latency SLO."},
    {"name": "high-fallback-rate", "signal": "fallback_rate", "threshold": 0.2, "window": "10m",
     "for": "10m", "description": "More than 20% of calls answered by a fallback step."},
    {"name": "high-abstention-rate", "signal": "abstention_rate", "threshold": 0.3, "window": "30m",
     "for": "15m", "severity": "info", "description": "The model abstains on more than 30% of calls."},
    {"name": "breaker-open", "signal": "breaker_open", "threshold": 0, "window": "1m", "for": "1m",
     "severity": "critical", "description": "A version's circuit breaker is open."},
    {"name": "spool-backlog", "signal": "spool_backlog", "threshold": 10000, "window": "1m",
     "for": "5m", "description": "Recorded calls are not reaching the database."},
    {"name": "drift-detected", "signal": "drift", "threshold": 0, "window": "1h", "for": "0s",
     "description": "The latest drift check found the live inputs or outputs drifting from the reference."},
    {"name": "accuracy-drop", "signal": "accuracy", "comparison": "<", "threshold": 0.85, "window": "7d",
     "for": "1h", "description": "Accuracy of labelled predictions over 7 days is under 85%."},
    {"name": "review-backlog", "signal": "review_held_age", "threshold": 1800, "window": "1m", "for": "0s",
     "description": "A caller has waited more than 30 minutes for a reviewer to decide a held call."},
]
# fmt: on


def runbook_for(signal: str, base_url: str) -> str:
    page = RUNBOOKS.get(signal)
    return f"{base_url.rstrip('/')}/{page}" if page else ""
