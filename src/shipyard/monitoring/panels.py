"""The dashboard's status blocks, from the drift checks and the alert states, shaped for
`monitoring/rollups/templates/_drift_block.html` and `_alerts_block.html`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from sqlalchemy.orm import Session

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
