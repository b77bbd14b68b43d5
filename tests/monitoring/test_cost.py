"""The cost of a call: model CPU time, tokens and money, on the prediction record and in the metrics."""

from __future__ import annotations

import time
from typing import Any

import anyio.to_thread
import httpx
import pytest
from prometheus_client import REGISTRY

from shipyard.assistants.policy.generate import Generator
from shipyard.core.config import AssistantSettings, Price, Settings
from shipyard.monitoring import cost
from shipyard.registry import service as registry
from shipyard.registry.loaders.base import ModelOutput, Usage, parse_result, parse_usage
from shipyard.registry.schemas import VersionCreate
from shipyard.serving.lanes import _run_batch
from shipyard.serving.models import Prediction
from tests.factories import World, bearer
from tests.llm_server import FakeLLM
from tests.servers import JsonServer

PRICES = {"gpt-4o-mini": {"input_per_million": 0.15, "output_per_million": 0.6}}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    settings.monitoring.prices = {name: Price(**p) for name, p in PRICES.items()}
    return settings


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def call(client: httpx.AsyncClient, key: str, slug: str, inputs: dict[str, Any]) -> str:
    r = await client.post(f"/v1/services/{slug}/invoke", json={"inputs": inputs}, headers=bearer(key))
    assert r.status_code == 200, r.text
    request_id: str = r.json()["request_id"]
    return request_id


async def record(world: World, request_id: str) -> Prediction:
    assert await anyio.to_thread.run_sync(world.ctx.shipper.flush)
    with world.ctx.sessions() as s:
        row = s.get(Prediction, request_id)
    assert row is not None
    return row


async def test_cpu_time_of_a_cpu_burning_model_is_recorded(client: httpx.AsyncClient, world: World) -> None:
    key = world.user_with_key("carl", ["consumer"])
    world.service("burner", entrypoint="tests.monitoring.models:burn")
    world.service("napper", entrypoint="tests.monitoring.models:sleeper")
    before = metric("shipyard_model_cpu_seconds_total", service="burner", version="1")

    burned = await record(world, await call(client, key, "burner", {"x": 30}))
    napped = await record(world, await call(client, key, "napper", {"x": 30}))

    # 30 ms of busy loop is at least 30 ms of thread CPU; a 30 ms sleep is close to none.
    assert burned.cpu_ms is not None and 30 <= burned.cpu_ms < 1000
    assert napped.cpu_ms is not None and napped.cpu_ms < 10
    assert burned.tokens_in is None and burned.cost is None
    delta = metric("shipyard_model_cpu_seconds_total", service="burner", version="1") - before
    assert delta == pytest.approx(burned.cpu_ms / 1000)


async def test_isolated_model_reports_its_own_processes_cpu(client: httpx.AsyncClient, world: World) -> None:
    key = world.user_with_key("carl", ["consumer"])
    world.service("burner", entrypoint="tests.monitoring.models:burn", timeout_ms=30_000)
    world.policy("burner", {"isolation": {"mode": "process"}})

    row = await record(world, await call(client, key, "burner", {"x": 40}))

    # The server's thread only waits on a pipe; the 40 ms were spent in the model's process.
    assert row.cpu_ms is not None and 40 <= row.cpu_ms < 1000


class _Burner:
    remote = False

    def predict(self, inputs: dict[str, Any]) -> ModelOutput:
        return self.predict_batch([inputs])[0]

    def predict_batch(self, batch: list[dict[str, Any]]) -> list[ModelOutput]:
        until = time.thread_time() + 0.02 * len(batch)
        while time.thread_time() < until:
            pass
        return [ModelOutput(i["x"], None) for i in batch]


def test_a_batch_shares_its_cpu_time_among_its_items() -> None:
    results = _run_batch(_Burner(), [{"x": 1}, {"x": 2}, {"x": 3}, {"x": 4}], None, time.monotonic() + 10)

    shares = [r.cpu_s for r in results if isinstance(r, ModelOutput)]
    assert len(shares) == 4 and len(set(shares)) == 1  # equal shares of one measurement
    assert shares[0] is not None and 0.08 <= sum(shares) < 1.0  # 4 × 20 ms of CPU in all


def test_share_cpu_keeps_failures_and_measurements_made_elsewhere() -> None:
    own = ModelOutput(1, None, cpu_s=0.5)
    error = ValueError("bad row")
    shared = cost.share_cpu([ModelOutput(2, None), own, error, ModelOutput(3, None)], 0.4)
    assert [getattr(r, "cpu_s", None) for r in shared] == [0.1, 0.5, None, 0.1]
    assert shared[2] is error


async def test_tokens_and_cost_from_a_model_reporting_usage(client: httpx.AsyncClient, world: World) -> None:
    key = world.user_with_key("carl", ["consumer"])
    world.service("chatty", entrypoint="tests.monitoring.models:llm")
    labels = {"service": "chatty", "version": "1"}
    tokens_in = metric("shipyard_llm_tokens_total", **labels, direction="in")
    tokens_out = metric("shipyard_llm_tokens_total", **labels, direction="out")
    money = metric("shipyard_cost_total", **labels)

    row = await record(world, await call(client, key, "chatty", {"x": 1000}))

    assert (row.tokens_in, row.tokens_out) == (1000, 2000)
    expected = (1000 * 0.15 + 2000 * 0.6) / 1e6
    assert row.cost == pytest.approx(expected)
    assert metric("shipyard_llm_tokens_total", **labels, direction="in") - tokens_in == 1000
    assert metric("shipyard_llm_tokens_total", **labels, direction="out") - tokens_out == 2000
    assert metric("shipyard_cost_total", **labels) - money == pytest.approx(expected)


