"""The signal registry: named functions that compute one value per service over a window.

A rule names a signal; the evaluator asks it for values and compares them with the rule's threshold.
Built in: shares of outcomes, call volume and p95 latency from the `predictions` table (SQL
aggregates), and two process-state signals read from the evaluating process. Other domains add
theirs with one `register_signal(...)` call at import time (see docs/alerts.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from shipyard.core.errors import InvalidInput
from shipyard.monitoring.alerts.models import ALL_SERVICES
from shipyard.serving.models import Prediction

if TYPE_CHECKING:
    from shipyard.web.context import AppContext


@dataclass(frozen=True)
class SignalQuery:
    """What a signal function is asked: values for these services over [now - window, now]."""

    session: Session
    now: datetime
    window: timedelta
    services: Sequence[str]
    app: AppContext | None = None  # the evaluating process; None when evaluated outside a server

    @property
    def since(self) -> datetime:
        return self.now - self.window


# A signal returns {service slug: value}; a service it has no data for is left out (its rules hold
# no condition). A process-wide signal (per_service=False) returns {"*": value}.
SignalFn = Callable[[SignalQuery], Mapping[str, float]]
# PromQL for the same signal, from label matchers (e.g. 'service="echo"', or "") and a range ("5m").
PromQL = Callable[[str, str], str]


@dataclass(frozen=True)
class Signal:
    name: str
    fn: SignalFn
    description: str
    unit: str
    per_service: bool
    slo_relative: bool  # thresholds may be given as a multiple of the service's latency SLO
    promql: PromQL | None


_SIGNALS: dict[str, Signal] = {}


def register_signal(
    name: str,
    fn: SignalFn,
    *,
    description: str = "",
    unit: str = "",
    per_service: bool = True,
    slo_relative: bool = False,
    promql: PromQL | None = None,
) -> Signal:
    """Add (or replace) a signal rules can name; `promql` makes rules over it exportable to Prometheus."""
    signal = Signal(name, fn, description, unit, per_service, slo_relative, promql)
    _SIGNALS[name] = signal
    return signal


def get_signal(name: str) -> Signal:
    try:
        return _SIGNALS[name]
    except KeyError:
        known = ", ".join(sorted(_SIGNALS))
        raise InvalidInput(f"no signal {name!r}; known signals: {known}", code="unknown_signal") from None


def all_signals() -> list[Signal]:
    return [_SIGNALS[name] for name in sorted(_SIGNALS)]


def matchers(*parts: str) -> str:
    """`{a,b}` from the non-empty label matchers given (PromQL); empty when there are none."""
    kept = [p for p in parts if p]
    return "{" + ",".join(kept) + "}" if kept else ""


# -- from recorded predictions ----------------------------------------------------------------------


def _in_window(q: SignalQuery) -> list[object]:
    return [
        Prediction.service.in_(list(q.services)),
        Prediction.started_at >= q.since,
        Prediction.started_at <= q.now,
    ]


def outcome_share(outcome: str) -> SignalFn:
    """The share (0 to 1) of a window's calls that ended with `outcome`."""

    def share(q: SignalQuery) -> dict[str, float]:
        rows = q.session.execute(
            select(
                Prediction.service,
                func.count(),
                func.sum(case((Prediction.outcome == outcome, 1), else_=0)),
            )
            .where(*_in_window(q))  # type: ignore[arg-type]
            .group_by(Prediction.service)
        )
        return {service: float(hits or 0) / total for service, total, hits in rows if total}

    return share


def call_volume(q: SignalQuery) -> dict[str, float]:
    rows = q.session.execute(
        select(Prediction.service, func.count())
        .where(*_in_window(q))  # type: ignore[arg-type]
        .group_by(Prediction.service)
    )
    found = {service: float(n) for service, n in rows}
    return {service: found.get(service, 0.0) for service in q.services}  # no calls is a value: 0


