"""The dashboard's status blocks, from the drift checks and the alert states, shaped for
`monitoring/rollups/templates/_drift_block.html` and `_alerts_block.html`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from sqlalchemy.orm import Session

from shipyard.monitoring.alerts import service as alerts_service
from shipyard.monitoring.drift import history as drift_history

_DRIFT_WORDS = {"ok": "ok", "drift": "drifting", "insufficient_data": "too few calls"}


@dataclass(frozen=True)
class DriftBadge:
    status: str  # ok | drifting | too few calls | not checked
    score: float | None  # share of drifted input features at the latest check
    href: str


def drift_badges(session: Session, slugs: Sequence[str]) -> dict[str, DriftBadge]:
    """Each visible service's drift at its latest check ("not checked" before the first one)."""
    statuses = drift_history.drift_statuses(session)
    badges = {}
    for slug in slugs:
        href = f"/services/{quote(slug, safe='')}/drift"
        status = statuses.get(slug)
        if status is None:
            badges[slug] = DriftBadge("not checked", None, href)
        else:
            badges[slug] = DriftBadge(_DRIFT_WORDS[status.verdict], status.drift_share, href)
    return badges


@dataclass(frozen=True)
class FiringAlert:
    service: str
    name: str
    severity: str
    since: datetime
    summary: str  # the value against the threshold, e.g. "error_rate 0.12 > 0.05"
    href: str


def firing_alerts(session: Session, slugs: Sequence[str]) -> list[FiringAlert]:
    """Alerts firing now on the visible services (and process-wide ones), critical first."""
    visible = set(slugs)
    firing = []
    for a in alerts_service.list_alerts(session, state="firing"):
        if a.service != "*" and a.service not in visible:
            continue
        value = "no value" if a.value is None else f"{a.value:.3g}"
        summary = f"{a.signal} {value} {a.comparison} {a.threshold:g}" + (" (silenced)" if a.silenced else "")
        since = a.fired_at or a.started_at
        firing.append(FiringAlert(a.service, a.rule, a.severity, since, summary, f"/alerts/{a.id}"))
    order = {"critical": 0, "warning": 1, "info": 2}
    return sorted(firing, key=lambda f: order.get(f.severity, 3))
