"""One evaluation round: compute each rule's signal, move alerts pending -> firing -> resolved, and
notify the rules' channels of what changed (once, then every repeat interval while firing).

Runs as a periodic job (one process per round, see db/periodic.py), so it is the only writer of
alert states. State changes commit before any notification is sent: a slow webhook never holds a
transaction, and each delivery attempt is recorded in a transaction of its own.
"""

from __future__ import annotations

import logging
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from shipyard.audit.service import Actor, record
from shipyard.core.clock import Clock
from shipyard.core.config import Settings
from shipyard.db.session import unit_of_work
from shipyard.monitoring.alerts import channels as senders
from shipyard.monitoring.alerts import service as alerts
from shipyard.monitoring.alerts.models import ALL_SERVICES, Alert, AlertChannel, AlertDelivery, AlertRule
from shipyard.monitoring.alerts.schemas import ACTIVE, FIRING, PENDING, RESOLVED
from shipyard.monitoring.alerts.signals import SignalQuery, get_signal
from shipyard.registry import service as registry

if TYPE_CHECKING:
    from shipyard.web.context import AppContext

log = logging.getLogger(__name__)

COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
RESOLVED_NOTICE_HORIZON = timedelta(days=1)  # a resolved notice undeliverable for a day is dropped


@dataclass
class Round:
    """What one round did: state changes as (rule, service, from, to), and delivery attempts."""

    transitions: list[tuple[str, str, str | None, str]] = field(default_factory=list)
    attempts: int = 0
    delivered: int = 0


def evaluate_round(
    sessions: sessionmaker[Session],
    settings: Settings,
    clock: Clock,
    http: httpx.BaseTransport,
    app: AppContext | None = None,
) -> Round:
    """Evaluate every enabled rule, then send the notifications that are due."""
    result = Round()
    now = clock.now()
    actor = Actor.system("shipyard-alerts", clock)
    with unit_of_work(sessions) as session:
        evaluate_rules(session, actor, now, app, result)
    notify_due(sessions, settings, clock, http, result)
    return result


def evaluate_rules(
    session: Session, actor: Actor, now: datetime, app: AppContext | None, result: Round
) -> None:
    slos = {s.slug: s.latency_slo_ms for s in registry.list_services(session)}
    rules = list(session.scalars(select(AlertRule).where(AlertRule.enabled.is_(True))))
    active = {
        (a.rule_id, a.service): a for a in session.scalars(select(Alert).where(Alert.state.in_(ACTIVE)))
    }
    names = {r.id: r.name for r in session.scalars(select(AlertRule))}
    seen: set[tuple[str, str]] = set()
    computed: dict[tuple[str, int, tuple[str, ...]], dict[str, float]] = {}
    for rule in rules:
        targets = [rule.service] if rule.service else sorted(slos)
        targets = [t for t in targets if t in slos]
        try:
            signal = get_signal(rule.signal)
            key = (rule.signal, rule.window_s, tuple(targets))
            if key not in computed:
                query = SignalQuery(session, now, timedelta(seconds=rule.window_s), targets, app)
                with session.begin_nested():  # a failing signal must not abort the round's transaction
                    computed[key] = dict(signal.fn(query))
            values = computed[key]
        except Exception:
            log.exception("alert rule %s: signal %s could not be computed", rule.name, rule.signal)
            seen.update(k for k in active if k[0] == rule.id)  # keep its alerts as they are
            continue
        for service in targets if signal.per_service else [ALL_SERVICES]:
            threshold = rule.threshold
            if rule.threshold_unit == "slo":
                threshold = rule.threshold * slos[service]
            value = values.get(service)
            holds = value is not None and COMPARE[rule.comparison](value, threshold)
            seen.add((rule.id, service))
            _step(
                session,
                actor,
                now,
                rule,
                service,
                active.get((rule.id, service)),
                value,
                threshold,
                holds,
                result,
            )
    for fingerprint, alert in active.items():  # rule disabled or changed, service gone: it is over
        if fingerprint not in seen:
            _move(session, actor, now, names.get(alert.rule_id, alert.rule_id), alert, RESOLVED, result)


def _step(
    session: Session,
    actor: Actor,
    now: datetime,
    rule: AlertRule,
    service: str,
    alert: Alert | None,
    value: float | None,
    threshold: float,
    holds: bool,
    result: Round,
) -> None:
    if alert is None:
        if not holds:
            return
        alert = Alert(
            rule_id=rule.id,
            service=service,
            state=PENDING,
            value=value,
            threshold=threshold,
            started_at=now,
            evaluated_at=now,
            silenced=alerts.silenced(session, rule.id, service, now),
        )
        session.add(alert)
        session.flush()
        _audit(session, actor, rule.name, alert, None)
        result.transitions.append((rule.name, service, None, PENDING))
    else:
        alert.value, alert.threshold, alert.evaluated_at = value, threshold, now
        if not holds:
            _move(session, actor, now, rule.name, alert, RESOLVED, result)
            return
        alert.silenced = alerts.silenced(session, rule.id, service, now)
    if alert.state == PENDING and now - alert.started_at >= timedelta(seconds=rule.for_s):
        alert.trigger_value = value
        _move(session, actor, now, rule.name, alert, FIRING, result)