def p95_latency_ms(q: SignalQuery) -> dict[str, float]:
    """The 95th percentile of latency_ms, interpolated like PostgreSQL's percentile_cont(0.95)."""
    if q.session.get_bind().dialect.name == "postgresql":
        rows = q.session.execute(
            select(Prediction.service, func.percentile_cont(0.95).within_group(Prediction.latency_ms))
            .where(*_in_window(q))  # type: ignore[arg-type]
            .group_by(Prediction.service)
        )
        return {service: float(value) for service, value in rows if value is not None}
    # SQLite has no percentile: count the window, then read just the two ranks around the 95th
    # percentile (exact, and the database does the sorting).
    counts = q.session.execute(
        select(Prediction.service, func.count())
        .where(*_in_window(q))  # type: ignore[arg-type]
        .group_by(Prediction.service)
    )
    values: dict[str, float] = {}
    for service, n in list(counts):
        rank = 0.95 * (n - 1)
        low = int(rank)
        pair = list(
            q.session.scalars(
                select(Prediction.latency_ms)
                .where(*_in_window(q), Prediction.service == service)  # type: ignore[arg-type]
                .order_by(Prediction.latency_ms)
                .offset(low)
                .limit(2)
            )
        )
        upper = pair[1] if len(pair) > 1 else pair[0]
        values[service] = pair[0] + (upper - pair[0]) * (rank - low)
    return values


# -- from the evaluating process ----------------------------------------------------------------------


def spool_backlog(q: SignalQuery) -> dict[str, float]:
    """Records this process has spooled and not yet shipped to the database."""
    if q.app is None:
        return {}
    for name, _, value in q.app.metric_samples():
        if name == "shipyard_spool_backlog_records":
            return {ALL_SERVICES: float(value)}
    return {}


def breaker_open(q: SignalQuery) -> dict[str, float]:
    """How many of each service's versions have an open circuit breaker in this process."""
    if q.app is None:
        return {}
    wanted = set(q.services)
    values = dict.fromkeys(q.services, 0.0)
    for name, labels, value in q.app.metric_samples():
        if name == "shipyard_breaker_state" and labels.get("service") in wanted and value == 2:
            values[labels["service"]] += 1
    return values


def _share_promql(outcome: str) -> PromQL:
    def expr(m: str, w: str) -> str:
        hits = matchers(f'outcome="{outcome}"', m)
        return (
            f"sum by (service) (rate(shipyard_calls_total{hits}[{w}]))"
            f" / sum by (service) (rate(shipyard_calls_total{matchers(m)}[{w}]))"
        )

    return expr


def _register_builtins() -> None:
    for name, outcome, what in (
        ("error_rate", "failed", "Share of calls that failed (0 to 1)"),
        ("fallback_rate", "fallback", "Share of calls answered by a fallback step (0 to 1)"),
        ("abstention_rate", "abstained", "Share of calls where the model abstained (0 to 1)"),
    ):
        register_signal(
            name, outcome_share(outcome), description=what, unit="ratio", promql=_share_promql(outcome)
        )
    register_signal(
        "call_volume",
        call_volume,
        description="Calls recorded in the window",
        unit="calls",
        promql=lambda m, w: f"sum by (service) (increase(shipyard_calls_total{matchers(m)}[{w}]))",
    )
    register_signal(
        "p95_latency_ms",
        p95_latency_ms,
        description="95th percentile latency in the window (ms); thresholds may be × the latency SLO",
        unit="ms",
        slo_relative=True,
        promql=lambda m, w: (
            "1000 * histogram_quantile(0.95, sum by (service, le) "
            f"(rate(shipyard_call_latency_seconds_bucket{matchers(m)}[{w}])))"
        ),
    )
    register_signal(
        "spool_backlog",
        spool_backlog,
        description="Unshipped records in the evaluating process's spool (Prometheus sees every worker)",
        unit="records",
        per_service=False,
        promql=lambda m, w: "max by (instance) (shipyard_spool_backlog_records)",
    )
    register_signal(
        "breaker_open",
        breaker_open,
        description="Versions with an open circuit breaker in the evaluating process",
        unit="versions",
        promql=lambda m, w: f"count by (service) (shipyard_breaker_state{matchers(m)} == 2)",
    )


_register_builtins()

# The drift and accuracy signals sit beside the domains they read; importing them here means every
# process that knows any signal (the API validating a rule, the evaluator, the exports) knows them too.
from shipyard.monitoring.alerts import quality_signals as _quality  # noqa: E402, F401
