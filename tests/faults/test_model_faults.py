"""The model itself fails under load: it raises, hangs, returns garbage, or is far too slow for the
traffic. A real server answers every call with a recorded fallback or a clear 503, never a 500 or a
hang, and records exactly the calls it acknowledged."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.faults.harness import Instance, Load, Reply, ShipyardServer, assert_clean

pytestmark = pytest.mark.slow

NUMBER = {"type": "number"}
RULE = "rule:tests.factories:rule_minus_one"
HANG_S = 4  # the hung model sleeps this long; callers give up sooner, so waiting on it is a failure
HANG_CLIENT_TIMEOUT_S = 3.0
OVERLOAD = {"max_concurrency": 2, "max_queue": 2, "max_queue_wait_ms": 200}


@dataclass
class Site:
    instance: Instance
    server: ShipyardServer

    def load(self, slugs: str | list[str], **kwargs: Any) -> Load:
        return Load(self.server.url, self.instance.consumer_key, slugs, **kwargs)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One server for the module, on SQLite, with a service per fault (each with a fallback chain)."""
    root = tmp_path_factory.mktemp("model-faults")
    instance = Instance(root / "instance")
    instance.service("raises", "tests.factories:boom")
    instance.version("raises", "tests.factories:double")
    instance.policy(
        "raises",
        {
            "fallbacks": [{"kind": "version", "version": 2}],
            "breaker": {"failure_threshold": 5, "cooldown_s": 600},
        },
    )
    instance.service(
        "hangs",
        "tests.factories:slow",
        timeout_ms=200,
        policy={
            "fallbacks": [{"kind": "rule", "entrypoint": "tests.factories:rule_minus_one"}],
            "breaker": {"failure_threshold": 3, "cooldown_s": 600},
        },
    )
    garbage = {
        "fallbacks": [{"kind": "fixed", "output": 0, "message": "a safe default"}],
        "breaker": {"enabled": False},  # so that every call meets the garbage, not an open breaker
    }
    for slug, model in [("nan", "nan"), ("overconfident", "overconfident"), ("wrong-type", "wrong_type")]:
        instance.service(slug, f"tests.factories:{model}", output_schema=NUMBER, policy=garbage)
    instance.service("overloaded", "tests.factories:slow", timeout_ms=5000, policy={"concurrency": OVERLOAD})
    server = instance.serve(root / "server.log")
    try:
        yield Site(instance, server)
    finally:
        server.stop()


def causes(replies: list[Reply]) -> dict[str | None, int]:
    found: dict[str | None, int] = {}
    for r in replies:
        found[r.fallback_cause] = found.get(r.fallback_cause, 0) + 1
    return found


def test_a_model_that_raises_falls_back_to_another_version(site: Site) -> None:
    replies = site.load("raises", calls=150).run()
    assert_clean(replies, site.instance.database_url, codes=())
    assert {(r.outcome, r.fallback_step) for r in replies} == {("fallback", "version:2")}
    assert all(r.output == 2 * (int(r.request_id.rsplit("-", 1)[1]) % 50) for r in replies)
    found = causes(replies)
    assert set(found) == {"model_failed", "breaker_open"}, found
    # The breaker opened after 5 failures; only calls already past it could still reach the model.
    assert 5 <= found["model_failed"] <= 5 + 6, found
    assert site.server.breaker(site.instance.admin_key, "raises") == "open"
    site.server.assert_healthy()


def test_a_hung_model_is_cut_off_falls_back_and_trips_the_breaker(site: Site) -> None:
    load = site.load(
        "hangs", clients=8, calls=120, inputs=lambda n: {"x": HANG_S}, timeout_s=HANG_CLIENT_TIMEOUT_S
    )
    replies = load.run()
    # A call that waited for the model would outlast the client's timeout and fail here as a hang.
    # A call that passed the breaker just before it opened may find the lane full of hung calls: shed.
    seen = assert_clean(replies, site.instance.database_url, codes=("shed",))
    answered = [r for r in replies if r.status == 200]
    assert {(r.outcome, r.fallback_step, r.output) for r in answered} == {("fallback", RULE, -1.0)}
    found = causes(answered)
    assert set(found) == {"timeout", "breaker_open"}, found
    # The open breaker kept the rest off the hung model: only calls admitted before it opened got there.
    assert 3 <= found["timeout"] + seen["503 shed"] <= 3 + 8, (found, seen)
    assert site.server.breaker(site.instance.admin_key, "hangs") == "open"
    site.server.assert_healthy()


def test_garbage_from_the_model_is_never_passed_on(site: Site) -> None:
    replies = site.load(["nan", "overconfident", "wrong-type"], calls=150).run()
    assert_clean(replies, site.instance.database_url, codes=())
    assert {(r.outcome, r.fallback_step, r.fallback_cause, r.output) for r in replies} == {
        ("fallback", "fixed", "bad_output", 0)
    }
    assert {r.slug for r in replies} == {"nan", "overconfident", "wrong-type"}
    site.server.assert_healthy()


def test_overload_is_shed_at_once_with_retry_after(site: Site) -> None:
    load = site.load("overloaded", clients=24, calls=240, inputs=lambda n: {"x": 0.2})
    replies = load.run()
    seen = assert_clean(replies, site.instance.database_url, codes=("shed",))
    assert seen["200 served"] >= 2 and seen["503 shed"] >= 24, seen
    view = site.server.get("/v1/services/overloaded/runtime", site.instance.admin_key)["versions"][0]
    assert view["shed_total"] == seen["503 shed"]
    assert view["max_concurrency"] == 2 and view["in_flight"] <= 2
    # Shed on arrival because the queue was full, not after waiting in it for a slot.
    shed = {
        reason: site.server.metric("shipyard_shed_total", service="overloaded", reason=reason)
        for reason in ("queue_full", "queue_wait")
    }
    assert sum(shed.values()) == seen["503 shed"] and shed["queue_full"] > shed["queue_wait"], shed
    site.server.assert_healthy()
