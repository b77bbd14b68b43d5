"""A remote model endpoint (a real local HTTP server) turns slow, answers 500, or goes away, under load:
calls are retried where that is safe, then answered by the fallback rule; the breaker opens; when the
endpoint is back, the breaker lets a trial call through and the service serves from it again."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.faults.harness import Instance, Load, RemoteModel, Reply, ShipyardServer, assert_clean

pytestmark = pytest.mark.slow

RULE = "rule:tests.factories:rule_minus_one"
CLIENTS = 6
THRESHOLD = 5


@dataclass
class Site:
    instance: Instance
    server: ShipyardServer
    remote: RemoteModel

    def load(self, slug: str, **kwargs: Any) -> Load:
        return Load(self.server.url, self.instance.consumer_key, slug, clients=CLIENTS, **kwargs)


def _policy(threshold: int, cooldown_s: float) -> dict[str, object]:
    return {
        "retries": {"attempts": 2, "backoff_ms": 10, "max_backoff_ms": 40},
        "breaker": {"failure_threshold": threshold, "cooldown_s": cooldown_s},
        "fallbacks": [{"kind": "rule", "entrypoint": "tests.factories:rule_minus_one"}],
    }


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("remote-faults")
    remote = RemoteModel(slow_s=2.0)
    instance = Instance(root / "instance")
    # "remote" keeps its breaker open once tripped; "remote-recovers" tries again after half a second.
    instance.service("remote", remote.url, loader="http", timeout_ms=300, policy=_policy(THRESHOLD, 600))
    instance.service("remote-recovers", remote.url, loader="http", timeout_ms=300, policy=_policy(3, 0.5))
    server = instance.serve(root / "server.log")
    try:
        yield Site(instance, server, remote)
    finally:
        server.stop()
        remote.down()


@pytest.fixture
def healthy(site: Site) -> Iterator[Site]:
    """Each test starts with the endpoint up and answering, and the breaker closed."""
    site.remote.up()
    site.remote.mode = "ok"
    site.server.reset_breaker(site.instance.admin_key, "remote")
    yield site
    site.remote.up()
    site.remote.mode = "ok"


def _causes(replies: list[Reply]) -> dict[str | None, int]:
    found: dict[str | None, int] = {}
    for r in replies:
        found[r.fallback_cause] = found.get(r.fallback_cause, 0) + 1
    return found


def test_a_healthy_endpoint_serves(healthy: Site) -> None:
    replies = healthy.load("remote", calls=60).run()
    assert_clean(replies, healthy.instance.database_url, codes=())
    assert all(r.outcome == "served" and r.output == 2 * (int(r.request_id[-6:]) % 50) for r in replies)


@pytest.mark.parametrize(
    ("fault", "failures"),
    [
        ("error", {"upstream_error"}),
        ("slow", {"timeout", "upstream_unavailable"}),  # our deadline or the client's read timeout
        ("down", {"upstream_unavailable"}),
    ],
    ids=["500", "slow", "down"],
)
def test_a_failing_endpoint_falls_back_and_trips_the_breaker(
    healthy: Site, fault: str, failures: set[str]
) -> None:
    if fault == "down":
        healthy.remote.down()
    else:
        healthy.remote.mode = fault
    hits_before = healthy.remote.hits

    replies = healthy.load("remote", calls=120).run()

    assert_clean(replies, healthy.instance.database_url, codes=())
    assert {(r.outcome, r.fallback_step, r.output) for r in replies} == {("fallback", RULE, -1.0)}
    found = _causes(replies)
    failed = sum(n for cause, n in found.items() if cause in failures)
    assert set(found) - failures == {"breaker_open"}, found
    assert THRESHOLD <= failed <= THRESHOLD + CLIENTS, found  # then the open breaker kept calls away
    assert healthy.server.breaker(healthy.instance.admin_key, "remote") == "open"
    hits = healthy.remote.hits - hits_before
    if fault == "error":
        assert hits > failed, (hits, found)  # a 500 is retried before the fallback answers
    elif fault == "down":
        assert hits == 0
    healthy.server.assert_healthy()


def test_an_endpoint_that_goes_down_and_comes_back_is_used_again(healthy: Site) -> None:
    load = healthy.load("remote-recovers", pause_s=0.01)
    with load:
        load.wait_for(30)
        healthy.remote.down()
        load.phase = "down"
        load.wait_for(30, lambda r: r.phase == "down" and r.outcome == "fallback")
        assert healthy.server.breaker(healthy.instance.admin_key, "remote-recovers") in ("open", "half_open")
        healthy.remote.up()
        load.phase = "back"
        # After the cool-down a trial call succeeds, the breaker closes, and the endpoint answers again.
        load.wait_for(30, lambda r: r.phase == "back" and r.outcome == "served")
    replies = load.stop()

    seen = assert_clean(replies, healthy.instance.database_url, codes=())
    assert set(seen) == {"200 served", "200 fallback"}, seen
    down = [r for r in replies if r.phase == "down"]
    assert {r.fallback_cause for r in down} <= {"upstream_unavailable", "breaker_open", None}
    assert {r.fallback_cause for r in down} >= {"breaker_open"}
    assert healthy.server.breaker(healthy.instance.admin_key, "remote-recovers") == "closed"
    healthy.server.assert_healthy()
