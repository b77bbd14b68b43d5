"""Each built-in signal, computed from predictions shipped through the recorder sink (SQLite and
PostgreSQL), and from the evaluating process's breakers and spool."""

from __future__ import annotations

from datetime import timedelta

import anyio.to_thread
import httpx
import pytest

from shipyard.core.errors import InvalidInput
from shipyard.monitoring.alerts.signals import SignalQuery, all_signals, get_signal, register_signal
from shipyard.serving.policy import BreakerPolicy
from tests.factories import World, bearer
from tests.monitoring.alerts.conftest import record, ship


def values(world: World, signal: str, services: list[str], window_s: int = 300) -> dict[str, float]:
    ctx = world.ctx
    with ctx.uow() as session:
        q = SignalQuery(session, ctx.clock.now(), timedelta(seconds=window_s), services, ctx)
        return dict(get_signal(signal).fn(q))


async def test_outcome_shares_and_volume_count_only_the_window_and_the_service(world: World) -> None:
    world.service("echo")
    world.service("other")
    now = world.ctx.clock.now()
    recent = now - timedelta(minutes=2)
    old = now - timedelta(minutes=20)
    outcomes = ["served"] * 5 + ["failed"] * 3 + ["fallback"] * 2 + ["abstained"] * 2  # 12 calls
    ship(world.ctx, [record("echo", o, recent) for o in outcomes])
    ship(world.ctx, [record("echo", "failed", old) for _ in range(50)])  # outside the 5 minutes
    ship(world.ctx, [record("other", "served", recent)])
    ship(world.ctx, [record("echo", "failed", now + timedelta(minutes=1))])  # after "now": not counted

    assert values(world, "error_rate", ["echo", "other"]) == {"echo": 3 / 12, "other": 0.0}
    assert values(world, "fallback_rate", ["echo"]) == {"echo": 2 / 12}
    assert values(world, "abstention_rate", ["echo"]) == {"echo": 2 / 12}
    assert values(world, "call_volume", ["echo", "other"]) == {"echo": 12.0, "other": 1.0}
    # A 30-minute window takes in the old failures.
    assert values(world, "error_rate", ["echo"], window_s=1800) == {"echo": 53 / 62}


async def test_a_service_without_calls_has_no_rate_but_a_volume_of_zero(world: World) -> None:
    world.service("echo")
    assert values(world, "error_rate", ["echo"]) == {}
    assert values(world, "p95_latency_ms", ["echo"]) == {}
    assert values(world, "call_volume", ["echo"]) == {"echo": 0.0}


@pytest.mark.parametrize(
    ("latencies", "expected"),
    [
        ([float(ms) for ms in range(1, 101)], 95.05),  # rank 0.95 * 99 = 94.05: between 95 and 96
        ([7.0], 7.0),
        ([10.0, 20.0], 19.5),
        ([5.0] * 19 + [1000.0], 54.75),  # rank 18.05: 5 + 0.05 * 995
    ],
)
async def test_p95_latency_is_the_interpolated_percentile(
    world: World, latencies: list[float], expected: float
) -> None:
    world.service("echo")
    at = world.ctx.clock.now() - timedelta(minutes=1)
    ship(world.ctx, [record("echo", "served", at, latency_ms=ms) for ms in reversed(latencies)])
    assert values(world, "p95_latency_ms", ["echo"]) == {"echo": pytest.approx(expected)}


async def test_breaker_open_counts_this_processs_open_breakers_per_service(world: World) -> None:
    world.service("echo")
    world.service("other")
    ctx = world.ctx
    policy = BreakerPolicy(failure_threshold=2)
    for version_id, number in (("v-a", 1), ("v-b", 2)):
        breaker = ctx.breaker("echo", version_id, number, policy)
        breaker.failure("timeout")
        breaker.failure("timeout")
    ctx.breaker("other", "v-c", 1, policy).failure("timeout")  # one failure: still closed
    assert values(world, "breaker_open", ["echo", "other"]) == {"echo": 2.0, "other": 0.0}


async def test_spool_backlog_is_this_processs_unshipped_records(world: World) -> None:
    ctx = world.ctx
    ctx.shipper.stop(drain=False)
    try:
        for _ in range(3):
            ctx.spool.append_sync(record("echo", "served", ctx.clock.now()))
        assert values(world, "spool_backlog", []) == {"*": 3.0}
    finally:
        ctx.shipper.start()


def test_an_unknown_signal_is_refused_with_the_known_names() -> None:
    with pytest.raises(InvalidInput) as caught:
        get_signal("errors")
    assert caught.value.code == "unknown_signal" and "error_rate" in caught.value.detail


def test_a_plugin_signal_is_one_call() -> None:
    try:
        register_signal("constant", lambda q: dict.fromkeys(q.services, 0.5), unit="ratio")
        assert "constant" in {s.name for s in all_signals()}
        assert get_signal("constant").promql is None  # no Prometheus export for it
    finally:
        from shipyard.monitoring.alerts import signals

        signals._SIGNALS.pop("constant")


async def test_signals_see_calls_made_through_the_invoke_path(
    world: World, client: httpx.AsyncClient
) -> None:
    key = bearer(world.user_with_key("app", ["consumer"]))
    world.service("echo")
    for x in (1, 2, 3):
        r = await client.post("/v1/services/echo/invoke", json={"inputs": {"x": x}}, headers=key)
        assert r.status_code == 200
    world.version("echo", "tests.factories:boom", make_live=True)
    r = await client.post("/v1/services/echo/invoke", json={"inputs": {"x": 4}}, headers=key)
    assert (r.status_code, r.json()["code"]) == (502, "model_failed")
    assert await anyio.to_thread.run_sync(world.ctx.shipper.flush)
    assert values(world, "error_rate", ["echo"]) == {"echo": 0.25}
    assert values(world, "call_volume", ["echo"]) == {"echo": 4.0}
