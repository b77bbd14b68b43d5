"""The runtime policy through the real app: fallbacks, breakers, shedding, deadlines, recorder cap."""

from __future__ import annotations

import asyncio
import multiprocessing
from typing import Any

import anyio.to_thread
import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from shipyard.audit.models import AuditEvent
from shipyard.registry import service as registry
from shipyard.registry.schemas import VersionCreate
from shipyard.serving.models import Prediction
from tests import factories
from tests.factories import World, bearer
from tests.registry.test_loaders import FakeModelServer

NUMBER_OUT = {"type": "number"}


async def invoke(
    client: httpx.AsyncClient, key: str, inputs: Any, slug: str = "echo", **headers: str
) -> httpx.Response:
    return await client.post(
        f"/v1/services/{slug}/invoke", json={"inputs": inputs}, headers={**bearer(key), **headers}
    )


async def recorded(world: World, request_id: str) -> Prediction:
    assert await anyio.to_thread.run_sync(world.ctx.shipper.flush)
    with world.ctx.sessions() as s:
        row = s.get(Prediction, request_id)
    assert row is not None, f"{request_id} was not recorded"
    return row


def metric(name: str, **labels: str) -> float:
    """A metric's current value in this process (metrics are process-wide, so tests compare deltas)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def owner_key(world: World) -> str:
    return world.user_with_key("olive", ["owner"])


# --- the policy API -------------------------------------------------------------------------------


async def test_policy_defaults_update_and_audit(client: httpx.AsyncClient, world: World) -> None:
    key = owner_key(world)
    world.service("echo", owner="olive", output_schema=NUMBER_OUT)
    r = await client.get("/v1/services/echo/policy", headers=bearer(key))
    assert r.status_code == 200
    assert r.json()["breaker"]["failure_threshold"] == 5 and r.json()["fallbacks"] == []

    policy = {
        "fallbacks": [{"kind": "fixed", "output": 0, "message": "sent to a person"}],
        "retries": {"attempts": 0},
    }
    r = await client.put("/v1/services/echo/policy", json=policy, headers=bearer(key))
    assert r.status_code == 200, r.text
    assert r.json()["fallbacks"][0]["message"] == "sent to a person"
    assert r.json()["retries"]["attempts"] == 0 and r.json()["breaker"]["cooldown_s"] == 30
    assert (await client.get("/v1/services/echo", headers=bearer(key))).json()["policy"] == r.json()

    with world.ctx.sessions() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "service.policy")).one()
    assert event.before["fallbacks"] == [] and event.after["retries"]["attempts"] == 0


@pytest.mark.parametrize(
    ("policy", "code", "where"),
    [
        ({"breaker": {"failure_treshold": 3}}, "invalid_input", "failure_treshold"),
        ({"fallbacks": [{"kind": "version", "version": 7}]}, "bad_policy", "no version 7"),
        ({"fallbacks": [{"kind": "fixed", "output": "text"}]}, "bad_policy", "output schema"),
        ({"fallbacks": [{"kind": "rule", "entrypoint": "tests.factories:nope"}]}, "bad_policy", "nope"),
        ({"fallbacks": [{"kind": "carrier-pigeon"}]}, "invalid_input", "carrier-pigeon"),
        ({"concurrency": {"max_concurrency": 0}}, "invalid_input", "max_concurrency"),
    ],
)
async def test_a_bad_policy_is_refused_with_the_reason(
    client: httpx.AsyncClient, world: World, policy: dict[str, Any], code: str, where: str
) -> None:
    key = owner_key(world)
    world.service("echo", owner="olive", output_schema=NUMBER_OUT)
    r = await client.put("/v1/services/echo/policy", json=policy, headers=bearer(key))
    assert r.status_code == 422, r.text
    assert r.json()["code"] == code
    assert where in r.text


async def test_only_owners_change_the_policy(client: httpx.AsyncClient, world: World) -> None:
    owner_key(world)
    world.service("echo", owner="olive")
    operator = world.user_with_key("otto", ["operator"])
    r = await client.put("/v1/services/echo/policy", json={}, headers=bearer(operator))
    assert r.status_code == 403 and r.json()["code"] == "forbidden"


# --- fallbacks ------------------------------------------------------------------------------------


async def test_a_failing_model_falls_back_to_another_version(client: httpx.AsyncClient, world: World) -> None:
    key = owner_key(world)
    world.service("echo", owner="olive", entrypoint="tests.factories:boom")
    world.version("echo", "tests.factories:double")
    world.policy("echo", {"fallbacks": [{"kind": "version", "version": 2}]})
    r = await invoke(client, key, {"x": 4})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["outcome"], body["output"], body["version"]) == ("fallback", 8, 1)
    assert body["fallback"]["step"] == "version:2" and body["fallback"]["cause"] == "model_failed"
    row = await recorded(world, body["request_id"])
    assert (row.outcome, row.fallback, row.error_code, row.output) == (
        "fallback",
        "version:2",
        "model_failed",
        8,
    )
    assert "model exploded" in (row.error_detail or "")


@pytest.mark.parametrize(
    ("entrypoint", "cause"),
    [
        ("tests.factories:nan", "bad_output"),
        ("tests.factories:overconfident", "bad_output"),
        ("tests.factories:wrong_type", "bad_output"),
        ("tests.factories:slow", "timeout"),
    ],
)
async def test_garbage_or_a_hang_falls_back_instead_of_passing_on(
    client: httpx.AsyncClient, world: World, entrypoint: str, cause: str
) -> None:
    key = owner_key(world)
    world.service("echo", owner="olive", entrypoint=entrypoint, output_schema=NUMBER_OUT, timeout_ms=200)
    world.policy("echo", {"fallbacks": [{"kind": "rule", "entrypoint": "tests.factories:rule_minus_one"}]})
    r = await invoke(client, key, {"x": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["outcome"], body["output"], body["confidence"]) == ("fallback", -1.0, None)
    assert body["fallback"] == {
        **body["fallback"],
        "step": "rule:tests.factories:rule_minus_one",
        "cause": cause,
    }
    row = await recorded(world, body["request_id"])
    assert (row.outcome, row.error_code) == ("fallback", cause)


async def test_a_fixed_answer_says_what_happened(client: httpx.AsyncClient, world: World) -> None:
    key = owner_key(world)
    world.service("echo", owner="olive", entrypoint="tests.factories:boom")
    world.policy(
        "echo",
        {"fallbacks": [{"kind": "fixed", "output": None, "message": "cannot answer now, sent to a person"}]},
    )
    body = (await invoke(client, key, {"x": 1})).json()
    assert body["outcome"] == "fallback" and body["output"] is None
    assert body["fallback"]["message"] == "cannot answer now, sent to a person"


async def test_when_every_fallback_fails_the_original_failure_stands(
    client: httpx.AsyncClient, world: World
) -> None:
    key = owner_key(world)
    world.service("echo", owner="olive", entrypoint="tests.factories:boom")
    world.version("echo", "tests.factories:nan")
    world.policy("echo", {"fallbacks": [{"kind": "version", "version": 2}]})
    r = await invoke(client, key, {"x": 1})
    assert r.status_code == 502 and r.json()["code"] == "model_failed"
    assert r.json()["fallbacks_failed"][0]["step"] == "version:2"
    row = await recorded(world, r.json()["request_id"])
    assert (row.outcome, row.fallback) == ("failed", None)


# --- the breaker ----------------------------------------------------------------------------------


async def test_the_breaker_opens_and_stops_calling_a_failing_version(
    client: httpx.AsyncClient, world: World
) -> None:
    key = owner_key(world)
    factories.CALLS.clear()
    world.service("echo", owner="olive", entrypoint="tests.factories:counted_boom")
    world.policy(
        "echo",
        {
            "breaker": {"failure_threshold": 3, "cooldown_s": 600},
            "fallbacks": [{"kind": "fixed", "output": 0}],
        },
    )
    labels = {"service": "echo", "version": "1", "step": "fixed", "cause": "breaker_open"}
    fallbacks_before = metric("shipyard_fallbacks_total", **labels)
    outcomes = [(await invoke(client, key, {"x": 1})).json() for _ in range(6)]
    assert [o["outcome"] for o in outcomes] == ["fallback"] * 6
    assert [o["fallback"]["cause"] for o in outcomes] == ["model_failed"] * 3 + ["breaker_open"] * 3
    assert factories.CALLS["counted_boom"] == 3  # the open breaker kept calls off the broken model

    state = (await client.get("/v1/services/echo/runtime", headers=bearer(key))).json()
    live = state["versions"][0]
    assert (live["role"], live["breaker"]["state"], live["breaker"]["opened_total"]) == ("live", "open", 1)
    metrics = (await client.get("/metrics")).text
    assert 'shipyard_breaker_state{service="echo",version="1"} 2.0' in metrics
    assert metric("shipyard_fallbacks_total", **labels) - fallbacks_before == 3

    r = await client.post("/v1/services/echo/versions/1/breaker/reset", headers=bearer(key))
    assert r.status_code == 200 and r.json()["versions"][0]["breaker"]["state"] == "closed"
    await invoke(client, key, {"x": 1})
    assert factories.CALLS["counted_boom"] == 4


async def test_without_a_fallback_an_open_breaker_is_a_clear_503(
    client: httpx.AsyncClient, world: World
) -> None:
    key = owner_key(world)
    world.service("echo", owner="olive", entrypoint="tests.factories:boom")
    world.policy("echo", {"breaker": {"failure_threshold": 1, "cooldown_s": 600}})
    assert (await invoke(client, key, {"x": 1})).status_code == 502
    r = await invoke(client, key, {"x": 1})
    assert r.status_code == 503 and r.json()["code"] == "breaker_open"
    assert 500 <= int(r.headers["retry-after"]) <= 600


# --- admission, deadlines -------------------------------------------------------------------------


async def test_overflow_is_shed_with_retry_after_and_recorded(
    client: httpx.AsyncClient, world: World
) -> None:
    key = owner_key(world)
    world.service("echo", owner="olive", entrypoint="tests.factories:slow", timeout_ms=5000)
    world.policy("echo", {"concurrency": {"max_concurrency": 1, "max_queue": 0}})
    shed_before = metric("shipyard_shed_total", service="echo", version="1", reason="queue_full")
    first = asyncio.create_task(invoke(client, key, {"x": 0.5}))
    await asyncio.sleep(0.1)
    r = await invoke(client, key, {"x": 0})
    assert r.status_code == 503 and r.json()["code"] == "shed"
    assert r.headers["retry-after"] == "1"
    assert (await first).status_code == 200
    row = await recorded(world, r.json()["request_id"])
    assert (row.outcome, row.error_code) == ("shed", "shed")
    assert metric("shipyard_shed_total", service="echo", version="1", reason="queue_full") - shed_before == 1


async def test_a_deadline_header_bounds_the_wait_and_is_not_fallen_back_on(
    client: httpx.AsyncClient, world: World
) -> None:
    key = owner_key(world)
    world.service("echo", owner="olive", entrypoint="tests.factories:slow", timeout_ms=5000)
    world.policy("echo", {"fallbacks": [{"kind": "fixed", "output": 0}]})
    r = await invoke(client, key, {"x": 1}, **{"X-Deadline-Ms": "100"})
    assert r.status_code == 504 and r.json()["code"] == "deadline_exceeded"
    row = await recorded(world, r.json()["request_id"])
    assert (row.outcome, row.error_code) == ("failed", "deadline_exceeded")


@pytest.mark.parametrize("value", ["soon", "0", "-5", "nan", "1e12"])
async def test_a_bad_deadline_header_is_refused(client: httpx.AsyncClient, world: World, value: str) -> None:
    key = owner_key(world)
    world.service("echo", owner="olive")
    r = await invoke(client, key, {"x": 1}, **{"X-Deadline-Ms": value})
    assert r.status_code == 422 and r.json()["code"] == "bad_deadline"


# --- dynamic batching -----------------------------------------------------------------------------


async def test_batching_serves_concurrent_calls_in_batches(client: httpx.AsyncClient, world: World) -> None:
    key = owner_key(world)
    world.service("echo", owner="olive")
    number = world.version("echo", "tests.factories:BatchDouble", supports_batching=True, make_live=True)
    world.policy("echo", {"batching": {"enabled": True, "max_batch_size": 8, "max_wait_ms": 20}})
    factories.BatchDouble.batches.clear()
    labels = {"service": "echo", "version": str(number)}
    seconds_before = metric("shipyard_batch_seconds_count", **labels)
    waits_before = metric("shipyard_batch_wait_seconds_count", **labels)
    wait_sum_before = metric("shipyard_batch_wait_seconds_sum", **labels)
    responses = await asyncio.gather(*(invoke(client, key, {"x": x}) for x in [1, 2, 3, 13, 5, 6]))
    by_x = dict(zip([1, 2, 3, 13, 5, 6], responses, strict=True))
    assert [by_x[x].json()["output"] for x in (1, 2, 3, 5, 6)] == [2, 4, 6, 10, 12]
    assert by_x[13].status_code == 502 and by_x[13].json()["code"] == "model_failed"
    assert max(factories.BatchDouble.batches) > 1  # the calls were really batched
    state = (await client.get("/v1/services/echo/runtime", headers=bearer(key))).json()
    assert state["versions"][0]["batching"] is True and state["versions"][0]["batches_total"] >= 1
    # each batch's model time and its oldest input's wait are in the metrics, one per batch
    batches = state["versions"][0]["batches_total"]
    assert metric("shipyard_batch_seconds_count", **labels) - seconds_before == batches
    assert metric("shipyard_batch_wait_seconds_count", **labels) - waits_before == batches
    # measured, and bounded by the 20 ms timer that starts a partial batch, not by the calls' timeouts
    assert 0 < metric("shipyard_batch_wait_seconds_sum", **labels) - wait_sum_before < 0.5 * batches


# --- process isolation ----------------------------------------------------------------------------


async def test_an_isolated_model_that_crashes_kills_a_worker_not_the_server(
    client: httpx.AsyncClient, world: World
) -> None:
    key = owner_key(world)
    world.service("echo", owner="olive", entrypoint="tests.factories:segfault", timeout_ms=5000)
    world.policy(
        "echo",
        {
            "isolation": {"mode": "process", "workers": 1},
            "fallbacks": [{"kind": "rule", "entrypoint": "tests.factories:rule_minus_one"}],
        },
    )
    for _ in range(2):  # the second call gets a fresh worker, which crashes again
        body = (await invoke(client, key, {"x": 1})).json()
        assert body["outcome"] == "fallback", body
        assert body["fallback"]["cause"] == "model_crashed"
        assert "SIGSEGV" in body["fallback"]["detail"]
    state = (await client.get("/v1/services/echo/runtime", headers=bearer(key))).json()
    isolation = state["versions"][0]["isolation"]
    assert isolation["crashes"] == 2 and isolation["mode"] == "process"

    world.version("echo", "tests.isolation_models:double", make_live=True)
    body = (await invoke(client, key, {"x": 4})).json()
    assert (body["outcome"], body["output"], body["version"]) == ("served", 8, 2)


# --- rate limits ----------------------------------------------------------------------------------


async def test_a_caller_over_its_rate_gets_429_with_retry_after(
    client: httpx.AsyncClient, world: World
) -> None:
    key = owner_key(world)
    other = world.user_with_key("carol", ["consumer"])
    world.service("echo", owner="olive")
    world.policy("echo", {"rate_limit": {"per_caller_per_minute": 2}})
    assert [(await invoke(client, key, {"x": 1})).status_code for _ in range(2)] == [200, 200]
    r = await invoke(client, key, {"x": 1})
    assert r.status_code == 429 and r.json()["code"] == "rate_limited"
    assert 1 <= int(r.headers["retry-after"]) <= 60
    assert (await invoke(client, other, {"x": 1})).status_code == 200  # limits are per caller
    row = await recorded(world, r.json()["request_id"])
    assert (row.outcome, row.error_code) == ("rejected", "rate_limited")


# --- remote runtimes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "status", "code", "requests"),
    [("500", 503, "upstream_error", 3), ("429", 503, "upstream_error", 3), ("400", 502, "model_failed", 1)],
)
async def test_remote_errors_are_retried_when_safe_and_answered_clearly(
    client: httpx.AsyncClient, world: World, mode: str, status: int, code: str, requests: int
) -> None:
    key = owner_key(world)
    world.service("echo", owner="olive")
    endpoint = FakeModelServer()
    try:
        with world.ctx.uow() as s:
            registry.register_version(
                s,
                world.actor(),
                world.ctx.store,
                "echo",
                VersionCreate(
                    loader="http", entrypoint=endpoint.url, returns_confidence=True, make_live=True
                ),
            )
        world.policy("echo", {"retries": {"attempts": 2, "backoff_ms": 1}})
        endpoint.mode = mode
        r = await invoke(client, key, {"x": 1})
        assert r.status_code == status and r.json()["code"] == code, r.text
        assert r.json()["upstream_status"] == int(mode) and r.json()["status"] == status
        assert r.json().get("attempts", 1) == requests and len(endpoint.requests) == requests
        endpoint.mode = "ok"
        assert (await invoke(client, key, {"x": 2})).json()["output"] == 4
    finally:
        endpoint.stop()


async def test_changing_the_isolation_retires_the_old_model_processes(
    client: httpx.AsyncClient, world: World
) -> None:
    key = owner_key(world)
    world.service("echo", owner="olive", timeout_ms=500)
    world.policy("echo", {"isolation": {"mode": "process", "workers": 2}})
    assert (await invoke(client, key, {"x": 1})).json()["output"] == 2
    assert len(multiprocessing.active_children()) == 2
    world.policy("echo", {})  # back to threads in the server process
    assert (await invoke(client, key, {"x": 2})).json()["output"] == 4
    for _ in range(100):  # the old processes close once their calls could have ended (timeout + 1 s)
        if not multiprocessing.active_children():
            break
        await asyncio.sleep(0.05)
    assert multiprocessing.active_children() == []


async def test_an_output_schema_that_the_fixed_fallback_breaks_is_refused(
    client: httpx.AsyncClient, world: World
) -> None:
    key = owner_key(world)
    world.service("echo", owner="olive", output_schema=NUMBER_OUT)
    world.policy("echo", {"fallbacks": [{"kind": "fixed", "output": 0}]})
    r = await client.patch(
        "/v1/services/echo", json={"output_schema": {"type": "string"}}, headers=bearer(key)
    )
    assert r.status_code == 422 and r.json()["code"] == "bad_policy"
    assert (await client.get("/v1/services/echo", headers=bearer(key))).json()["output_schema"] == NUMBER_OUT
