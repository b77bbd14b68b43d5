"""/metrics in one process: the series the issue names, label safety, gauges defined elsewhere."""

from __future__ import annotations

import re
from typing import Any

import httpx
from prometheus_client import Gauge
from prometheus_client.parser import text_string_to_metric_families

from shipyard.monitoring import metrics
from tests.factories import World, bearer

# Label names a Shipyard series may carry; every value must be a slug, a number or a code-style word.
# `feature` (the drift gauges) is a field name of the version's reference data, never a field's value.
ALLOWED_LABELS = {
    "service",
    "version",
    "outcome",
    "step",
    "cause",
    "reason",
    "code",
    "direction",
    "feature",
    "action",
    "rule",
    "le",
}
SAFE_VALUE = re.compile(r"^([a-z0-9][a-z0-9_.:+-]*|[0-9.e+-]+|\+Inf)$")
MARKERS = ("ZQX", "zqx", "mallory", "4111")  # in the payloads and the caller's name


def samples(text: str, prefix: str = "shipyard_") -> list[tuple[str, dict[str, str], float]]:
    return [
        (s.name, s.labels, s.value)
        for family in text_string_to_metric_families(text)
        if family.name.startswith(prefix)
        for s in family.samples
    ]


def value(text: str, name: str, **labels: str) -> float:
    return sum(v for n, lab, v in samples(text, "") if n == name and labels.items() <= lab.items())


async def invoke(client: httpx.AsyncClient, key: str, slug: str, inputs: Any) -> httpx.Response:
    return await client.post(f"/v1/services/{slug}/invoke", json={"inputs": inputs}, headers=bearer(key))


async def test_no_label_value_comes_from_a_payload_or_a_caller(
    client: httpx.AsyncClient, world: World
) -> None:
    key = world.user_with_key("mallory-zqx", ["consumer"])
    world.service("echo")
    world.service("leaky", entrypoint="tests.monitoring.models:leaky")
    world.service("saved", entrypoint="tests.monitoring.models:leaky")
    world.policy("saved", {"fallbacks": [{"kind": "fixed", "output": 0}]})
    world.service("unsure", entrypoint="tests.factories:unsure")
    world.service("held")  # held for review on a term the caller wrote: the term is no label value
    world.policy("held", {"review": {"restricted_terms": ["zqx-card"]}})

    before = (await client.get("/metrics")).text  # metrics are process-wide: compare deltas
    answers = [
        await invoke(client, key, "echo", {"x": 4111, "label": "ZQX-card"}),  # served
        await invoke(client, key, "leaky", {"x": 1, "label": "ZQX-secret"}),  # failed, payload in detail
        await invoke(client, key, "saved", {"x": 1, "label": "ZQX-secret"}),  # fallback
        await invoke(client, key, "unsure", {"x": -1, "label": "ZQX"}),  # abstained
        await invoke(client, key, "echo", {"x": "ZQX-not-a-number"}),  # rejected by the schema
        await invoke(client, key, "echo", {"x": 1, "zqx_field": 1}),  # an unknown field, named in errors
        await invoke(client, key, "ZQX-no-such-service", {"x": 1}),  # not found
        await invoke(client, key, "held", {"x": 1, "label": "ZQX-card 4111"}),  # held for review
    ]
    assert [r.status_code for r in answers] == [200, 502, 200, 200, 422, 422, 404, 202]
    assert "ZQX" in answers[1].text  # the caller's own error may say what it got; metrics never do

    text = (await client.get("/metrics")).text
    found = samples(text)
    assert found
    for name, labels, _ in found:
        assert set(labels) <= ALLOWED_LABELS, (name, labels)
        for label, got in labels.items():
            assert SAFE_VALUE.match(got), (name, label, got)
    for marker in MARKERS:
        assert marker not in text

    # And the series counted what happened, by outcome and by error code.
    def delta(name: str, **labels: str) -> float:
        return value(text, name, **labels) - value(before, name, **labels)

    assert delta("shipyard_calls_total", service="leaky", outcome="failed") == 1
    assert delta("shipyard_calls_total", service="saved", outcome="fallback") == 1
    assert delta("shipyard_calls_total", service="unsure", outcome="abstained") == 1
    assert delta("shipyard_calls_total", service="echo", outcome="rejected") == 2
    assert delta("shipyard_errors_total", service="leaky", code="model_failed") == 1
    assert delta("shipyard_errors_total", service="saved", code="model_failed") == 1
    assert delta("shipyard_errors_total", service="echo", code="schema_violation") == 2
    assert delta("shipyard_fallbacks_total", service="saved", step="fixed", cause="model_failed") == 1
    # Every outcome has a series from the first call, so a rate over it is 0 rather than absent.
    assert ("shipyard_calls_total", {"service": "echo", "version": "1", "outcome": "abstained"}, 0.0) in found


