"""Alert rules, silences and channels: create, change, list. Every change is audited."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from shipyard.audit.service import Actor, record
from shipyard.core.errors import Conflict, InvalidInput, NotFound
from shipyard.monitoring.alerts import channels as senders
from shipyard.monitoring.alerts.defaults import DEFAULT_RULES, runbook_for
from shipyard.monitoring.alerts.models import Alert, AlertChannel, AlertDelivery, AlertRule, Silence
from shipyard.monitoring.alerts.schemas import (
    AlertRead,
    ChannelCreate,
    ChannelRead,
    ChannelUpdate,
    DeliveryRead,
    RuleCreate,
    RuleRead,
    RuleUpdate,
    SilenceCreate,
    SilenceRead,
)
from shipyard.monitoring.alerts.signals import get_signal
from shipyard.registry import service as registry

# -- rules --------------------------------------------------------------------------------------------


def get_rule(session: Session, name_or_id: str) -> AlertRule:
    rule = session.scalar(
        select(AlertRule).where(or_(AlertRule.name == name_or_id, AlertRule.id == name_or_id))
    )
    if rule is None:
        raise NotFound(f"no alert rule {name_or_id!r}", code="rule_not_found")
    return rule


def list_rules(session: Session) -> list[AlertRule]:
    return list(session.scalars(select(AlertRule).order_by(AlertRule.name)))


def _check_rule(session: Session, rule: AlertRule) -> None:
    signal = get_signal(rule.signal)
    if rule.threshold_unit == "slo" and not signal.slo_relative:
        raise InvalidInput(
            f"signal {rule.signal!r} has no SLO to multiply: use threshold_unit 'value'", code="bad_rule"
        )
    if rule.service is not None:
        if not signal.per_service:
            raise InvalidInput(
                f"signal {rule.signal!r} is process-wide: leave the rule's service empty", code="bad_rule"
            )
        registry.get_service(session, rule.service)
    if rule.window_s <= 0:
        raise InvalidInput("the window must be longer than 0 s", code="bad_rule")
    known = set(session.scalars(select(AlertChannel.name).where(AlertChannel.name.in_(rule.channels))))
    missing = [name for name in rule.channels if name not in known]
    if missing:
        raise InvalidInput(f"no alert channel named {', '.join(missing)}", code="unknown_channel")


def _rule_view(rule: AlertRule) -> dict[str, Any]:
    return RuleRead.model_validate(rule).model_dump(mode="json", exclude={"created_at", "updated_at"})


def create_rule(session: Session, actor: Actor, data: RuleCreate, *, runbook_base: str) -> AlertRule:
    if session.scalar(select(AlertRule.id).where(AlertRule.name == data.name)):
        raise Conflict(f"an alert rule {data.name!r} already exists", code="rule_exists")
    now = actor.clock.now()
    rule = AlertRule(
        name=data.name,
        description=data.description,
        signal=data.signal,
        service=data.service,
        comparison=data.comparison,
        threshold=data.threshold,
        threshold_unit=data.threshold_unit,
        window_s=int(data.window),
        for_s=int(data.for_),
        severity=data.severity,
        runbook_url=data.runbook_url or runbook_for(data.signal, runbook_base),
        channels=list(dict.fromkeys(data.channels)),
        enabled=data.enabled,
        created_by=actor.name,
        created_at=now,
        updated_at=now,
    )
    _check_rule(session, rule)
    session.add(rule)
    session.flush()
    record(
        session,
        actor,
        "alert_rule.create",
        "alert_rule",
        rule.name,
        service=rule.service,
        after=_rule_view(rule),
    )
    return rule


def update_rule(session: Session, actor: Actor, name: str, data: RuleUpdate) -> AlertRule:
    rule = get_rule(session, name)
    before = _rule_view(rule)
    changes = data.model_dump(exclude_unset=True)
    renamed = {"window": "window_s", "for_": "for_s"}
    for field, value in changes.items():
        if value is None and field != "service":
            continue
        setattr(rule, renamed.get(field, field), list(dict.fromkeys(value)) if field == "channels" else value)
    _check_rule(session, rule)
    rule.updated_at = actor.clock.now()
    session.flush()
    record(
        session,
        actor,
        "alert_rule.update",
        "alert_rule",
        rule.name,
        service=rule.service,
        before=before,
        after=_rule_view(rule),
    )
    return rule


def delete_rule(session: Session, actor: Actor, name: str) -> None:
    """Delete a rule with its alerts, silences and their delivery records."""
    rule = get_rule(session, name)
    before = _rule_view(rule)
    session.delete(rule)
    session.flush()
    record(
        session,
        actor,
        "alert_rule.delete",
        "alert_rule",
        before["name"],
        service=before["service"],
        before=before,
    )


def install_default_rules(
    session: Session, actor: Actor, *, runbook_base: str, channels: list[str] | None = None
) -> list[AlertRule]:
    """Create the default rules (over every service) that do not exist yet; the ones created."""
    existing = set(session.scalars(select(AlertRule.name)))
    made = []
    for spec in DEFAULT_RULES:
        if spec["name"] not in existing:
            data = RuleCreate.model_validate({**spec, "channels": channels or []})
            made.append(create_rule(session, actor, data, runbook_base=runbook_base))
    return made


# -- alerts and deliveries ------------------------------------------------------------------------------


def alert_read(alert: Alert, rule: AlertRule) -> AlertRead:
    return AlertRead(
        id=alert.id,
        rule_id=rule.id,
        rule=rule.name,
        signal=rule.signal,
        severity=rule.severity,
        runbook_url=rule.runbook_url,
        service=alert.service,
        state=alert.state,
        value=alert.value,
        trigger_value=alert.trigger_value,
        threshold=alert.threshold,
        comparison=rule.comparison,
        started_at=alert.started_at,
        fired_at=alert.fired_at,
        resolved_at=alert.resolved_at,
        evaluated_at=alert.evaluated_at,
        silenced=alert.silenced,
    )


def list_alerts(
    session: Session, *, state: str | None = None, service: str | None = None, limit: int = 200
) -> list[AlertRead]:
    """Alerts, newest first; firing before pending before resolved when no state is asked for."""
    query = select(Alert, AlertRule).join(AlertRule, AlertRule.id == Alert.rule_id)
    if state is not None:
        query = query.where(Alert.state == state)
    if service is not None:
        query = query.where(Alert.service == service)
    rows = session.execute(query.order_by(Alert.started_at.desc(), Alert.id.desc()).limit(limit))
    reads = [alert_read(alert, rule) for alert, rule in rows]
    order = {"firing": 0, "pending": 1, "resolved": 2}
    return sorted(reads, key=lambda a: order.get(a.state, 3))  # stable: newest first within a state


def get_alert(session: Session, alert_id: str) -> AlertRead:
    row = session.execute(
        select(Alert, AlertRule).join(AlertRule, AlertRule.id == Alert.rule_id).where(Alert.id == alert_id)
    ).first()
    if row is None:
        raise NotFound(f"no alert {alert_id!r}", code="alert_not_found")
    return alert_read(row[0], row[1])


def list_deliveries(session: Session, *, alert_id: str | None = None, limit: int = 200) -> list[DeliveryRead]:
    query = select(AlertDelivery, AlertChannel.name).join(
        AlertChannel, AlertChannel.id == AlertDelivery.channel_id
    )
    if alert_id is not None:
        query = query.where(AlertDelivery.alert_id == alert_id)
    rows = session.execute(query.order_by(AlertDelivery.at.desc(), AlertDelivery.id.desc()).limit(limit))
    return [
        DeliveryRead(
            id=d.id,
            alert_id=d.alert_id,
            channel_id=d.channel_id,
            channel=name,
            event=d.event,
            attempt=d.attempt,
            ok=d.ok,
            error=d.error,
            at=d.at,
        )
        for d, name in rows
    ]


# -- silences -------------------------------------------------------------------------------------------


def silence_read(silence: Silence, rule_name: str | None, now: datetime) -> SilenceRead:
    return SilenceRead(
        id=silence.id,
        rule_id=silence.rule_id,
        rule=rule_name,
        service=silence.service,
        starts_at=silence.starts_at,
        ends_at=silence.ends_at,
        created_by=silence.created_by,
        reason=silence.reason,
        created_at=silence.created_at,
        active=silence.starts_at <= now < silence.ends_at,
        status="ended" if silence.ends_at <= now else "active" if silence.starts_at <= now else "scheduled",
    )


def list_silences(session: Session, now: datetime, *, include_expired: bool = False) -> list[SilenceRead]:
    query = select(Silence, AlertRule.name).outerjoin(AlertRule, AlertRule.id == Silence.rule_id)
    if not include_expired:
        query = query.where(Silence.ends_at > now)
    rows = session.execute(query.order_by(Silence.starts_at.desc()))
    return [silence_read(s, name, now) for s, name in rows]


def create_silence(session: Session, actor: Actor, data: SilenceCreate) -> Silence:
    if data.rule is None and data.service is None:
        raise InvalidInput("a silence must name a rule, a service, or both", code="bad_silence")
    now = actor.clock.now()
    starts = data.starts_at or now
    if data.ends_at is not None and data.duration is not None:
        raise InvalidInput("give ends_at or duration, not both", code="bad_silence")
    if data.ends_at is None and data.duration is None:
        raise InvalidInput("say when the silence ends: ends_at or duration (e.g. 2h)", code="bad_silence")
    ends = data.ends_at or starts + timedelta(seconds=int(data.duration or 0))
    if starts.tzinfo is None or ends.tzinfo is None:
        raise InvalidInput("give times with a time zone, e.g. 2026-01-31T09:00:00Z", code="bad_silence")
    if ends <= starts or ends <= now:
        raise InvalidInput("the silence must end after it starts, and in the future", code="bad_silence")
    rule = get_rule(session, data.rule) if data.rule is not None else None
    if data.service is not None and data.service != "*":
        registry.get_service(session, data.service)
    silence = Silence(
        rule_id=rule.id if rule else None,
        service=data.service,
        starts_at=starts,
        ends_at=ends,
        created_by=actor.name,
        reason=data.reason,
        created_at=now,
    )
    session.add(silence)
    session.flush()
    view = silence_read(silence, rule.name if rule else None, now).model_dump(mode="json")
    record(
        session, actor, "alert_silence.create", "alert_silence", silence.id, service=data.service, after=view
    )
    return silence


def expire_silence(session: Session, actor: Actor, silence_id: str) -> Silence:
    """End a silence now (it stays listed as history)."""
    silence = session.get(Silence, silence_id)
    if silence is None:
        raise NotFound(f"no silence {silence_id!r}", code="silence_not_found")
    now = actor.clock.now()
    if silence.ends_at <= now:
        raise Conflict("the silence has already ended", code="silence_ended")
    before = {"ends_at": silence.ends_at.isoformat()}
    silence.ends_at = max(now, silence.starts_at)
    session.flush()
    record(
        session,
        actor,
        "alert_silence.expire",
        "alert_silence",
        silence.id,
        service=silence.service,
        before=before,
        after={"ends_at": silence.ends_at.isoformat()},
    )
    return silence


def silenced(session: Session, rule_id: str, service: str, now: datetime) -> bool:
    """Whether an active silence covers this rule and service."""
    found = session.scalar(
        select(Silence.id)
        .where(
            Silence.starts_at <= now,
            Silence.ends_at > now,
            or_(Silence.rule_id.is_(None), Silence.rule_id == rule_id),
            or_(Silence.service.is_(None), Silence.service == service),
        )
        .limit(1)
    )
    return found is not None


# -- channels ---------------------------------------------------------------------------------------------


def get_channel(session: Session, name_or_id: str) -> AlertChannel:
    channel = session.scalar(
        select(AlertChannel).where(or_(AlertChannel.name == name_or_id, AlertChannel.id == name_or_id))
    )
    if channel is None:
        raise NotFound(f"no alert channel {name_or_id!r}", code="channel_not_found")
    return channel


def list_channels(session: Session) -> list[AlertChannel]:
    return list(session.scalars(select(AlertChannel).order_by(AlertChannel.name)))


def _channel_view(channel: AlertChannel) -> dict[str, Any]:
    # The view never holds the webhook URL: it is a secret, and the audit trail is widely read.
    return ChannelRead.model_validate(channel).model_dump(mode="json", exclude={"created_at", "updated_at"})


def _set_target(channel: AlertChannel, url: str | None, recipients: list[str] | None, secret: str) -> None:
    if channel.kind == "webhook":
        if url is not None:
            channel.url_hint = senders.check_webhook_url(url)
            channel.url_sealed = senders.seal(url, secret)
        if channel.url_sealed is None:
            raise InvalidInput("a webhook channel needs a url", code="bad_channel")
        if recipients:
            raise InvalidInput("a webhook channel has no recipients", code="bad_channel")
    else:
        if url is not None:
            raise InvalidInput("an email channel has recipients, not a url", code="bad_channel")
        if recipients is not None:
            channel.recipients = senders.check_recipients(recipients)
        if not channel.recipients:
            raise InvalidInput("an email channel needs at least one recipient", code="bad_channel")


def create_channel(session: Session, actor: Actor, data: ChannelCreate, *, secret: str) -> AlertChannel:
    if session.scalar(select(AlertChannel.id).where(AlertChannel.name == data.name)):
        raise Conflict(f"an alert channel {data.name!r} already exists", code="channel_exists")
    now = actor.clock.now()
    channel = AlertChannel(
        name=data.name,
        kind=data.kind,
        recipients=[],
        enabled=data.enabled,
        created_by=actor.name,
        created_at=now,
        updated_at=now,
    )
    _set_target(
        channel, data.url, data.recipients or None if data.kind == "webhook" else data.recipients, secret
    )
    session.add(channel)
    session.flush()
    record(
        session, actor, "alert_channel.create", "alert_channel", channel.name, after=_channel_view(channel)
    )
    return channel


def update_channel(
    session: Session, actor: Actor, name: str, data: ChannelUpdate, *, secret: str
) -> AlertChannel:
    channel = get_channel(session, name)
    before = _channel_view(channel)
    _set_target(channel, data.url, data.recipients, secret)
    if data.enabled is not None:
        channel.enabled = data.enabled
    channel.updated_at = actor.clock.now()
    session.flush()
    after = _channel_view(channel)
    if data.url is not None:
        after["url"] = "(replaced)"  # say that it changed, never what it is
    record(session, actor, "alert_channel.update", "alert_channel", channel.name, before=before, after=after)
    return channel


def delete_channel(session: Session, actor: Actor, name: str) -> None:
    channel = get_channel(session, name)
    used = [r.name for r in list_rules(session) if channel.name in r.channels]
    if used:
        raise Conflict(
            f"channel {channel.name!r} is used by rules {', '.join(used)}; remove it from them first",
            code="channel_in_use",
        )
    before = _channel_view(channel)
    session.delete(channel)
    session.flush()
    record(session, actor, "alert_channel.delete", "alert_channel", before["name"], before=before)
