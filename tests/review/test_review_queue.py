"""The review queue through the API: held and queued calls, decisions, the caller's view, permissions,
audit, and review verdicts in accuracy. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import anyio.to_thread
import httpx
from sqlalchemy import func, select

from shipyard.audit.models import AuditEvent
from shipyard.core.clock import FrozenClock
from shipyard.review import service as review
from shipyard.review.queue.models import ReviewTask
from tests.factories import World, bearer

HOLD_LOW = {"review": {"low_confidence": 0.5}}  # tests.factories:double is 0.4 sure when |x| >= 100


def name(key: str) -> str:
    """The principal name an API key acts under (as the audit trail and the task show it)."""
    return f"key:{key[:10]}"


async def invoke(client: httpx.AsyncClient, key: str, inputs: dict[str, Any]) -> httpx.Response:
    return await client.post("/v1/services/echo/invoke", json={"inputs": inputs}, headers=bearer(key))


async def shipped(world: World) -> None:
    assert await anyio.to_thread.run_sync(world.ctx.shipper.flush)


def audit(world: World, action: str) -> list[AuditEvent]:
    with world.ctx.sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)))


async def decide(client: httpx.AsyncClient, key: str, rid: str, body: dict[str, Any]) -> httpx.Response:
    return await client.post(f"/v1/reviews/{rid}/decision", json=body, headers=bearer(key))


async def test_a_low_confidence_answer_is_held_until_a_reviewer_approves_it(
    client: httpx.AsyncClient, world: World
) -> None:
    caller = world.user_with_key("carol", ["consumer"])
    reviewer = world.user_with_key("rita", ["reviewer"])
    world.service("echo")
    world.policy("echo", HOLD_LOW)

    sure = await invoke(client, caller, {"x": 2})
    assert sure.status_code == 200 and sure.json()["outcome"] == "served" and "review" not in sure.json()

    held = await invoke(client, caller, {"x": 200})
    assert held.status_code == 202, held.text
    body = held.json()
    rid = body["request_id"]
    assert (body["outcome"], body["output"], body["confidence"]) == ("held_for_review", None, None)
    assert body["review"] == {
        "action": "hold",
        "rule": "low_confidence",
        "reason": "confidence 0.4 < 0.5",
        "status_url": f"/v1/predictions/{rid}/review",
    }
    await shipped(world)

    status = await client.get(body["review"]["status_url"], headers=bearer(caller))
    assert status.status_code == 200, status.text
    assert status.json() | {"decided_at": None} == {
        "request_id": rid,
        "service": "echo",
        "action": "hold",
        "state": "pending",
        "decided": False,
        "output": None,
        "decided_at": None,
    }

    queue = await client.get("/v1/reviews", headers=bearer(reviewer))
    assert [t["request_id"] for t in queue.json()] == [rid]
    assert "inputs" not in queue.json()[0]  # the list carries no payload

    task = await client.get(f"/v1/reviews/{rid}", headers=bearer(reviewer))
    assert task.status_code == 200
    assert (task.json()["inputs"], task.json()["output"], task.json()["caller"]) == (
        {"x": 200},
        400,
        name(caller),
    )
    assert len(audit(world, "review.read")) == 1

    r = await decide(client, reviewer, rid, {"action": "approve", "comment": "checked against the claim"})
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["decided_by"]) == ("approved", name(reviewer))
    (event,) = audit(world, "review.approve")
    assert event.target_id == rid and event.service == "echo"
    assert event.before == {"state": "pending"}
    assert event.after["state"] == "approved" and event.after["comment"] is True  # not its text

    status = await client.get(f"/v1/predictions/{rid}/review", headers=bearer(caller))
    assert (status.json()["state"], status.json()["decided"], status.json()["output"]) == (
        "approved",
        True,
        400,
    )

    again = await decide(client, reviewer, rid, {"action": "reject"})
    assert again.status_code == 409 and again.json()["code"] == "review_decided"
    assert f"approved by {name(reviewer)}" in again.json()["detail"]


async def test_a_correction_is_checked_and_released_and_counts_as_a_wrong_answer(
    client: httpx.AsyncClient, world: World, clock: FrozenClock
) -> None:
    caller = world.user_with_key("carol", ["consumer"])
    reviewer = world.user_with_key("rita", ["reviewer"])
    world.service("echo", output_schema={"type": "number"})
    world.policy("echo", HOLD_LOW)
    rid = (await invoke(client, caller, {"x": 150})).json()["request_id"]
    await shipped(world)

    bad = await decide(client, reviewer, rid, {"action": "correct", "output": "three hundred"})
    assert bad.status_code == 422 and bad.json()["code"] == "schema_violation"
    assert bad.json()["errors"][0]["message"] == "'three hundred' is not of type 'number'"
    for body in ({"action": "correct"}, {"action": "approve", "output": 1}, {"action": "escalate"}, {}):
        r = await decide(client, reviewer, rid, body)
        assert r.status_code == 422 and r.json()["code"] == "invalid_input", (body, r.text)

    r = await decide(client, reviewer, rid, {"action": "correct", "output": 299})
    assert r.status_code == 200 and r.json()["state"] == "corrected"
    status = await client.get(f"/v1/predictions/{rid}/review", headers=bearer(caller))
    assert status.json()["output"] == 299

    with world.ctx.sessions() as s:
        window = review.rolling_accuracy(
            s, "echo", start=clock.now() - timedelta(days=1), end=clock.now() + timedelta(days=1)
        )
    assert (window.correct, window.labelled) == (0, 1)


async def test_restricted_terms_hold_and_samples_are_answered_and_queued(
    client: httpx.AsyncClient, world: World
) -> None:
    caller = world.user_with_key("carol", ["consumer"])
    reviewer = world.user_with_key("rita", ["reviewer"])
    world.service("echo")
    world.policy("echo", {"review": {"restricted_terms": ["Lawsuit", "legal hold"], "sample_rate": 1.0}})

    held = await invoke(client, caller, {"x": 1, "label": "re: LAWSUIT"})
    assert held.status_code == 202 and held.json()["review"]["rule"] == "restricted_term"
    assert held.json()["review"]["reason"] == "the input mentions 'lawsuit'"
    whole_words = await invoke(client, caller, {"x": 1, "label": "lawsuits"})  # not the word itself
    assert whole_words.status_code == 200 and whole_words.json()["review"]["rule"] == "sample"
    assert whole_words.json()["output"] == 2  # a sample is answered at once
    await shipped(world)

    r = await client.get("/v1/reviews?action=queue", headers=bearer(reviewer))
    assert [t["rule"] for t in r.json()] == ["sample"]
    with world.ctx.sessions() as s:
        outcomes = dict(s.execute(select(ReviewTask.rule, ReviewTask.action)).all())
    assert outcomes == {"restricted_term": "hold", "sample": "queue"}


async def test_escalated_tasks_need_an_approver(client: httpx.AsyncClient, world: World) -> None:
    caller = world.user_with_key("carol", ["consumer"])
    reviewer = world.user_with_key("rita", ["reviewer"])
    approver = world.user_with_key("abe", ["approver"])
    world.service("echo")
    world.policy("echo", HOLD_LOW)
    rid = (await invoke(client, caller, {"x": 500})).json()["request_id"]
    await shipped(world)

    r = await decide(client, reviewer, rid, {"action": "escalate", "comment": "needs the medical director"})
    assert r.status_code == 200 and r.json()["state"] == "escalated"
    assert (r.json()["escalated_by"], r.json()["escalation_note"]) == (
        name(reviewer),
        "needs the medical director",
    )
    r = await decide(client, reviewer, rid, {"action": "approve"})
    assert r.status_code == 403 and r.json()["code"] == "review_escalated"
    r = await decide(client, approver, rid, {"action": "reject", "comment": "not covered"})
    assert r.status_code == 200 and r.json()["state"] == "rejected"
    status = await client.get(f"/v1/predictions/{rid}/review", headers=bearer(caller))
    assert (status.json()["state"], status.json()["output"]) == ("rejected", None)


async def test_claims_keep_two_reviewers_apart(client: httpx.AsyncClient, world: World) -> None:
    caller = world.user_with_key("carol", ["consumer"])
    rita = world.user_with_key("rita", ["reviewer"])
    rob = world.user_with_key("rob", ["reviewer"])
    world.service("echo")
    world.policy("echo", HOLD_LOW)
    rid = (await invoke(client, caller, {"x": 500})).json()["request_id"]
    await shipped(world)

    r = await client.post(f"/v1/reviews/{rid}/claim", json={}, headers=bearer(rita))
    assert r.status_code == 200 and r.json()["assignee"] == name(rita)
    r = await client.post(f"/v1/reviews/{rid}/claim", json={}, headers=bearer(rob))
    assert r.status_code == 409 and r.json()["code"] == "review_claimed" and name(rita) in r.json()["detail"]
    r = await decide(client, rob, rid, {"action": "approve"})
    assert r.status_code == 409 and r.json()["code"] == "review_claimed"
    r = await client.post(f"/v1/reviews/{rid}/claim", json={"force": True}, headers=bearer(rob))
    assert r.status_code == 200 and r.json()["assignee"] == name(rob)
    r = await client.post(f"/v1/reviews/{rid}/claim", json={"release": True}, headers=bearer(rita))
    assert r.status_code == 409  # rita no longer holds it
    r = await client.post(f"/v1/reviews/{rid}/claim", json={"release": True}, headers=bearer(rob))
    assert r.status_code == 200 and r.json()["assignee"] is None
    assert [e.action for e in audit(world, "review.claim")] == ["review.claim", "review.claim"]
    assert len(audit(world, "review.release")) == 1


async def test_who_may_see_what(client: httpx.AsyncClient, world: World) -> None:
    carol = world.user_with_key("carol", ["consumer"])
    dave = world.user_with_key("dave", ["consumer"])
    analyst = world.user_with_key("ann", ["analyst"])
    owner = world.user_with_key("olga", ["owner"])
    world.service("echo")
    world.service("other", owner="olga")
    world.policy("echo", HOLD_LOW)
    rid = (await invoke(client, carol, {"x": 500})).json()["request_id"]
    await shipped(world)

    r = await client.get(f"/v1/predictions/{rid}/review", headers=bearer(dave))  # not dave's call
    assert r.status_code == 404 and r.json()["code"] == "review_not_found"
    assert (await client.get("/v1/reviews", headers=bearer(analyst))).status_code == 403
    assert (await client.get("/v1/reviews", headers=bearer(carol))).status_code == 403
    # The owner of another service sees an empty queue, and the task as unknown, not forbidden.
    assert (await client.get("/v1/reviews", headers=bearer(owner))).json() == []
    r = await client.get(f"/v1/reviews/{rid}", headers=bearer(owner))
    assert r.status_code == 404 and r.json()["code"] == "review_not_found"
    r = await decide(client, owner, rid, {"action": "approve"})
    assert r.status_code == 404
    assert audit(world, "review.read") == []


async def test_the_backlog_counts_open_tasks_and_their_age(
    client: httpx.AsyncClient, world: World, clock: FrozenClock
) -> None:
    caller = world.user_with_key("carol", ["consumer"])
    reviewer = world.user_with_key("rita", ["reviewer"])
    approver = world.user_with_key("abe", ["approver"])
    world.service("echo")
    world.policy("echo", {"review": {"low_confidence": 0.5, "sample_rate": 1.0}})
    first = (await invoke(client, caller, {"x": 500})).json()["request_id"]
    clock.advance(minutes=10)
    await invoke(client, caller, {"x": 1})  # sampled: queued, answered
    second = (await invoke(client, caller, {"x": 600})).json()["request_id"]
    await shipped(world)
    await decide(client, reviewer, second, {"action": "escalate", "comment": "policy question"})
    clock.advance(minutes=5)

    r = await client.get("/v1/reviews/backlog", headers=bearer(reviewer))
    assert r.status_code == 200
    (row,) = r.json()
    assert (row["service"], row["open"], row["held"], row["escalated"]) == ("echo", 3, 2, 1)
    assert row["oldest_age_s"] == 15 * 60
    assert (row["held_oldest_at"], row["held_oldest_age_s"]) == ("2026-01-01T00:00:00Z", 15 * 60)
    await decide(client, reviewer, first, {"action": "approve"})
    r = await client.get("/v1/reviews/backlog", headers=bearer(reviewer))
    assert r.json()[0]["open"] == 2 and r.json()[0]["oldest_age_s"] == 5 * 60
    assert r.json()[0]["held_oldest_age_s"] == 5 * 60  # the escalated held call still waits

    # Only the queued check is open: no caller waits, so no held age.
    await decide(client, approver, second, {"action": "approve"})
    (row,) = (await client.get("/v1/reviews/backlog", headers=bearer(reviewer))).json()
    assert (row["open"], row["held"], row["oldest_age_s"]) == (1, 0, 5 * 60)
    assert (row["held_oldest_at"], row["held_oldest_age_s"]) == (None, None)

    # A newer held call: the held age is its own, not the older queued check's.
    clock.advance(minutes=2)
    await invoke(client, caller, {"x": 700})
    await shipped(world)
    clock.advance(minutes=1)
    (row,) = (await client.get("/v1/reviews/backlog", headers=bearer(reviewer))).json()
    assert (row["open"], row["held"], row["oldest_age_s"], row["held_oldest_age_s"]) == (2, 1, 8 * 60, 60)
    assert row["held_oldest_at"] == "2026-01-01T00:17:00Z"


async def test_a_reshipped_batch_opens_no_second_task(client: httpx.AsyncClient, world: World) -> None:
    caller = world.user_with_key("carol", ["consumer"])
    world.service("echo")
    world.policy("echo", HOLD_LOW)
    await invoke(client, caller, {"x": 500})
    await shipped(world)
    from shipyard.serving.recorder import make_sink

    with world.ctx.sessions() as s:
        task = s.scalars(select(ReviewTask)).one()
    # The shipper delivers at least once: the same record again must not open a second task.
    record = {
        "request_id": task.request_id,
        "service": "echo",
        "version": 1,
        "caller": "carol",
        "caller_kind": "key",
        "outcome": "held_for_review",
        "confidence": 0.4,
        "review": {"action": "hold", "rule": "low_confidence", "reason": "again"},
        "started_at": task.created_at.isoformat(),
        "ended_at": task.created_at.isoformat(),
        "latency_ms": 1.0,
    }
    make_sink(world.ctx.sessions)([record])
    with world.ctx.sessions() as s:
        assert s.scalar(select(func.count()).select_from(ReviewTask)) == 1
        assert s.scalars(select(ReviewTask)).one().reason == "confidence 0.4 < 0.5"


async def test_a_batch_job_exports_held_rows_without_their_answer_until_released(
    client: httpx.AsyncClient, world: World
) -> None:
    import json

    from tests.batchjobs.helpers import recorded, submit, wait_for

    key = world.user_with_key("olive", ["owner"])
    reviewer = world.user_with_key("rita", ["reviewer"])
    world.service("echo", owner="olive")
    world.policy("echo", HOLD_LOW)
    job = await submit(client, key, '{"x": 1}\n{"x": 300}\n{"x": 400}\n', "jsonl")
    await wait_for(world, job["id"])
    held = sorted(
        rid for rid, p in (await recorded(world, job["id"])).items() if p.outcome == "held_for_review"
    )
    assert len(held) == 2
    await decide(client, reviewer, held[0], {"action": "correct", "output": 5})

    r = await client.get(f"/v1/jobs/{job['id']}/results", headers=bearer(key))
    results = {e["request_id"]: e for e in map(json.loads, r.text.splitlines())}
    served = [e for e in results.values() if e["outcome"] == "served"]
    assert [(e["output"], e["review_state"]) for e in served] == [(2, None)]
    # The model's withheld answers (600, 800) never leave through the export.
    assert (results[held[0]]["output"], results[held[0]]["review_state"]) == (5, "corrected")
    assert (results[held[1]]["output"], results[held[1]]["review_state"]) == (None, "pending")
    assert results[held[1]]["confidence"] is None


async def test_pages_of_the_queue_neither_skip_nor_repeat_tasks_of_the_same_instant(
    client: httpx.AsyncClient, world: World
) -> None:
    caller = world.user_with_key("carol", ["consumer"])
    reviewer = world.user_with_key("rita", ["reviewer"])
    world.service("echo")
    world.policy("echo", HOLD_LOW)
    made = {(await invoke(client, caller, {"x": 100 + i})).json()["request_id"] for i in range(5)}
    await shipped(world)  # the frozen clock: all five started at the same instant

    seen: list[str] = []
    params: dict[str, str] = {"limit": "2"}
    while True:
        page = (await client.get("/v1/reviews", params=params, headers=bearer(reviewer))).json()
        if not page:
            break
        seen += [t["request_id"] for t in page]
        params = {"limit": "2", "before": page[-1]["created_at"], "before_id": page[-1]["request_id"]}
    assert sorted(seen) == sorted(made) and len(seen) == 5