def _move(
    session: Session, actor: Actor, now: datetime, rule: str, alert: Alert, to: str, result: Round
) -> None:
    before = alert.state
    alert.state = to
    if to == FIRING:
        alert.fired_at = now
    elif to == RESOLVED:
        alert.resolved_at = now
    session.flush()
    _audit(session, actor, rule, alert, before)
    result.transitions.append((rule, alert.service, before, to))


def _audit(session: Session, actor: Actor, rule: str, alert: Alert, before: str | None) -> None:
    record(
        session,
        actor,
        f"alert.{alert.state}",
        "alert",
        alert.id,
        service=None if alert.service == ALL_SERVICES else alert.service,
        before={"state": before} if before else None,
        after={
            "rule": rule,
            "state": alert.state,
            "value": alert.value,
            "threshold": alert.threshold,
            "silenced": alert.silenced,
        },
    )


# -- notifications ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Due:
    alert_id: str
    channel_id: str
    kind: str
    target: str | list[str]  # webhook URL, or e-mail recipients
    notice: senders.Notice


def notify_due(
    sessions: sessionmaker[Session],
    settings: Settings,
    clock: Clock,
    http: httpx.BaseTransport,
    result: Round,
) -> None:
    with unit_of_work(sessions) as session:
        due = _due(session, settings, clock.now())
    for item in due:

        def record_attempt(attempt: int, ok: bool, error: str | None, item: _Due = item) -> None:
            result.attempts += 1
            with unit_of_work(sessions) as s:
                s.add(
                    AlertDelivery(
                        alert_id=item.alert_id,
                        channel_id=item.channel_id,
                        event=item.notice.event,
                        attempt=attempt,
                        ok=ok,
                        error=error,
                        at=clock.now(),
                    )
                )

        def send(item: _Due = item) -> None:
            if isinstance(item.target, str):
                senders.send_webhook(http, item.target, item.notice, settings.alerts.delivery_timeout_s)
            else:
                senders.send_email(settings.alerts.smtp, item.target, item.notice)

        if senders.with_retries(send, record_attempt, settings.alerts):
            result.delivered += 1
        else:
            log.warning(
                "alert %s: could not notify channel %s (%s)", item.alert_id, item.channel_id, item.kind
            )


def _due(session: Session, settings: Settings, now: datetime) -> list[_Due]:
    """Every (alert, channel) that should be told something now, and what."""
    candidates = session.execute(
        select(Alert, AlertRule)
        .join(AlertRule, AlertRule.id == Alert.rule_id)
        .where(
            (Alert.state == FIRING)
            | (
                (Alert.state == RESOLVED)
                & Alert.fired_at.is_not(None)
                & (Alert.resolved_at >= now - RESOLVED_NOTICE_HORIZON)
            )
        )
    ).all()
    wanted = {name for _, rule in candidates for name in rule.channels}
    if not wanted:
        return []
    by_name = {
        c.name: c
        for c in session.scalars(
            select(AlertChannel).where(AlertChannel.name.in_(wanted), AlertChannel.enabled.is_(True))
        )
    }
    # The latest successful delivery of each event, per alert and channel.
    last_ok: dict[tuple[str, str, str], datetime] = {
        (alert_id, channel_id, event): at
        for alert_id, channel_id, event, at in session.execute(
            select(
                AlertDelivery.alert_id,
                AlertDelivery.channel_id,
                AlertDelivery.event,
                func.max(AlertDelivery.at),
            )
            .where(AlertDelivery.alert_id.in_([a.id for a, _ in candidates]), AlertDelivery.ok.is_(True))
            .group_by(AlertDelivery.alert_id, AlertDelivery.channel_id, AlertDelivery.event)
        )
    }
    repeat = timedelta(seconds=settings.alerts.repeat_interval_s)
    link_base = settings.public_url.rstrip("/") if settings.public_url else None
    due = []
    for alert, rule in candidates:
        for name in rule.channels:
            channel = by_name.get(name)
            if channel is None:
                continue
            told = [last_ok.get((alert.id, channel.id, e)) for e in ("firing", "repeat")]
            last_fired = max((t for t in told if t is not None), default=None)
            if alerts.silenced(session, rule.id, alert.service, now):
                continue  # it still changes state, but tells no one; told once the silence ends
            if alert.state == FIRING:
                if last_fired is None:
                    event = "firing"
                elif now - last_fired >= repeat:
                    event = "repeat"
                else:
                    continue
            else:  # resolved: tell the channels that heard it fire, once
                if last_fired is None or (alert.id, channel.id, "resolved") in last_ok:
                    continue
                event = "resolved"
            try:
                target: str | list[str] = (
                    senders.unseal(channel.url_sealed or b"", settings.secret())
                    if channel.kind == "webhook"
                    else list(channel.recipients)
                )
            except Exception as exc:  # a changed secret key: say so in the log, deliver the rest
                log.error("alert channel %s: %s", channel.name, exc)
                continue
            notice = senders.Notice(
                event=event,
                alert_id=alert.id,
                rule=rule.name,
                signal=rule.signal,
                severity=rule.severity,
                service=alert.service,
                value=alert.trigger_value if event == "firing" else alert.value,
                comparison=rule.comparison,
                threshold=alert.threshold,
                started_at=alert.started_at,
                fired_at=alert.fired_at,
                resolved_at=alert.resolved_at,
                runbook_url=rule.runbook_url,
                link=f"{link_base}/alerts/{alert.id}" if link_base else None,
            )
            due.append(_Due(alert.id, channel.id, channel.kind, target, notice))
    return due
