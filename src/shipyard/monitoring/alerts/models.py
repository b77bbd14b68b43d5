"""Alert rules, the alerts they raise, silences, notification channels and every delivery attempt."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shipyard.core.ids import new_id
from shipyard.db.base import Base

ALL_SERVICES = "*"  # the `service` of an alert from a rule over every service's process-wide signal


class AlertRule(Base):
    __tablename__ = "alert_rules"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    signal: Mapped[str] = mapped_column(String(50))
    service: Mapped[str | None] = mapped_column(String(100))  # None: every service
    comparison: Mapped[str] = mapped_column(String(2))  # > >= < <=
    threshold: Mapped[float] = mapped_column(Float)
    threshold_unit: Mapped[str] = mapped_column(String(10), default="value")  # value | slo (× latency SLO)
    window_s: Mapped[int]
    for_s: Mapped[int] = mapped_column(default=0)
    severity: Mapped[str] = mapped_column(String(10), default="warning")
    runbook_url: Mapped[str] = mapped_column(String(500), default="")
    channels: Mapped[list[str]]  # channel names
    enabled: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Alert(Base):
    """One episode of a rule's condition holding for one service: pending, then firing, then resolved.

    At most one alert per (rule, service) is pending or firing at a time (the evaluator is the only
    writer, and runs in one process per round); resolved alerts are the history."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_rule_service_state", "rule_id", "service", "state"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    rule_id: Mapped[str] = mapped_column(ForeignKey("alert_rules.id", ondelete="CASCADE"))
    service: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(10), index=True)  # pending | firing | resolved
    value: Mapped[float | None] = mapped_column(Float)  # the latest value seen
    trigger_value: Mapped[float | None] = mapped_column(Float)  # the value when it began firing
    threshold: Mapped[float] = mapped_column(Float)  # effective (× SLO already applied)
    started_at: Mapped[datetime]  # when the condition first held (pending since)
    fired_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    evaluated_at: Mapped[datetime]
    silenced: Mapped[bool] = mapped_column(default=False)  # at the latest evaluation


class Silence(Base):
    """Mute notifications for a rule and/or a service over a time range; alerts still change state."""

    __tablename__ = "alert_silences"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    rule_id: Mapped[str | None] = mapped_column(ForeignKey("alert_rules.id", ondelete="CASCADE"))
    service: Mapped[str | None] = mapped_column(String(100))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class AlertChannel(Base):
    """Where notifications go: a webhook (its URL sealed, it is a secret) or e-mail recipients."""

    __tablename__ = "alert_channels"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(10))  # webhook | email
    url_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)  # webhook: AES-GCM under the secret key
    url_hint: Mapped[str | None] = mapped_column(String(200))  # scheme://host/… shown instead of the URL
    recipients: Mapped[list[str]]  # email
    enabled: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AlertDelivery(Base):
    """One attempt to notify one channel of one alert event, whether it worked or not."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (Index("ix_alert_deliveries_alert_channel", "alert_id", "channel_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    channel_id: Mapped[str] = mapped_column(ForeignKey("alert_channels.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(10))  # firing | repeat | resolved
    attempt: Mapped[int]
    ok: Mapped[bool]
    error: Mapped[str | None] = mapped_column(String(500))
    at: Mapped[datetime] = mapped_column(index=True)
