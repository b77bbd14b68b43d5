"""Delivery: a webhook that fails and then succeeds (every attempt recorded), one that keeps failing
(bounded, retried next round, its URL never in the error text or the logs), and e-mail over SMTP."""

from __future__ import annotations

import logging

import pytest

from shipyard.monitoring.alerts import service as alerts
from shipyard.monitoring.alerts.evaluate import Round, notify_due
from tests.factories import World
from tests.monitoring.alerts.conftest import Receiver, _Inbox
from tests.monitoring.alerts.helpers import alerts_now, calls, email, evaluate, rule, webhook


async def test_a_failing_webhook_is_retried_with_backoff_and_every_attempt_recorded(world: World) -> None:
    receiver = Receiver(fail_first=2)
    try:
        world.service("echo")
        webhook(world, "ops", receiver.url)
        rule(world, "errors", "error_rate", 0.5, channels=["ops"])
        calls(world, "echo", "failed", 2)
        evaluate(world)
        (alert,) = alerts_now(world)
        with world.ctx.uow() as s:
            deliveries = sorted(alerts.list_deliveries(s, alert_id=alert.id), key=lambda d: d.attempt)
        assert [(d.channel, d.event, d.attempt, d.ok) for d in deliveries] == [
            ("ops", "firing", 1, False),
            ("ops", "firing", 2, False),
            ("ops", "firing", 3, True),
        ]
        assert deliveries[0].error == 'HTTP 500: {"error": "try later"}'
        assert len(receiver.bodies) == 1
    finally:
        receiver.down()


async def test_a_webhook_that_stays_down_gives_up_after_the_attempts_and_tries_again_next_round(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    receiver = Receiver()
    url = receiver.url
    receiver.down()  # connection refused
    world.service("echo")
    webhook(world, "ops", url)
    rule(world, "errors", "error_rate", 0.5, channels=["ops"])
    calls(world, "echo", "failed", 2)
    with caplog.at_level(logging.DEBUG):
        evaluate(world)
        with world.ctx.uow() as s:
            first = alerts.list_deliveries(s)
        assert [d.ok for d in first] == [False] * 4  # delivery_attempts
        assert all(d.error and d.error.startswith("ConnectError") for d in first)

        receiver.up()  # back on the same port
        world.ctx.clock.advance(seconds=30)
        calls(world, "echo", "failed", 2)
        evaluate(world)
    with world.ctx.uow() as s:
        everything = alerts.list_deliveries(s)
    assert [d.ok for d in everything if d.ok] == [True] and len(everything) == 5
    assert [b["shipyard"]["event"] for b in receiver.bodies] == ["firing"]
    receiver.down()
    secret = "s3cr3t-token"
    assert secret not in caplog.text and all(secret not in (d.error or "") for d in everything)


async def test_email_reaches_a_real_smtp_server(world: World, smtp_server: _Inbox) -> None:
    world.service("echo")
    email(world, "oncall", ["oncall@example.com", "lead@example.com"])
    rule(world, "errors", "error_rate", 0.5, channels=["oncall"], severity="critical")
    calls(world, "echo", "failed", 2)
    evaluate(world)
    ((rcpt, message),) = smtp_server.messages
    assert rcpt == ["oncall@example.com", "lead@example.com"]
    assert message["Subject"] == "[FIRING] errors on echo (critical)"
    assert message["From"] == "alerts@shipyard.example.com"
    assert "error_rate = 1 (rule: > 0.5)" in message.get_payload()
    with world.ctx.uow() as s:
        assert [(d.channel, d.ok) for d in alerts.list_deliveries(s)] == [("oncall", True)]


async def test_email_without_a_mail_server_fails_once_with_a_clear_error(world: World) -> None:
    world.service("echo")
    email(world, "oncall", ["oncall@example.com"])
    rule(world, "errors", "error_rate", 0.5, channels=["oncall"])
    calls(world, "echo", "failed", 2)
    evaluate(world)
    with world.ctx.uow() as s:
        (delivery,) = alerts.list_deliveries(s)
    assert not delivery.ok and delivery.error == "no mail server: set SHIPYARD_ALERTS__SMTP__HOST"


async def test_nothing_is_due_twice(world: World, receiver: Receiver) -> None:
    world.service("echo")
    webhook(world, "ops", receiver.url)
    rule(world, "errors", "error_rate", 0.5, channels=["ops"])
    calls(world, "echo", "failed", 2)
    evaluate(world)
    ctx = world.ctx
    again = Round()
    notify_due(ctx.sessions, ctx.settings, ctx.clock, ctx.sync_transport, again)
    assert (again.attempts, len(receiver.bodies)) == (0, 1)
