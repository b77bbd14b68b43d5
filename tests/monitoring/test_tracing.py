"""Spans of the invoke path, through real calls: the tree, its attributes, error status, no payloads."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from shipyard.core.config import Settings, TracingSettings
from shipyard.monitoring.tracing import NOOP, Tracing, TracingNotInstalled
from shipyard.web.app import create_app
from tests.factories import World, bearer

REQUEST_SPAN = "POST /v1/services/{slug}/invoke"
SECRET_LABEL = "jane-doe-4111"  # an input value that must never reach a span


@pytest.fixture
def spans(world: World) -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    world.ctx.tracing = Tracing.with_exporter(exporter)
    yield exporter
    world.ctx.tracing.shutdown()


def tree(exporter: InMemorySpanExporter, request_id: str) -> tuple[ReadableSpan, list[ReadableSpan]]:
    """The request span of `request_id` and its descendants, in start order."""
    finished = exporter.get_finished_spans()
    roots = [s for s in finished if (s.attributes or {}).get("shipyard.request_id") == request_id]
    assert len(roots) == 1, [s.name for s in finished]
    root = roots[0]
    assert root.context is not None
    trace_id = root.context.trace_id
    children = [
        s for s in finished if s.context is not None and s.context.trace_id == trace_id and s is not root
    ]
    return root, sorted(children, key=lambda s: s.start_time or 0)


def parent_names(children: list[ReadableSpan], root: ReadableSpan) -> dict[str, str]:
    by_id = {s.context.span_id: s.name for s in [root, *children] if s.context is not None}
    return {s.name: by_id[s.parent.span_id] for s in children if s.parent is not None}


def no_payloads(spans: list[ReadableSpan]) -> None:
    for span in spans:
        events = [(e.name, dict(e.attributes or {})) for e in span.events]
        text = repr(dict(span.attributes or {})) + repr(events)
        assert SECRET_LABEL not in text and "model exploded" not in text, (span.name, text)


async def invoke(client: httpx.AsyncClient, key: str, x: float, **headers: str) -> httpx.Response:
    return await client.post(
        "/v1/services/echo/invoke",
        json={"inputs": {"x": x, "label": SECRET_LABEL}},
        headers={**bearer(key), **headers},
    )


async def test_a_served_call_has_a_span_per_step(
    client: httpx.AsyncClient, world: World, spans: InMemorySpanExporter
) -> None:
    key = world.user_with_key("carol", ["consumer"])
    world.service("echo")
    r = await invoke(client, key, 2)
    assert r.status_code == 200, r.text
    root, children = tree(spans, r.json()["request_id"])

    assert root.name == REQUEST_SPAN and root.parent is None
    assert root.status.status_code == StatusCode.UNSET
    attrs = dict(root.attributes or {})
    assert attrs["shipyard.service"] == "echo" and attrs["shipyard.version"] == 1
    assert attrs["shipyard.outcome"] == "served" and attrs["http.response.status_code"] == 200
    names = [s.name for s in children]
    assert names == [
        "shipyard.auth",
        "shipyard.route",
        "shipyard.validate",
        "shipyard.rate_limit",
        "shipyard.model",
        "shipyard.record",
    ]
    assert set(parent_names(children, root).values()) == {REQUEST_SPAN}
    assert (children[4].attributes or {})["shipyard.version"] == 1
    assert all(s.status.status_code == StatusCode.UNSET for s in children)
    assert resource_name(root) == "shipyard"
    no_payloads([root, *children])


def resource_name(span: ReadableSpan) -> Any:
    return span.resource.attributes["service.name"]


async def test_a_fallback_shows_the_failed_model_and_the_step_that_answered(
    client: httpx.AsyncClient, world: World, spans: InMemorySpanExporter
) -> None:
    key = world.user_with_key("olive", ["owner"])
    world.service("echo", owner="olive", entrypoint="tests.factories:boom")
    world.version("echo", "tests.factories:counted_boom")
    world.version("echo", "tests.factories:double")
    world.policy(
        "echo",
        {
            "retries": {"attempts": 0},
            "fallbacks": [{"kind": "version", "version": 2}, {"kind": "version", "version": 3}],
        },
    )
    r = await invoke(client, key, 2)
    assert r.status_code == 200 and r.json()["outcome"] == "fallback", r.text
    root, children = tree(spans, r.json()["request_id"])

    attrs = dict(root.attributes or {})
    assert attrs["shipyard.outcome"] == "fallback" and attrs["shipyard.fallback"] == "version:3"
    assert root.status.status_code == StatusCode.UNSET  # the caller got an answer
    models = [s for s in children if s.name == "shipyard.model"]
    assert [(s.attributes or {})["shipyard.version"] for s in models] == [1, 2, 3]
    assert [s.status.status_code for s in models] == [StatusCode.ERROR, StatusCode.ERROR, StatusCode.UNSET]
    assert (models[0].attributes or {})["shipyard.error_code"] == "model_failed"
    (fallback,) = [s for s in children if s.name == "shipyard.fallback"]
    assert (fallback.attributes or {})["shipyard.cause"] == "model_failed"
    parents = {s.context.span_id: s for s in [root, *children] if s.context is not None}
    assert [parents[s.parent.span_id].name for s in models if s.parent is not None] == [
        REQUEST_SPAN,
        "shipyard.fallback",
        "shipyard.fallback",
    ]
    events = [(e.name, dict(e.attributes or {})) for e in fallback.events]
    failed = {"shipyard.step": "version:2", "shipyard.error_code": "model_failed"}
    assert events == [("fallback_step_failed", failed)]
    no_payloads([root, *children])


async def test_a_failed_call_marks_the_request_and_model_spans_as_errors(
    client: httpx.AsyncClient, world: World, spans: InMemorySpanExporter
) -> None:
    key = world.user_with_key("carol", ["consumer"])
    world.service("echo", entrypoint="tests.factories:boom")
    r = await invoke(client, key, 2)
    assert r.status_code == 502 and r.json()["code"] == "model_failed"
    root, children = tree(spans, r.json()["request_id"])

    assert root.status.status_code == StatusCode.ERROR and root.status.description == "model_failed"
    attrs = dict(root.attributes or {})
    assert attrs["shipyard.outcome"] == "failed" and attrs["http.response.status_code"] == 502
    assert attrs["shipyard.error_code"] == "model_failed"
    (model,) = [s for s in children if s.name == "shipyard.model"]
    assert model.status.status_code == StatusCode.ERROR
    assert [s.name for s in children][-1] == "shipyard.record"  # a failed call is recorded too
    assert not root.events and not model.events  # no exception event: its message may quote the input
    no_payloads([root, *children])


async def test_a_refused_caller_is_not_a_server_error(
    client: httpx.AsyncClient, world: World, spans: InMemorySpanExporter
) -> None:
    world.user_with_key("carol", ["consumer"])
    world.service("echo")
    r = await client.post("/v1/services/echo/invoke", json={"inputs": {"x": 1}}, headers=bearer("sk_nope"))
    assert r.status_code == 401 and r.json()["code"] == "bad_api_key"
    root, children = tree(spans, r.json()["request_id"])
    assert [s.name for s in children] == ["shipyard.auth"]
    assert children[0].status.status_code == StatusCode.ERROR
    assert root.status.status_code == StatusCode.UNSET  # a 4xx is the caller's, not the server's
    assert (root.attributes or {})["http.response.status_code"] == 401


async def test_an_incoming_traceparent_is_continued(
    client: httpx.AsyncClient, world: World, spans: InMemorySpanExporter
) -> None:
    key = world.user_with_key("carol", ["consumer"])
    world.service("echo")
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    r = await invoke(client, key, 1, traceparent=f"00-{trace_id}-00f067aa0ba902b7-01")
    root, _ = tree(spans, r.json()["request_id"])
    assert root.context is not None and root.parent is not None
    assert format(root.context.trace_id, "032x") == trace_id
    assert format(root.parent.span_id, "016x") == "00f067aa0ba902b7"


async def test_sampled_out_calls_make_no_spans(
    client: httpx.AsyncClient, world: World, spans: InMemorySpanExporter
) -> None:
    exporter = InMemorySpanExporter()
    world.ctx.tracing.shutdown()
    world.ctx.tracing = Tracing.with_exporter(exporter, TracingSettings(sample_ratio=0))
    key = world.user_with_key("carol", ["consumer"])
    world.service("echo")
    assert (await invoke(client, key, 1)).status_code == 200
    assert exporter.get_finished_spans() == ()


def test_off_by_default_and_every_helper_is_the_shared_noop() -> None:
    tracing = Tracing.from_settings(TracingSettings())
    assert not tracing.enabled
    assert tracing.request(REQUEST_SPAN, "r1", "echo", {}) is NOOP
    assert tracing.step("model", version=1) is NOOP
    tracing.note(outcome="served")
    tracing.event("x")
    tracing.shutdown()


def test_an_endpoint_without_the_exporter_is_a_clear_error_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # None in sys.modules makes the import fail as if the package were not installed.
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.http.trace_exporter", None)
    settings = Settings(
        env="test", home=tmp_path, tracing=TracingSettings(otlp_endpoint="http://127.0.0.1:4318/v1/traces")
    )
    with pytest.raises(TracingNotInstalled, match=r"pip install 'shipyard\[otel\]'"):
        create_app(settings)
