"""Feedback and ground-truth labels through the API: validation, permissions, per-item errors, audit."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
import httpx
from sqlalchemy import select

from shipyard.audit.models import AuditEvent
from shipyard.review.models import Feedback, Label
from tests.factories import World, bearer


async def call(client: httpx.AsyncClient, key: str, x: float, slug: str = "echo") -> str:
    r = await client.post(f"/v1/services/{slug}/invoke", json={"inputs": {"x": x}}, headers=bearer(key))
    assert r.status_code == 200, r.text
    request_id: str = r.json()["request_id"]
    return request_id


async def shipped(world: World) -> None:
    assert await anyio.to_thread.run_sync(world.ctx.shipper.flush)


def audit(world: World, action: str) -> list[AuditEvent]:
    with world.ctx.sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)))


async def feedback(
    client: httpx.AsyncClient, key: str, request_id: str, body: dict[str, Any]
) -> httpx.Response:
    return await client.post(f"/v1/predictions/{request_id}/feedback", json=body, headers=bearer(key))


async def test_a_caller_flags_a_prediction_with_a_correct_answer(
    client: httpx.AsyncClient, world: World
) -> None:
    key = world.user_with_key("carol", ["consumer"])
    world.service("echo")
    rid = await call(client, key, 2)
    await shipped(world)
    r = await feedback(client, key, rid, {"flag": "wrong", "label": 5, "comment": "should be five"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["flag"], body["label"], body["service"], body["version"]) == ("wrong", 5, "echo", 1)
    assert body["given_by"].startswith("key:sy_")  # the API key's name, as in the audit trail
    (event,) = audit(world, "feedback.create")
    assert event.target_id == rid and event.service == "echo"
    assert event.after == {"id": body["id"], "flag": "wrong", "label": 5, "comment": True}  # not its text
    with world.ctx.sessions() as s:
        assert s.get(Feedback, body["id"]).comment == "should be five"  # type: ignore[union-attr]


async def test_feedback_input_is_checked(client: httpx.AsyncClient, world: World) -> None:
    key = world.user_with_key("carol", ["consumer"])
    world.service("echo")
    rid = await call(client, key, 2)
    await shipped(world)
    for body in (
        {"flag": "meh"},
        {},
        {"flag": "wrong", "extra": 1},
        {"flag": "unclear", "comment": "x" * 2001},
    ):
        r = await feedback(client, key, rid, body)
        assert r.status_code == 422 and r.json()["code"] == "invalid_input", (body, r.text)
    assert audit(world, "feedback.create") == []


async def test_feedback_on_an_unrecorded_call_says_to_retry(client: httpx.AsyncClient, world: World) -> None:
    key = world.user_with_key("carol", ["consumer"])
    world.service("echo")
    r = await feedback(client, key, "req_notyetshipped", {"flag": "correct"})
    assert r.status_code == 404 and r.json()["code"] == "prediction_not_found"
    assert "retry shortly" in r.json()["detail"] and r.headers["retry-after"] == "2"


async def test_only_who_may_invoke_the_service_may_give_feedback(
    client: httpx.AsyncClient, world: World
) -> None:
    consumer = world.user_with_key("carol", ["consumer"])
    world.user_with_key("olive", ["owner"])
    world.service("echo", owner="olive")
    rid = await call(client, consumer, 1)
    await shipped(world)
    analyst = world.user_with_key("anna", ["analyst"])
    r = await feedback(client, analyst, rid, {"flag": "correct"})
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    other_owner = world.user_with_key("oscar", ["owner"])  # owns nothing: echo is olive's
    r = await feedback(client, other_owner, rid, {"flag": "correct"})
    assert r.status_code == 403 and "prediction:feedback on echo" in r.json()["detail"]
    limited = world.key("carol", services=["other"])
    r = await feedback(client, limited, rid, {"flag": "correct"})
    assert r.status_code == 403
    assert (await feedback(client, world.key("olive"), rid, {"flag": "correct"})).status_code == 201


async def test_bulk_labels_store_the_good_items_and_list_the_bad(
    client: httpx.AsyncClient, world: World
) -> None:
    owner = world.user_with_key("olive", ["owner"])
    world.service("echo", owner="olive")
    world.service("other", owner="olive")
    a, b = await call(client, owner, 1), await call(client, owner, 2)
    foreign = await call(client, owner, 3, slug="other")
    await shipped(world)
    items: list[Any] = [
        {"request_id": a, "label": 2},
        {"request_id": b},  # no label
        "not an object",
        {"request_id": a, "label": 3},  # again
        {"request_id": "req_unknown", "label": 1},
        {"request_id": foreign, "label": 6},
        {"request_id": b, "label": 4, "note": "x"},  # unknown field
        {"request_id": b, "label": {"nested": True}},
    ]
    r = await client.post("/v1/services/echo/labels", json={"labels": items}, headers=bearer(owner))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["accepted"], body["replaced"]) == (2, 0)
    assert [(e["index"], e["code"]) for e in body["errors"]] == [
        (1, "bad_item"),
        (2, "bad_item"),
        (3, "duplicate"),
        (4, "unknown_request_id"),
        (5, "other_service"),
        (6, "bad_item"),
    ]
    assert "label is missing" in body["errors"][0]["message"]
    assert "retry shortly" in body["errors"][3]["message"]
    with world.ctx.sessions() as s:
        stored = {lb.request_id: lb.label for lb in s.scalars(select(Label))}
    assert stored == {a: 2, b: {"nested": True}}
    (event,) = audit(world, "labels.upload")
    assert event.after["accepted"] == 2 and event.after["rejected"] == 6
    assert set(event.after["request_ids"]) == {a, b}

    r = await client.post(
        "/v1/services/echo/labels", json={"labels": [{"request_id": a, "label": 7}]}, headers=bearer(owner)
    )
    assert (r.json()["accepted"], r.json()["replaced"], r.json()["errors"]) == (1, 1, [])
    with world.ctx.sessions() as s:
        assert s.get(Label, a).label == 7  # type: ignore[union-attr]


async def test_bulk_labels_refusals(client: httpx.AsyncClient, world: World) -> None:
    owner = world.user_with_key("olive", ["owner"])
    consumer = world.user_with_key("carol", ["consumer"])
    world.service("echo", owner="olive")
    r = await client.post("/v1/services/echo/labels", json={"labels": []}, headers=bearer(owner))
    assert r.status_code == 422 and r.json()["code"] == "no_labels"
    r = await client.post("/v1/services/echo/labels", json={"labels": [{}]}, headers=bearer(consumer))
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    r = await client.post(
        "/v1/services/nope/labels", json={"labels": [{}]}, headers=bearer(world.key("olive"))
    )
    assert r.status_code in (403, 404)  # an owner cannot tell a missing service from another's
    admin = world.user_with_key("ada", ["admin"])
    r = await client.post("/v1/services/nope/labels", json={"labels": [{}]}, headers=bearer(admin))
    assert r.status_code == 404 and r.json()["code"] == "not_found"
