"""The accuracy gauge: rolling accuracy per service and version, refreshed by a periodic job."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from prometheus_client import Gauge

from shipyard.review import service as review

if TYPE_CHECKING:
    from shipyard.web.context import AppContext

# Set by whichever worker ran the job last; "mostrecent" makes a multiprocess scrape show that value.
ACCURACY = Gauge(
    "shipyard_accuracy",
    "Share of labelled predictions in the accuracy window (default 7 days) that were right, per version",
    ["service", "version"],
    multiprocess_mode="mostrecent",
)
LABELLED = Gauge(
    "shipyard_accuracy_labelled",
    "Labelled predictions in the accuracy window behind shipyard_accuracy, per version",
    ["service", "version"],
    multiprocess_mode="mostrecent",
)
_exported: set[tuple[str, str]] = set()


def refresh_accuracy(ctx: AppContext) -> dict[tuple[str, str], float]:
    """Recompute the gauge for every service with verdicts in the window; what it set."""
    end = ctx.clock.now()
    start = end - timedelta(days=ctx.settings.monitoring.accuracy_window_days)
    values: dict[tuple[str, str], float] = {}
    counts: dict[tuple[str, str], int] = {}
    with ctx.sessions() as session:
        for slug in review.services_with_verdicts(session, start):
            for version, window in review.accuracy_by_version(session, slug, start=start, end=end).items():
                key = (slug, str(version) if version is not None else "none")
                if window.accuracy is not None:
                    values[key], counts[key] = window.accuracy, window.labelled
    for key, value in values.items():
        ACCURACY.labels(*key).set(value)
        LABELLED.labels(*key).set(counts[key])
    for key in _exported - values.keys():  # no verdict left in the window: no stale number
        ACCURACY.remove(*key)
        LABELLED.remove(*key)
    _exported.clear()
    _exported.update(values)
    return values
