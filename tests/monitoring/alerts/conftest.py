"""Alert tests: fast delivery retries, predictions shipped through the real recorder sink, a local
webhook receiver that can fail, and a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from shipyard.core.config import Settings
from shipyard.serving.recorder import make_sink
from shipyard.web.context import AppContext
from tests.servers import JsonServer, free_port


@pytest.fixture
def settings(settings: Settings) -> Settings:
    settings.alerts.delivery_backoff_s = 0.01
    settings.alerts.repeat_interval_s = 600
    settings.alerts.evaluate_every_s = 30
    settings.public_url = "https://shipyard.example.com"
    return settings


def record(
    service: str, outcome: str, at: datetime, latency_ms: float = 10.0, **extra: Any
) -> dict[str, Any]:
    """A prediction record as the invoke path spools it."""
    return {
        "request_id": f"req_{uuid.uuid4().hex}",
        "service": service,
        "version_id": None,
        "version": 1,
        "caller": "tester",
        "caller_kind": "key",
        "inputs": {"x": 1},
        "output": 2,
        "confidence": 0.9,
        "outcome": outcome,
        "error_code": "model_failed" if outcome == "failed" else None,
        "error_detail": None,
        "fallback": None,
        "started_at": at.isoformat(),
        "ended_at": (at + timedelta(milliseconds=latency_ms)).isoformat(),
        "latency_ms": latency_ms,
        **extra,
    }


def ship(ctx: AppContext, records: list[dict[str, Any]]) -> None:
    """Insert records through the recorder's own database sink (what the shipper calls)."""
    make_sink(ctx.sessions)(records)


class Receiver(JsonServer):
    """A webhook endpoint that answers `fail_first` requests with 500, then 200; keeps every body."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.bodies: list[dict[str, Any]] = []
        self.failed = 0
        self._lock = threading.Lock()
        super().__init__()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/T000/B000/s3cr3t-token"

    def respond(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            if self.failed < self.fail_first:
                self.failed += 1
                return 500, {"error": "try later"}
            self.bodies.append(body)
            return 200, {"ok": True}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.down()


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server(settings: Settings) -> Iterator[_Inbox]:
    """A real SMTP server on a free port; the settings point at it (no STARTTLS on loopback)."""
    inbox = _Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.alerts.smtp.host = "127.0.0.1"
    settings.alerts.smtp.port = port
    settings.alerts.smtp.starttls = False
    settings.alerts.smtp.sender = "alerts@shipyard.example.com"
    try:
        yield inbox
    finally:
        controller.stop()
