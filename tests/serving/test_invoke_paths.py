"""Every way an invoke can end, through the real app: status, problem code, and what gets recorded."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio.to_thread
import httpx
import pytest
from sqlalchemy import select

from shipyard.audit.models import AuditEvent
from shipyard.core.config import ServingSettings, Settings
from shipyard.registry import service as registry
from shipyard.registry.schemas import ServiceCreate
from shipyard.serving.models import Prediction
from tests.factories import ECHO_SCHEMA, World, bearer

MAX_BODY = 2048
PROBLEM = "application/problem+json"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shared settings with a small body limit, so a 413 needs only a few kilobytes."""
    return settings.model_copy(update={"serving": ServingSettings(max_body_bytes=MAX_BODY)})


def key_name(key: str) -> str:
    return f"key:{key[:10]}"


async def invoke(client: httpx.AsyncClient, key: str, inputs: Any, slug: str = "echo") -> httpx.Response:
    return await client.post(f"/v1/services/{slug}/invoke", json={"inputs": inputs}, headers=bearer(key))


def assert_problem(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = r.json()
    assert body["code"] == code and body["status"] == status
    assert body["request_id"] == r.headers["x-request-id"]
    return body


async def shipped(world: World, request_id: str) -> Prediction:
    """The prediction row, once the recorder has shipped everything appended so far."""
    assert await anyio.to_thread.run_sync(world.ctx.shipper.flush)
    with world.ctx.sessions() as s:
        row = s.get(Prediction, request_id)
    assert row is not None, f"{request_id} was not recorded"
    return row


# --- validation -----------------------------------------------------------------------------------


async def test_schema_violations_are_all_listed(client: httpx.AsyncClient, world: World) -> None:
    key = world.user_with_key("carol", ["consumer"])
    world.service("echo")
    r = await invoke(client, key, {"label": 5, "extra": True})  # missing x, wrong type, extra property
    body = assert_problem(r, 422, "schema_violation")
    errors = body["errors"]
    assert len(errors) == 3, errors
    assert {e["rule"] for e in errors} == {"required", "type", "additionalProperties"}
    by_rule = {e["rule"]: e for e in errors}
    assert by_rule["type"]["loc"] == "/label"
    assert "'x'" in by_rule["required"]["message"]
    assert "extra" in by_rule["additionalProperties"]["message"]
    assert "3 violations" in body["detail"]

    row = await shipped(world, body["request_id"])
    assert (row.outcome, row.error_code, row.output) == ("rejected", "schema_violation", None)


async def test_body_that_is_not_json(client: httpx.AsyncClient, world: World) -> None:
    key = world.user_with_key("carol", ["consumer"])
    world.service("echo")
    r = await client.post(
        "/v1/services/echo/invoke",
        content=b'{"inputs": {"x": 1',
        headers={**bearer(key), "content-type": "application/json"},
    )
    assert_problem(r, 422, "bad_json")


@pytest.mark.parametrize("body", [{"input": {"x": 1}}, [{"x": 1}], {}])
async def test_body_without_inputs(client: httpx.AsyncClient, world: World, body: Any) -> None:
    key = world.user_with_key("carol", ["consumer"])
    world.service("echo")
    r = await client.post("/v1/services/echo/invoke", json=body, headers=bearer(key))
    problem = assert_problem(r, 422, "bad_body")
    assert [e["loc"] for e in problem["errors"]] == ["/inputs"]


async def test_oversized_body_with_content_length(client: httpx.AsyncClient, world: World) -> None:
    key = world.user_with_key("carol", ["consumer"])
    world.service("echo")
    r = await invoke(client, key, {"x": 1, "label": "a" * (MAX_BODY + 10)})
    assert int(r.request.headers["content-length"]) > MAX_BODY
    body = assert_problem(r, 413, "payload_too_large")
    assert str(MAX_BODY) in body["detail"]


async def _chunks(total: int, size: int = 512) -> AsyncIterator[bytes]:
    payload = b'{"inputs": {"x": 1, "label": "' + b"a" * max(0, total - 32) + b'"}}'
    for i in range(0, len(payload), size):
        yield payload[i : i + size]


async def test_oversized_chunked_body_without_content_length(client: httpx.AsyncClient, world: World) -> None:
    key = world.user_with_key("carol", ["consumer"])
    world.service("echo")
    request = client.build_request(
        "POST",
        "/v1/services/echo/invoke",
        content=_chunks(MAX_BODY * 3),
        headers={**bearer(key), "content-type": "application/json"},
    )
    assert "content-length" not in request.headers
    assert request.headers["transfer-encoding"] == "chunked"
    r = await client.send(request)
    assert_problem(r, 413, "payload_too_large")


async def test_chunked_body_under_the_limit_is_served(client: httpx.AsyncClient, world: World) -> None:
    key = world.user_with_key("carol", ["consumer"])
    world.service("echo")

    async def body() -> AsyncIterator[bytes]:
        yield b'{"inputs": '
        yield b'{"x": 4}}'

    r = await client.post(
        "/v1/services/echo/invoke",
        content=body(),
        headers={**bearer(key), "content-type": "application/json"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["output"] == 8


# --- pause and resume -----------------------------------------------------------------------------


async def test_paused_service_refuses_with_who_and_why_then_resumes(
    client: httpx.AsyncClient, world: World
) -> None:
    consumer = world.user_with_key("carol", ["consumer"])
    operator = world.user_with_key("olga", ["operator"])
    world.service("echo")
    assert (await invoke(client, consumer, {"x": 1})).status_code == 200  # config now cached

    reason = "incident 42: wrong answers"
    r = await client.post("/v1/services/echo/pause", json={"reason": reason}, headers=bearer(operator))
    assert r.status_code == 200, r.text
    assert r.json()["paused"] is True and r.json()["paused_by"] == key_name(operator)

    r = await invoke(client, consumer, {"x": 1})  # seen at once: the cache was invalidated on commit
    body = assert_problem(r, 503, "paused")
    assert key_name(operator) in body["detail"] and reason in body["detail"]
    assert body["paused_by"] == key_name(operator) and body["reason"] == reason
    assert body["paused_at"]
    row = await shipped(world, body["request_id"])
    assert (row.outcome, row.error_code, row.caller) == ("rejected", "paused", key_name(consumer))
    assert row.inputs == {"x": 1} and row.output is None

    r = await client.post("/v1/services/echo/resume", headers=bearer(operator))
    assert r.status_code == 200 and r.json()["paused"] is False
    r = await invoke(client, consumer, {"x": 3})
    assert r.status_code == 200 and r.json()["output"] == 6


async def test_service_changes_reach_the_hot_path_immediately(
    client: httpx.AsyncClient, world: World
) -> None:
    consumer = world.user_with_key("carol", ["consumer"])
    admin = world.user_with_key("root", ["admin"])
    world.service("echo")
    assert (await invoke(client, consumer, {"x": 2})).status_code == 200
    stricter = {**ECHO_SCHEMA, "required": ["x", "label"]}
    r = await client.patch("/v1/services/echo", json={"input_schema": stricter}, headers=bearer(admin))
    assert r.status_code == 200, r.text
    body = assert_problem(await invoke(client, consumer, {"x": 2}), 422, "schema_violation")
    assert [e["rule"] for e in body["errors"]] == ["required"]
    assert (await invoke(client, consumer, {"x": 2, "label": "ok"})).status_code == 200


# --- model failures -------------------------------------------------------------------------------


async def test_a_model_that_abstains_is_recorded_so(client: httpx.AsyncClient, world: World) -> None:
    key = world.user_with_key("carol", ["consumer"])
    world.service("unsure", entrypoint="tests.factories:unsure")
    known = await invoke(client, key, {"x": 2}, "unsure")
    assert (known.status_code, known.json()["outcome"]) == (200, "served")
    unknown = await invoke(client, key, {"x": -1}, "unsure")
    assert unknown.status_code == 200
    assert (unknown.json()["outcome"], unknown.json()["output"]) == ("abstained", {"reason": "x is negative"})
    row = await shipped(world, unknown.json()["request_id"])
    assert (row.outcome, row.confidence, row.error_code) == ("abstained", 0.1, None)


async def test_model_that_raises(client: httpx.AsyncClient, world: World) -> None:
    key = world.user_with_key("carol", ["consumer"])
    world.service("boom", entrypoint="tests.factories:boom")
    body = assert_problem(await invoke(client, key, {"x": 1}, "boom"), 502, "model_failed")
    assert "model exploded" in body["detail"]
    row = await shipped(world, body["request_id"])
    assert (row.outcome, row.error_code, row.version) == ("failed", "model_failed", 1)
    assert "model exploded" in (row.error_detail or "")


async def test_model_slower_than_its_timeout_answers_promptly(
    client: httpx.AsyncClient, world: World
) -> None:
    key = world.user_with_key("carol", ["consumer"])
    world.service("slowpoke", entrypoint="tests.factories:slow", timeout_ms=100)
    sleep_s = 1.5
    t0 = time.perf_counter()
    r = await invoke(client, key, {"x": sleep_s}, "slowpoke")
    elapsed = time.perf_counter() - t0
    body = assert_problem(r, 504, "timeout")
    assert elapsed < sleep_s - 0.5, elapsed  # the caller is freed, not held until the model returns
    row = await shipped(world, body["request_id"])
    assert (row.outcome, row.error_code) == ("failed", "timeout")
    await asyncio.sleep(sleep_s - elapsed + 0.1)  # let the abandoned model thread finish inside the test


async def test_output_that_breaks_the_output_schema(client: httpx.AsyncClient, world: World) -> None:
    key = world.user_with_key("carol", ["consumer"])
    world.service("typed", output_schema={"type": "string"})
    body = assert_problem(await invoke(client, key, {"x": 1}, "typed"), 502, "bad_output")
    assert "output schema" in body["detail"]
    row = await shipped(world, body["request_id"])
    assert (row.outcome, row.error_code) == ("failed", "bad_output")


async def test_service_without_a_live_version(client: httpx.AsyncClient, world: World) -> None:
    key = world.user_with_key("carol", ["consumer"])
    with world.ctx.uow() as s:
        registry.create_service(
            s, world.actor(), ServiceCreate(slug="empty", name="Empty", input_schema=ECHO_SCHEMA)
        )
    body = assert_problem(await invoke(client, key, {"x": 1}, "empty"), 503, "no_live_version")
    row = await shipped(world, body["request_id"])
    assert (row.outcome, row.version) == ("rejected", None)


async def test_unknown_service(client: httpx.AsyncClient, world: World) -> None:
    key = world.user_with_key("carol", ["consumer"])
    assert_problem(await invoke(client, key, {"x": 1}, "nope"), 404, "not_found")


# --- what is recorded, and reading it -------------------------------------------------------------


async def test_predictions_are_recorded_with_every_field(client: httpx.AsyncClient, world: World) -> None:
    consumer = world.user_with_key("carol", ["consumer"])
    analyst = world.user_with_key("ann", ["analyst"])
    world.service("echo")
    ids = []
    for x in (21, 500):
        r = await invoke(client, consumer, {"x": x, "label": f"n{x}"})
        assert r.status_code == 200, r.text
        ids.append(r.json()["request_id"])
    assert await anyio.to_thread.run_sync(world.ctx.shipper.flush)

    r = await client.get("/v1/services/echo/predictions?limit=1000", headers=bearer(analyst))
    assert r.status_code == 200, r.text
    rows = {p["request_id"]: p for p in r.json()}
    assert set(rows) == set(ids)
    first, second = rows[ids[0]], rows[ids[1]]
    assert first["service"] == "echo" and first["version"] == 1
    assert first["caller"] == key_name(consumer) and first["caller_kind"] == "key"
    assert first["inputs"] == {"x": 21, "label": "n21"}
    assert (first["output"], first["confidence"], first["outcome"]) == (42, 0.9, "served")
    assert (second["output"], second["confidence"]) == (1000, 0.4)
    assert first["error_code"] is None and first["error_detail"] is None
    for p in rows.values():
        assert p["latency_ms"] > 0
        started, ended = datetime.fromisoformat(p["started_at"]), datetime.fromisoformat(p["ended_at"])
        assert started == datetime(2026, 1, 1, tzinfo=UTC)  # the app's (frozen) clock
        assert ended - started == timedelta(milliseconds=p["latency_ms"])

    # The read itself is audited: who read which records.
    with world.ctx.sessions() as s:
        events = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "prediction.read")))
    assert len(events) == 1
    event = events[0]
    assert (event.actor, event.actor_kind, event.service, event.target_id) == (
        key_name(analyst),
        "key",
        "echo",
        "echo",
    )
    assert event.after is not None
    assert event.after["count"] == 2 and set(event.after["request_ids"]) == set(ids)
    assert event.request_id == r.headers["x-request-id"]

    r = await client.get(f"/v1/services/echo/predictions/{ids[0]}", headers=bearer(analyst))
    assert r.status_code == 200 and r.json()["output"] == 42
    with world.ctx.sessions() as s:
        one = s.scalars(
            select(AuditEvent).where(AuditEvent.action == "prediction.read", AuditEvent.target_id == ids[0])
        ).all()
    assert len(one) == 1 and one[0].target_type == "prediction"


async def test_consumers_cannot_read_predictions(client: httpx.AsyncClient, world: World) -> None:
    consumer = world.user_with_key("carol", ["consumer"])
    world.service("echo")
    r = await client.get("/v1/services/echo/predictions", headers=bearer(consumer))
    assert_problem(r, 403, "forbidden")
