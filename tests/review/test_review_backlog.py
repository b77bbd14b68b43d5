"""The review backlog in monitoring: the gauges the periodic job sets from real tasks, the alert
signals, and rules over them going pending, firing and resolved on the frozen clock. Runs on SQLite
and PostgreSQL."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
import httpx
from prometheus_client import REGISTRY
from sqlalchemy import delete

from shipyard.core.clock import FrozenClock
from shipyard.monitoring.alerts import service as alerts
from shipyard.review.queue.jobs import refresh_backlog
from shipyard.review.queue.models import ReviewTask
from tests.factories import World, bearer
from tests.monitoring.alerts.helpers import alerts_now, evaluate, rule
from tests.monitoring.alerts.test_signals import values

# tests.factories:double is 0.4 sure when |x| >= 100: held; every other answered call is sampled.
POLICY = {"review": {"low_confidence": 0.5, "sample_rate": 1.0}}
GAUGES = (
    "shipyard_review_backlog",
    "shipyard_review_held",
    "shipyard_review_oldest_age_seconds",
    "shipyard_review_held_oldest_age_seconds",
)


def gauges(service: str) -> tuple[float | None, ...]:
    return tuple(REGISTRY.get_sample_value(name, {"service": service}) for name in GAUGES)


async def invoke(client: httpx.AsyncClient, key: str, slug: str, x: float) -> str:
    r = await client.post(f"/v1/services/{slug}/invoke", json={"inputs": {"x": x}}, headers=bearer(key))
    assert r.status_code in (200, 202), r.text
    assert "review" in r.json(), r.text
    request_id: str = r.json()["request_id"]
    return request_id


async def shipped(world: World) -> None:
    assert await anyio.to_thread.run_sync(world.ctx.shipper.flush)


async def decide(client: httpx.AsyncClient, key: str, rid: str, body: dict[str, Any]) -> None:
    r = await client.post(f"/v1/reviews/{rid}/decision", json=body, headers=bearer(key))
    assert r.status_code == 200, r.text


async def queue_up(client: httpx.AsyncClient, world: World, clock: FrozenClock) -> dict[str, str]:
    """echo: a call held at t0, then at t0 + 10 min a queued one and a held one; other: one queued at
    t0 + 10 min; quiet: a review policy and no calls. Shipped; the clock is at t0 + 15 min."""
    caller = world.user_with_key("carol", ["consumer"])
    for slug in ("echo", "other", "quiet"):
        world.service(slug)
        world.policy(slug, POLICY)
    first = await invoke(client, caller, "echo", 200)
    clock.advance(minutes=10)
    calls = {
        "first": first,
        "queued": await invoke(client, caller, "echo", 2),
        "held": await invoke(client, caller, "echo", 300),
        "other": await invoke(client, caller, "other", 3),
    }
    clock.advance(minutes=5)
    await shipped(world)
    return calls


async def test_the_job_sets_the_gauges_and_a_drained_queue_shows_zero(
    client: httpx.AsyncClient, world: World, clock: FrozenClock
) -> None:
    reviewer = world.user_with_key("rita", ["reviewer"])
    approver = world.user_with_key("abe", ["approver"])
    calls = await queue_up(client, world, clock)

    assert "review.backlog" in world.ctx.periodic.run_due()
    assert gauges("echo") == (3, 2, 900, 900)  # open, held, oldest open, oldest held (seconds)
    assert gauges("other") == (1, 0, 300, 0)  # a queued check: no caller waits
    assert gauges("quiet") == (None, None, None, None)  # never had a task: no series

    await decide(client, reviewer, calls["first"], {"action": "escalate", "comment": "ask legal"})
    clock.advance(seconds=30)  # SHIPYARD_MONITORING__REVIEW_BACKLOG_EVERY_S
    assert "review.backlog" in world.ctx.periodic.run_due()
    assert gauges("echo") == (3, 2, 930, 930)  # escalated is still open, its caller still waits

    await decide(client, approver, calls["first"], {"action": "approve"})
    clock.advance(seconds=30)
    assert "review.backlog" in world.ctx.periodic.run_due()
    assert gauges("echo") == (2, 1, 360, 360)  # the oldest is now the pair from t0 + 10 min

    await decide(client, reviewer, calls["queued"], {"action": "approve"})
    await decide(client, reviewer, calls["held"], {"action": "reject", "comment": "wrong"})
    await decide(client, reviewer, calls["other"], {"action": "correct", "output": 7})
    clock.advance(seconds=30)
    assert "review.backlog" in world.ctx.periodic.run_due()
    assert gauges("echo") == (0, 0, 0, 0)  # drained: 0, not gone
    assert gauges("other") == (0, 0, 0, 0)

    # A service whose tasks are gone altogether (purged) loses its series at the next refresh.
    with world.ctx.uow() as s:
        s.execute(delete(ReviewTask).where(ReviewTask.service == "other"))
    assert set(refresh_backlog(world.ctx)) == {"echo"}
    assert gauges("other") == (None, None, None, None)
    assert gauges("echo") == (0, 0, 0, 0)


async def test_the_signals_read_the_queue(
    client: httpx.AsyncClient, world: World, clock: FrozenClock
) -> None:
    reviewer = world.user_with_key("rita", ["reviewer"])
    calls = await queue_up(client, world, clock)
    services = ["echo", "other", "quiet"]

    assert values(world, "review_backlog", services) == {"echo": 3.0, "other": 1.0, "quiet": 0.0}
    assert values(world, "review_age", services) == {"echo": 900.0, "other": 300.0}
    assert values(world, "review_held_age", services) == {"echo": 900.0}
    assert values(world, "review_backlog", ["other"]) == {"other": 1.0}  # only the services asked

    await decide(client, reviewer, calls["first"], {"action": "approve"})
    assert values(world, "review_backlog", services) == {"echo": 2.0, "other": 1.0, "quiet": 0.0}
    assert values(world, "review_age", services) == {"echo": 300.0, "other": 300.0}
    assert values(world, "review_held_age", services) == {"echo": 300.0}
    await decide(client, reviewer, calls["held"], {"action": "approve"})
    assert values(world, "review_held_age", services) == {}  # echo's one open task is a queued check
    assert values(world, "review_age", services) == {"echo": 300.0, "other": 300.0}


async def test_rules_over_the_wait_go_pending_then_firing_and_resolve_on_the_decision(
    client: httpx.AsyncClient, world: World, clock: FrozenClock
) -> None:
    caller = world.user_with_key("carol", ["consumer"])
    reviewer = world.user_with_key("rita", ["reviewer"])
    world.service("echo")
    world.policy("echo", {"review": {"low_confidence": 0.5}})
    rid = await invoke(client, caller, "echo", 200)  # held at t0
    await shipped(world)
    rule(world, "review-slow", "review_age", 600, window="1m", severity="critical", **{"for": "5m"})
    with world.ctx.uow() as s:
        alerts.install_default_rules(s, world.actor(), runbook_base="https://runbooks.example.com")

    def mine() -> dict[str, tuple[str, float | None]]:
        return {
            a.rule: (a.state, a.value)
            for a in alerts_now(world)
            if a.rule in ("review-slow", "review-backlog") and a.state != "resolved"
        }

    clock.advance(minutes=5)
    evaluate(world)
    assert mine() == {}  # 300 s: under both thresholds

    clock.advance(minutes=6)
    evaluate(world)
    assert mine() == {"review-slow": ("pending", 660.0)}

    clock.advance(minutes=5)  # the condition has held for `for`
    evaluate(world)
    (slow,) = [a for a in alerts_now(world) if a.rule == "review-slow"]
    assert (slow.state, slow.trigger_value, slow.fired_at) == ("firing", 960.0, clock.now())
    assert slow.runbook_url == "https://runbooks.example.com/review-backlog.md"

    clock.advance(minutes=15)  # 31 minutes: the default rule fires at once (for 0s)
    evaluate(world)
    assert mine() == {"review-slow": ("firing", 1860.0), "review-backlog": ("firing", 1860.0)}
    (default,) = [a for a in alerts_now(world) if a.rule == "review-backlog"]
    assert (default.signal, default.threshold, default.comparison) == ("review_held_age", 1800, ">")
    assert default.runbook_url == "https://runbooks.example.com/review-backlog.md"

    await decide(client, reviewer, rid, {"action": "approve"})
    clock.advance(minutes=1)
    evaluate(world)
    assert mine() == {}
    resolved = {a.rule: a.service for a in alerts_now(world, "resolved")}
    assert resolved == {"review-slow": "echo", "review-backlog": "echo"}