async def test_a_model_without_a_price_has_tokens_and_no_cost(
    client: httpx.AsyncClient, world: World
) -> None:
    key = world.user_with_key("carl", ["consumer"])
    world.service("chatty", entrypoint="tests.monitoring.models:llm")
    labels = {"service": "chatty", "version": "1"}
    tokens_in = metric("shipyard_llm_tokens_total", **labels, direction="in")
    money = metric("shipyard_cost_total", **labels)

    row = await record(world, await call(client, key, "chatty", {"x": 10, "label": "house-model-7b"}))

    assert (row.tokens_in, row.tokens_out, row.cost) == (10, 20, None)
    assert metric("shipyard_llm_tokens_total", **labels, direction="in") - tokens_in == 10
    assert metric("shipyard_cost_total", **labels) == money


class _OpenAIStyle(JsonServer):
    """A remote model that answers with an OpenAI-style usage block and the model it ran."""

    def respond(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        usage = {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150}
        return 200, {"output": body["inputs"]["x"], "confidence": 0.7, "model": "gpt-4o-mini", "usage": usage}


async def test_http_model_usage_is_recorded_and_priced(client: httpx.AsyncClient, world: World) -> None:
    key = world.user_with_key("carl", ["consumer"])
    world.service("remote", entrypoint="tests.factories:double")
    remote = _OpenAIStyle()
    try:
        with world.ctx.uow() as s:
            url = f"http://127.0.0.1:{remote.port}/predict"
            version = VersionCreate(loader="http", entrypoint=url, returns_confidence=True, make_live=True)
            registry.register_version(s, world.actor(), world.ctx.store, "remote", version)
        row = await record(world, await call(client, key, "remote", {"x": 3}))
    finally:
        remote.down()

    assert (row.tokens_in, row.tokens_out) == (120, 30)
    assert row.cost == pytest.approx((120 * 0.15 + 30 * 0.6) / 1e6)
    assert row.cpu_ms is None  # a remote model's CPU is spent elsewhere


def test_policy_assistant_generator_reports_the_providers_usage() -> None:
    llm = FakeLLM()
    generator = Generator(AssistantSettings(llm_url=llm.url, llm_model="gpt-4o-mini"))
    try:
        result = generator.generate("Is a crown covered?", ["Crowns are covered once every five years."])
    finally:
        generator.close()
        llm.down()
    assert result.status == "generated"
    assert result.usage == Usage(100, 20, "gpt-4o-mini")


@pytest.mark.parametrize(
    ("raw", "usage"),
    [
        ({"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}, Usage(5, 7, "m")),
        ({"input_tokens": 5, "output_tokens": 7}, Usage(5, 7, "m")),
        ({"tokens_in": 5, "tokens_out": 0, "model": "other"}, Usage(5, 0, "other")),
        (None, None),
    ],
)
def test_usage_formats(raw: Any, usage: Usage | None) -> None:
    assert parse_usage(raw, "m") == usage


@pytest.mark.parametrize(
    "raw", [{"prompt_tokens": -1}, {"tokens_in": "5"}, {"tokens_in": True}, {"total_tokens": 3}, [1, 2]]
)
def test_unusable_usage_is_refused_with_a_reason(raw: Any) -> None:
    with pytest.raises(ValueError, match="usage"):
        parse_usage(raw)


def test_a_callable_with_a_broken_usage_fails_as_bad_output() -> None:
    from shipyard.core.errors import ModelFailed

    with pytest.raises(ModelFailed) as info:
        parse_result({"output": 1, "usage": {"tokens_in": -3}}, returns_confidence=False)
    assert info.value.code == "bad_output"


def test_price_of() -> None:
    prices = {"m": Price(input_per_million=1.0, output_per_million=2.0)}
    assert cost.price_of(prices, Usage(1_000_000, 500_000, "m")) == pytest.approx(2.0)
    assert cost.price_of(prices, Usage(10, 10, "unknown")) is None
    assert cost.price_of(prices, Usage(10, 10, None)) is None


def test_prices_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "SHIPYARD_MONITORING__PRICES",
        '{"gpt-4o-mini": {"input_per_million": 0.15, "output_per_million": 0.6}}',
    )
    monkeypatch.setenv("SHIPYARD_MONITORING__CURRENCY", "EUR")
    settings = Settings(env="test")
    assert settings.monitoring.prices["gpt-4o-mini"].output_per_million == 0.6
    assert settings.monitoring.currency == "EUR"
    monkeypatch.setenv("SHIPYARD_MONITORING__PRICES", '{"m": {"input_per_milion": 1}}')
    with pytest.raises(ValueError, match="input_per_milion"):
        Settings(env="test")
