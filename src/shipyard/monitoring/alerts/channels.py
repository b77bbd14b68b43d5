"""Notification channels: a Slack-compatible webhook and e-mail over SMTP, retried with backoff.

A webhook URL usually carries its own credential (Slack's do), so it is sealed at rest with a key
derived from the instance secret, shown only as scheme and host, and scrubbed from error text.
"""

from __future__ import annotations

import os
import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from shipyard.core.config import AlertSettings, SmtpSettings
from shipyard.core.errors import IntegrityFailure, InvalidInput

_NONCE = 12


def _key(secret: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"shipyard/alerts/v1").derive(
        secret.encode()
    )


def seal(url: str, secret: str) -> bytes:
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(_key(secret)).encrypt(nonce, url.encode(), b"webhook")


def unseal(sealed: bytes, secret: str) -> str:
    try:
        return AESGCM(_key(secret)).decrypt(sealed[:_NONCE], sealed[_NONCE:], b"webhook").decode()
    except InvalidTag:
        raise IntegrityFailure(
            "a webhook URL cannot be read with this secret key (was SHIPYARD_SECRET_KEY changed?); "
            "set the channel's url again",
            code="channel_unreadable",
        ) from None


def check_webhook_url(url: str) -> str:
    """Validate a webhook URL; the hint that may be shown in its place."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("a webhook url must be an http:// or https:// URL", code="bad_channel")
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}/…"


def check_recipients(recipients: list[str]) -> list[str]:
    cleaned = []
    for value in recipients:
        _, address = parseaddr(value)
        if "@" not in address or address != value.strip():
            raise InvalidInput(f"{value!r} is not an e-mail address", code="bad_channel")
        cleaned.append(address)
    return list(dict.fromkeys(cleaned))


# -- the message -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Notice:
    """What a notification says about one alert event."""

    event: str  # firing | repeat | resolved
    alert_id: str
    rule: str
    signal: str
    severity: str
    service: str
    value: float | None
    comparison: str
    threshold: float
    started_at: datetime
    fired_at: datetime | None
    resolved_at: datetime | None
    runbook_url: str
    link: str | None  # the alert in the console, when the public URL is known

    @property
    def headline(self) -> str:
        label = {"firing": "FIRING", "repeat": "STILL FIRING", "resolved": "RESOLVED"}[self.event]
        where = "all services" if self.service == "*" else self.service
        return f"[{label}] {self.rule} on {where} ({self.severity})"

    @property
    def detail(self) -> str:
        value = "no data" if self.value is None else f"{self.value:.4g}"
        lines = [f"{self.signal} = {value} (rule: {self.comparison} {self.threshold:.4g})"]
        lines.append(f"since {self.started_at.isoformat(timespec='seconds')}")
        if self.resolved_at is not None:
            lines.append(f"resolved {self.resolved_at.isoformat(timespec='seconds')}")
        if self.runbook_url:
            lines.append(f"runbook: {self.runbook_url}")
        if self.link:
            lines.append(f"alert: {self.link}")
        return "\n".join(lines)

    def slack_body(self) -> dict[str, Any]:
        """A Slack incoming-webhook body (`text` for any chat tool) plus the alert as plain fields."""
        return {
            "text": f"{self.headline}\n{self.detail}",
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": self.headline[:150]}},
                {"type": "section", "text": {"type": "mrkdwn", "text": self.detail}},
            ],
            "shipyard": {
                "event": self.event,
                "alert_id": self.alert_id,
                "rule": self.rule,
                "signal": self.signal,
                "severity": self.severity,
                "service": self.service,
                "value": self.value,
                "comparison": self.comparison,
                "threshold": self.threshold,
                "started_at": self.started_at.isoformat(),
                "fired_at": self.fired_at.isoformat() if self.fired_at else None,
                "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
                "runbook_url": self.runbook_url,
            },
        }


# -- sending -------------------------------------------------------------------------------------------


class DeliveryFailed(Exception):
    """One attempt failed; `retry` says whether another attempt could help."""

    def __init__(self, reason: str, *, retry: bool = True) -> None:
        super().__init__(reason)
        self.retry = retry


def send_webhook(http: httpx.BaseTransport, url: str, notice: Notice, timeout_s: float) -> None:
    """POST the notice. Straight to the transport: httpx's client would log the URL, a secret."""
    timeout = httpx.Timeout(timeout_s)
    request = httpx.Request("POST", url, json=notice.slack_body(), extensions={"timeout": timeout.as_dict()})
    try:
        response = http.handle_request(request)
        try:
            text = response.read()[:200].decode(errors="replace")
        finally:
            response.close()
    except httpx.HTTPError as exc:
        reason = f"{type(exc).__name__}: {exc}".replace(url, check_webhook_url(url))
        raise DeliveryFailed(reason) from None
    if response.status_code >= 300:
        # 5xx and 429 are worth another try; any other refusal (a revoked hook) will not change.
        retry = response.status_code >= 500 or response.status_code == 429
        raise DeliveryFailed(f"HTTP {response.status_code}: {text}", retry=retry)


def send_email(smtp: SmtpSettings, recipients: list[str], notice: Notice) -> None:
    if not smtp.host:
        raise DeliveryFailed("no mail server: set SHIPYARD_ALERTS__SMTP__HOST", retry=False)
    message = EmailMessage()
    message["Subject"] = notice.headline
    message["From"] = smtp.sender
    message["To"] = ", ".join(recipients)
    message.set_content(notice.detail + "\n")
    try:
        client: smtplib.SMTP
        if smtp.ssl:
            client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout_s)
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_s)
        with client:
            if smtp.starttls and not smtp.ssl:
                client.starttls(context=ssl.create_default_context())
            if smtp.username:
                password = smtp.password.get_secret_value() if smtp.password else ""
                client.login(smtp.username, password)
            client.send_message(message)
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryFailed(f"SMTP sign-in refused: {exc.smtp_code}", retry=False) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from None


def with_retries(
    send: Callable[[], None],
    record: Callable[[int, bool, str | None], None],
    settings: AlertSettings,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Try `send` up to delivery_attempts times with doubling waits, recording every attempt."""
    wait = settings.delivery_backoff_s
    for attempt in range(1, settings.delivery_attempts + 1):
        try:
            send()
        except DeliveryFailed as exc:
            record(attempt, False, str(exc)[:500])
            if not exc.retry:
                return False
        else:
            record(attempt, True, None)
            return True
        if attempt < settings.delivery_attempts:
            sleep(min(wait, settings.delivery_backoff_max_s))
            wait *= 2
    return False
