"""The alert state machine on the frozen clock: pending -> firing after `for`, one notification per
event (then one per repeat interval), resolved when the condition clears; fingerprints and silences."""

from __future__ import annotations

from shipyard.audit import service as audit
from shipyard.monitoring.alerts import service as alerts
from shipyard.monitoring.alerts.schemas import RuleUpdate, SilenceCreate
from tests.factories import World
from tests.monitoring.alerts.conftest import Receiver
from tests.monitoring.alerts.helpers import alerts_now, calls, evaluate, rule, webhook


async def test_pending_then_firing_then_resolved_notifying_each_event_once(
    world: World, receiver: Receiver
) -> None:
    clock = world.ctx.clock
    world.service("echo")
    webhook(world, "ops", receiver.url)
    rule(
        world,
        "errors",
        "error_rate",
        0.5,
        window="5m",
        **{"for": "2m"},
        channels=["ops"],
        severity="critical",
    )
    calls(world, "echo", "failed", 4)
    calls(world, "echo", "served", 1)

    evaluate(world)
    (alert,) = alerts_now(world)
    assert (alert.state, alert.value, alert.fired_at) == ("pending", 0.8, None)
    assert receiver.bodies == []

    clock.advance(seconds=60)
    evaluate(world)
    assert [a.state for a in alerts_now(world)] == ["pending"]

    clock.advance(seconds=60)  # the condition has held for 2 minutes
    evaluate(world)
    (alert,) = alerts_now(world)
    assert alert.state == "firing" and alert.trigger_value == 0.8 and alert.fired_at == clock.now()
    (body,) = receiver.bodies
    assert body["text"].startswith("[FIRING] errors on echo (critical)")
    assert "error_rate = 0.8 (rule: > 0.5)" in body["text"]
    assert f"https://shipyard.example.com/alerts/{alert.id}" in body["text"]
    assert body["shipyard"]["runbook_url"] == "https://runbooks.example.com/high-error-rate.md"
    assert body["blocks"][0]["type"] == "header"

    for _ in range(8):  # still failing, within the repeat interval (600 s): no new notification
        clock.advance(seconds=60)
        calls(world, "echo", "failed", 2)
        evaluate(world)
    assert len(receiver.bodies) == 1 and [a.state for a in alerts_now(world)] == ["firing"]

    clock.advance(seconds=120)  # 600 s since the first notification
    calls(world, "echo", "failed", 2)
    evaluate(world)
    assert [b["shipyard"]["event"] for b in receiver.bodies] == ["firing", "repeat"]
    assert receiver.bodies[1]["text"].startswith("[STILL FIRING] errors on echo")

    clock.advance(minutes=6)  # the failures leave the window; the new calls succeed
    calls(world, "echo", "served", 5)
    evaluate(world)
    (alert,) = alerts_now(world, "resolved")
    assert alert.resolved_at == clock.now() and alert.value == 0.0
    assert [b["shipyard"]["event"] for b in receiver.bodies] == ["firing", "repeat", "resolved"]
    assert receiver.bodies[2]["text"].startswith("[RESOLVED] errors on echo")

    clock.advance(seconds=60)
    evaluate(world)
    assert len(receiver.bodies) == 3  # resolved is told once
    with world.ctx.uow() as s:
        deliveries = alerts.list_deliveries(s, alert_id=alert.id)
        events = audit.list_events(s, audit.AuditFilter(action="alert."), limit=10)
    assert sorted((d.event, d.attempt, d.ok) for d in deliveries) == [
        ("firing", 1, True),
        ("repeat", 1, True),
        ("resolved", 1, True),
    ]
    assert [(e.action, e.actor, e.target_id) for e in reversed(events)] == [
        ("alert.pending", "shipyard-alerts", alert.id),
        ("alert.firing", "shipyard-alerts", alert.id),
        ("alert.resolved", "shipyard-alerts", alert.id),
    ]


async def test_a_pending_alert_that_clears_resolves_without_firing_or_notifying(
    world: World, receiver: Receiver
) -> None:
    world.service("echo")
    webhook(world, "ops", receiver.url)
    rule(world, "errors", "error_rate", 0.5, **{"for": "5m"}, channels=["ops"])
    calls(world, "echo", "failed", 3)
    evaluate(world)
    world.ctx.clock.advance(minutes=6)
    calls(world, "echo", "served", 3)
    evaluate(world)
    (alert,) = alerts_now(world)
    assert (alert.state, alert.fired_at) == ("resolved", None)
    assert receiver.bodies == []