async def test_state_gauges_and_cost_series_are_exported(client: httpx.AsyncClient, world: World) -> None:
    key = world.user_with_key("carl", ["consumer"])
    world.service("echo")
    assert (await invoke(client, key, "echo", {"x": 1})).status_code == 200

    text = (await client.get("/metrics")).text

    assert value(text, "shipyard_breaker_state", service="echo", version="1") == 0
    assert value(text, "shipyard_lane_in_flight", service="echo", version="1") == 0
    assert value(text, "shipyard_lane_queued", service="echo", version="1") == 0
    assert "shipyard_spool_backlog_records " in text and "shipyard_spool_backlog_bytes " in text
    assert value(text, "shipyard_model_cpu_seconds_total", service="echo", version="1") > 0
    for family in (
        "shipyard_call_latency_seconds_bucket",
        "shipyard_llm_tokens_total",
        "shipyard_cost_total",
    ):
        assert f"# TYPE {family.removesuffix('_bucket').removesuffix('_total')}" in text


async def test_a_gauge_defined_elsewhere_with_mostrecent_is_exported(client: httpx.AsyncClient) -> None:
    drift = Gauge(
        "shipyard_test_drift_score", "A drift score", ["service", "feature"], multiprocess_mode="mostrecent"
    )
    try:
        drift.labels("echo", "age").set(0.3)
        drift.labels("echo", "age").set(0.12)
        text = (await client.get("/metrics")).text
        assert value(text, "shipyard_test_drift_score", service="echo", feature="age") == 0.12
    finally:
        from prometheus_client import REGISTRY

        REGISTRY.unregister(drift)


def test_error_codes_are_labels_only_when_they_look_like_codes() -> None:
    assert metrics.code_label("model_failed") == "model_failed"
    assert metrics.code_label("Bad Code: 4111") == "other"
    assert metrics.code_label("x" * 80) == "other"


class _Source:
    def __init__(self, samples: list[tuple[str, dict[str, str], float]]) -> None:
        self.samples = samples

    def metric_samples(self) -> list[tuple[str, dict[str, str], float]]:
        return self.samples


def test_state_gauges_add_up_sources_and_forget_what_is_gone() -> None:
    labels = {"service": "gauged", "version": "3"}
    a = _Source([("shipyard_lane_in_flight", labels, 2), ("shipyard_breaker_state", labels, 0)])
    b = _Source([("shipyard_lane_in_flight", labels, 5), ("shipyard_breaker_state", labels, 2)])
    metrics.watch(a)
    metrics.watch(b)
    try:
        text = metrics.exposition().decode()
        assert value(text, "shipyard_lane_in_flight", **labels) == 7  # in flight adds up
        assert value(text, "shipyard_breaker_state", **labels) == 2  # a breaker shows the worst
        b.samples = []  # the version is no longer live in b
        text = metrics.exposition().decode()
        assert value(text, "shipyard_lane_in_flight", **labels) == 2
        a.samples = []
        text = metrics.exposition().decode()
        assert 'service="gauged"' not in text  # one process: a series that is gone is removed
    finally:
        metrics.unwatch(a)
        metrics.unwatch(b)
