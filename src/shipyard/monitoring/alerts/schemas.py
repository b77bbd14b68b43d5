"""Request and response shapes for alert rules, alerts, silences, channels and deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

PENDING, FIRING, RESOLVED = "pending", "firing", "resolved"
STATES = (PENDING, FIRING, RESOLVED)
ACTIVE = (PENDING, FIRING)

Comparison = Literal[">", ">=", "<", "<="]
Severity = Literal["info", "warning", "critical"]
NAME = r"^[a-z0-9](?:[a-z0-9_.-]{0,98}[a-z0-9])?$"


def duration_s(value: int | str) -> int:
    """Seconds from an int or a duration like 90s, 5m, 1h, 1d."""
    if isinstance(value, int):
        return value
    text = value.strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        if text and text[-1] in units:
            return int(float(text[:-1]) * units[text[-1]])
        return int(text)
    except ValueError:
        raise ValueError(f"{value!r} is not a duration: use seconds or e.g. 30s, 5m, 1h, 1d") from None


class RuleBase(BaseModel):
    description: str = ""
    service: str | None = Field(None, description="A service slug; omitted or null: every service.")
    comparison: Comparison = ">"
    threshold: float
    threshold_unit: Literal["value", "slo"] = Field(
        "value", description="`slo`: the threshold is a multiple of the service's latency_slo_ms."
    )
    window: int | str = Field("5m", description="Seconds, or a duration like 5m or 1h.")
    for_: int | str = Field(
        0, alias="for", description="How long the condition must hold before the alert fires."
    )
    severity: Severity = "warning"
    runbook_url: str = Field("", max_length=500, description="Default: the runbook page for the signal.")
    channels: list[str] = Field(default_factory=list, description="Names of the channels to notify.")
    enabled: bool = True

    model_config = ConfigDict(populate_by_name=True, validate_default=True)

    @field_validator("window", "for_")
    @classmethod
    def _duration(cls, value: int | str) -> int:
        seconds = duration_s(value)
        if seconds < 0 or seconds > 30 * 86400:
            raise ValueError("must be between 0 s and 30 days")
        return seconds


class RuleCreate(RuleBase):
    name: str = Field(pattern=NAME, description="Lower-case letters, digits, '-', '_' and '.'.")
    signal: str


class RuleUpdate(BaseModel):
    """Fields to change; the others keep their values."""

    model_config = ConfigDict(populate_by_name=True)

    description: str | None = None
    signal: str | None = None
    service: str | None = None
    comparison: Comparison | None = None
    threshold: float | None = None
    threshold_unit: Literal["value", "slo"] | None = None
    window: int | str | None = None
    for_: int | str | None = Field(None, alias="for")
    severity: Severity | None = None
    runbook_url: str | None = Field(None, max_length=500)
    channels: list[str] | None = None
    enabled: bool | None = None

    @field_validator("window", "for_")
    @classmethod
    def _duration(cls, value: int | str | None) -> int | None:
        return None if value is None else RuleBase._duration(value)


class RuleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    description: str
    signal: str
    service: str | None
    comparison: str
    threshold: float
    threshold_unit: str
    window_s: int
    for_s: int
    severity: str
    runbook_url: str
    channels: list[str]
    enabled: bool
    created_by: str
    created_at: datetime
    updated_at: datetime


class AlertRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    rule_id: str
    rule: str = Field(description="The rule's name.")
    signal: str
    severity: str
    runbook_url: str
    service: str = Field(description="The service slug, or * for a process-wide signal.")
    state: str = Field(description=" | ".join(STATES))
    value: float | None = Field(description="The latest value seen.")
    trigger_value: float | None = Field(description="The value when it began firing.")
    threshold: float
    comparison: str
    started_at: datetime
    fired_at: datetime | None
    resolved_at: datetime | None
    evaluated_at: datetime
    silenced: bool


class SilenceCreate(BaseModel):
    rule: str | None = Field(None, description="A rule's name or id; omitted: every rule.")
    service: str | None = Field(None, description="A service slug; omitted: every service.")
    starts_at: datetime | None = Field(None, description="Default: now.")
    ends_at: datetime | None = None
    duration: int | str | None = Field(None, description="Instead of ends_at: e.g. 2h.")
    reason: str = Field(min_length=1, max_length=2000)

    @field_validator("duration")
    @classmethod
    def _duration(cls, value: int | str | None) -> int | None:
        return None if value is None else duration_s(value)


class SilenceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    rule_id: str | None
    rule: str | None
    service: str | None
    starts_at: datetime
    ends_at: datetime
    created_by: str
    reason: str
    created_at: datetime
    active: bool
    status: str = Field(description="active | scheduled | ended")


class ChannelCreate(BaseModel):
    name: str = Field(pattern=NAME)
    kind: Literal["webhook", "email"]
    url: str | None = Field(None, description="webhook: the URL to POST to (a secret; never shown again).")
    recipients: list[str] = Field(default_factory=list, description="email: the addresses to send to.")
    enabled: bool = True


class ChannelUpdate(BaseModel):
    url: str | None = None
    recipients: list[str] | None = None
    enabled: bool | None = None


class ChannelRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    kind: str
    url_hint: str | None = Field(description="Scheme and host of the webhook; the URL itself is a secret.")
    recipients: list[str]
    enabled: bool
    created_by: str
    created_at: datetime
    updated_at: datetime


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    alert_id: str
    channel_id: str
    channel: str
    event: str = Field(description="firing | repeat | resolved")
    attempt: int
    ok: bool
    error: str | None
    at: datetime