async def test_a_rule_over_every_service_keeps_one_alert_per_service(
    world: World, receiver: Receiver
) -> None:
    world.service("echo")
    world.service("other")
    webhook(world, "ops", receiver.url)
    rule(world, "errors", "error_rate", 0.5, channels=["ops"])  # for 0: fires at once
    calls(world, "echo", "failed", 2)
    calls(world, "other", "failed", 2)
    evaluate(world)
    world.ctx.clock.advance(seconds=30)
    calls(world, "echo", "failed", 2)
    evaluate(world)  # same fingerprints: no new alerts, no new notifications
    assert sorted((a.service, a.state) for a in alerts_now(world)) == [
        ("echo", "firing"),
        ("other", "firing"),
    ]
    assert len(receiver.bodies) == 2

    world.ctx.clock.advance(minutes=6)
    calls(world, "echo", "failed", 2)
    calls(world, "other", "served", 2)
    evaluate(world)
    assert sorted((a.service, a.state) for a in alerts_now(world)) == [
        ("echo", "firing"),
        ("other", "resolved"),
    ]
    assert [(b["shipyard"]["service"], b["shipyard"]["event"]) for b in receiver.bodies[2:]] == [
        ("other", "resolved")
    ]


async def test_thresholds_as_a_multiple_of_the_latency_slo(world: World) -> None:
    world.service("echo")  # latency_slo_ms 1000
    rule(world, "slow", "p95_latency_ms", 1.5, threshold_unit="slo")
    calls(world, "echo", "served", 20, latency_ms=1400)
    evaluate(world)
    assert alerts_now(world) == []
    world.ctx.clock.advance(seconds=30)
    calls(world, "echo", "served", 20, latency_ms=1600)
    evaluate(world)
    (alert,) = alerts_now(world)
    assert (alert.state, alert.threshold, alert.value) == ("firing", 1500.0, 1600.0)


async def test_disabling_a_rule_resolves_its_alerts(world: World) -> None:
    world.service("echo")
    rule(world, "errors", "error_rate", 0.5)
    calls(world, "echo", "failed", 2)
    evaluate(world)
    with world.ctx.uow() as s:
        alerts.update_rule(s, world.actor(), "errors", RuleUpdate(enabled=False))
    world.ctx.clock.advance(seconds=30)
    evaluate(world)
    assert [a.state for a in alerts_now(world)] == ["resolved"]


async def test_a_silenced_alert_changes_state_but_notifies_only_after_the_silence(
    world: World, receiver: Receiver
) -> None:
    world.service("echo")
    world.service("other")
    webhook(world, "ops", receiver.url)
    rule(world, "errors", "error_rate", 0.5, channels=["ops"])
    with world.ctx.uow() as s:
        silence = alerts.create_silence(
            s, world.actor(), SilenceCreate(service="echo", duration="1h", reason="deploying a fix")
        )
    calls(world, "echo", "failed", 2)
    calls(world, "other", "failed", 2)
    evaluate(world)
    by_service = {a.service: a for a in alerts_now(world)}
    assert by_service["echo"].state == "firing" and by_service["echo"].silenced
    assert by_service["other"].state == "firing" and not by_service["other"].silenced
    assert [b["shipyard"]["service"] for b in receiver.bodies] == ["other"]  # echo is silenced

    world.ctx.clock.advance(seconds=30)
    calls(world, "echo", "failed", 2)
    with world.ctx.uow() as s:
        alerts.expire_silence(s, world.actor(), silence.id)
        events = audit.list_events(s, audit.AuditFilter(action="alert_silence."), limit=10)
    assert [e.action for e in events] == ["alert_silence.expire", "alert_silence.create"]
    assert events[1].after["reason"] == "deploying a fix" and events[1].actor == "test"
    evaluate(world)
    assert [b["shipyard"]["service"] for b in receiver.bodies] == ["other", "echo"]
    assert not {a.service: a for a in alerts_now(world)}["echo"].silenced


async def test_a_failing_signal_leaves_its_alerts_alone_and_other_rules_still_run(world: World) -> None:
    from shipyard.monitoring.alerts.signals import _SIGNALS, register_signal

    broken = {"now": False}

    def flaky(q: object) -> dict[str, float]:
        if broken["now"]:
            raise RuntimeError("feature store down")
        return {"echo": 1.0}

    world.service("echo")
    register_signal("flaky", flaky)
    try:
        rule(world, "flaky-rule", "flaky", 0.5)
        rule(world, "errors", "error_rate", 0.5)
        evaluate(world)
        assert [(a.rule, a.state) for a in alerts_now(world)] == [("flaky-rule", "firing")]
        broken["now"] = True
        world.ctx.clock.advance(seconds=30)
        calls(world, "echo", "failed", 2)
        evaluate(world)
        assert sorted((a.rule, a.state) for a in alerts_now(world)) == [
            ("errors", "firing"),
            ("flaky-rule", "firing"),  # unknown is not resolved
        ]
    finally:
        _SIGNALS.pop("flaky")
    with world.ctx.uow() as s:
        alerts.delete_rule(s, world.actor(), "flaky-rule")  # its alerts go with it
    assert [a.rule for a in alerts_now(world)] == ["errors"]
