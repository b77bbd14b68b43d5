"""The dashboard, the predictions browser and the rollups API through the real app, with real data."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta
from typing import Any

import anyio.to_thread
import httpx
import pytest

from shipyard.audit import service as audit
from shipyard.core.clock import FrozenClock
from shipyard.monitoring.rollups import service as rollups
from tests.factories import World, bearer
from tests.monitoring.rollups.helpers import record

HTML = {"Accept": "text/html"}
_ROW = re.compile(r'<tr data-request-id="([^"]+)"')


def links(page: str) -> dict[str, str]:
    """The dashboard numbers' links, by metric, of the first service row (or the totals panel)."""
    found = {}
    for metric, href in re.findall(r'<a class="dash-num[^"]*" data-metric="([^"]+)" href="([^"]+)"', page):
        found.setdefault(metric, html.unescape(href))
    return found


async def listed(client: httpx.AsyncClient, url: str, key: str) -> list[str]:
    """Request ids on every page of a predictions-browser listing."""
    ids: list[str] = []
    while url:
        r = await client.get(url, headers={**HTML, **bearer(key)})
        assert r.status_code == 200, r.text
        ids += _ROW.findall(r.text)
        older = re.search(r'<a href="([^"]+)" rel="next" id="older">', r.text)
        url = html.unescape(older.group(1)) if older else ""
    return ids


@pytest.fixture
def data(world: World, clock: FrozenClock) -> dict[str, Any]:
    """echo (SLO 1000 ms) with 130 calls over the last 3 hours, and other (owned by olivia) with 5."""
    world.user("olivia", ["owner"])
    world.service("echo")
    world.service("other", owner="olivia")
    now = clock.now()
    calls = [
        {
            "started_at": now - timedelta(minutes=170 - i),
            "outcome": ("served", "served", "failed", "fallback", "abstained")[i % 5],
            "latency_ms": 1500.0 if i % 7 == 0 else 20.0 + i,
            "version": 1 + i % 2,
            "cost": 0.01,
        }
        for i in range(130)
    ]
    echo = record(world.ctx, calls)
    other = record(
        world.ctx, [{"service": "other", "started_at": now - timedelta(minutes=5 + i)} for i in range(5)]
    )
    with world.ctx.uow() as s:
        # The periodic job looks back 2 hours; these calls go back 3, so backfill them once.
        slos = {"echo": 1000, "other": 1000}
        rollups.rebuild(s, now, world.ctx.settings.monitoring.rollups, slos, now - timedelta(hours=4))
    return {"echo": echo, "other": other, "admin": world.user_with_key("ada", ["admin"])}


async def test_dashboard_numbers_link_to_exactly_the_predictions_behind_them(
    client: httpx.AsyncClient, world: World, data: dict[str, Any]
) -> None:
    key, echo = data["admin"], data["echo"]
    r = await client.get("/dashboard", headers={**HTML, **bearer(key)})
    assert r.status_code == 200, r.text
    row = re.search(r'<tr data-slug="echo">(.*?)</tr>', r.text, re.S)
    assert row and 'data-slug="other"' in r.text
    found = links(row.group(1))
    expected = {
        "calls": list(echo),
        "errors": [c for c in echo if c["outcome"] == "failed"],
        "slow": [c for c in echo if c["latency_ms"] > 1000],
        "fallback": [c for c in echo if c["outcome"] == "fallback"],
        "abstained": [c for c in echo if c["outcome"] == "abstained"],
    }
    for metric, calls in expected.items():
        number = re.search(rf'data-metric="{metric}" href="[^"]+">(\d+)<', row.group(1))
        assert number and int(number.group(1)) == len(calls) > 0, metric
        assert "service=echo" in found[metric]
        ids = await listed(client, found[metric], key)
        assert sorted(ids) == sorted(c["request_id"] for c in calls), metric
    assert "outcome=failed" in found["errors"] and "slow=1" in found["slow"]
    # p95 is over the SLO: more than 5% of the calls took 1.5 s.
    assert re.search(r'class="dash-num over" data-metric="p95"', row.group(1))
    # The bar chart's bars link to the predictions of their hour, across services.
    svg = re.search(r'<figure id="chart-calls">(.*?)</figure>', r.text, re.S)
    assert svg and "<svg" in svg.group(1)
    bar_links = [html.unescape(h) for h in re.findall(r'<a href="([^"]+)">', svg.group(1))]
    assert len(bar_links) == 24
    per_hour = [len(await listed(client, href, key)) for href in bar_links[-4:]]
    assert sum(per_hour) == len(echo) + len(data["other"])
    assert 'id="alerts-block"' in r.text
    drift_block = re.search(
        r'<section class="panel dash-block" id="drift-block">(.*?)</section>', r.text, re.S
    )
    assert drift_block and "not checked" in drift_block.group(1)  # no reference data, so no check yet


async def test_service_history_page_and_its_ranges(
    client: httpx.AsyncClient, world: World, data: dict[str, Any]
) -> None:
    key = data["admin"]
    for period in ("24h", "7d", "30d"):
        r = await client.get(f"/dashboard/echo?period={period}", headers={**HTML, **bearer(key)})
        assert r.status_code == 200, r.text
        found = links(r.text)
        assert len(await listed(client, found["failed"], key)) == 26
        for chart in ("calls", "latency", "problems", "cost"):
            assert re.search(rf'<figure id="chart-{chart}"><svg', r.text), (period, chart)
        assert "SLO 1000 ms" in r.text
    r = await client.get("/dashboard/nope", headers={**HTML, **bearer(key)})
    assert r.status_code == 404


async def test_readers_see_only_what_they_may(
    client: httpx.AsyncClient, world: World, data: dict[str, Any]
) -> None:
    operator = world.user_with_key("olga", ["operator"])  # service:read, no prediction:read
    r = await client.get("/dashboard", headers={**HTML, **bearer(operator)})
    assert r.status_code == 200 and 'data-metric="calls">130<' in r.text
    assert "/predictions?" not in r.text  # numbers without links: the operator cannot open them
    r = await client.get("/predictions", headers={**HTML, **bearer(operator)})
    assert r.status_code == 403
    owner = world.key("olivia")
    r = await client.get("/dashboard", headers={**HTML, **bearer(owner)})
    assert 'data-slug="other"' in r.text and 'data-slug="echo"' not in r.text
    assert sorted(await listed(client, "/predictions", owner)) == sorted(
        c["request_id"] for c in data["other"]
    )
    r = await client.get("/predictions?service=echo", headers={**HTML, **bearer(owner)})
    assert r.status_code == 403 and "may not prediction:read on echo" in r.text
    echo_id = data["echo"][0]["request_id"]
    r = await client.get(f"/predictions/{echo_id}", headers={**HTML, **bearer(owner)})
    assert r.status_code == 403
    with world.ctx.uow() as s:  # refused before the payload was read: nothing audited
        assert not audit.list_events(s, audit.AuditFilter(action="prediction.read", target_id=echo_id))


async def test_opening_a_prediction_shows_its_payload_and_is_audited(
    client: httpx.AsyncClient, world: World, data: dict[str, Any]
) -> None:
    key = data["admin"]
    listing = await client.get("/predictions?service=echo", headers={**HTML, **bearer(key)})
    assert '"x"' not in listing.text  # the list shows no payloads
    with world.ctx.uow() as s:
        assert not audit.list_events(s, audit.AuditFilter(action="prediction.read"))
    request_id = data["echo"][2]["request_id"]
    r = await client.get(f"/predictions/{request_id}", headers={**HTML, **bearer(key)})
    assert r.status_code == 200 and 'id="outcome">failed<' in r.text
    assert re.search(r'<pre id="inputs">\{\s*"x": 1\s*\}</pre>', r.text), r.text
    with world.ctx.uow() as s:
        (event,) = audit.list_events(s, audit.AuditFilter(action="prediction.read", target_id=request_id))
        assert event.actor.startswith("key:") and event.service == "echo"
    r = await client.get("/predictions/no-such-id", headers={**HTML, **bearer(key)})
    assert r.status_code == 404


async def test_browser_filters_and_bad_input(
    client: httpx.AsyncClient, world: World, clock: FrozenClock, data: dict[str, Any]
) -> None:
    key, echo = data["admin"], data["echo"]
    now = clock.now()
    ids = await listed(client, "/predictions?service=echo&version=2&outcome=served", key)
    assert sorted(ids) == sorted(
        c["request_id"] for c in echo if c["version"] == 2 and c["outcome"] == "served"
    )
    start, end = (now - timedelta(minutes=60)).strftime("%Y-%m-%dT%H:%M"), now.strftime("%Y-%m-%dT%H:%M")
    ids = await listed(client, f"/predictions?start={start}&end={end}", key)
    assert sorted(ids) == sorted(
        c["request_id"]
        for c in data["echo"] + data["other"]
        if now - timedelta(minutes=60) <= datetime.fromisoformat(c["started_at"])
    )
    r = await client.get(
        "/predictions?start=yesterday&outcome=exploded&version=x", headers={**HTML, **bearer(key)}
    )
    assert r.status_code == 200
    assert "&#39;start&#39; must be a UTC time" in r.text and "&#39;outcome&#39; must be one of" in r.text
    assert "&#39;version&#39; must be a number" in r.text
    assert len(_ROW.findall(r.text)) == 50 and 'id="older"' in r.text  # paged: 135 calls, 50 a page
    r = await client.get("/predictions?service=nope", headers={**HTML, **bearer(key)})
    assert r.status_code == 404


async def test_rollups_api(
    client: httpx.AsyncClient, world: World, clock: FrozenClock, data: dict[str, Any]
) -> None:
    key = data["admin"]
    r = await client.get("/v1/services/echo/rollups", headers=bearer(key))
    assert r.status_code == 200, r.text
    body = r.json()
    # 24 hours by default: minutes would be 1440 buckets, over the 500 an automatic choice allows.
    assert body["resolution"] == "hour" and body["totals"]["calls"] == 130
    assert sum(b["calls"] for b in body["buckets"]) == 130 and body["totals"]["errors"] == 26
    r = await client.get("/v1/services/echo/rollups", params={"resolution": "minute"}, headers=bearer(key))
    minutes = r.json()["totals"]
    assert len(r.json()["buckets"]) == 130 and minutes["cost"] == pytest.approx(body["totals"]["cost"])
    assert {**minutes, "cost": 0} == {**body["totals"], "cost": 0}  # counts and histograms merge exactly
    r = await client.get(
        "/v1/services/echo/rollups", params={"resolution": "hour", "version": 2}, headers=bearer(key)
    )
    assert r.json()["resolution"] == "hour" and r.json()["totals"]["calls"] == 65
    assert all(b["version"] == 2 for b in r.json()["buckets"])
    bad = await client.get(
        "/v1/services/echo/rollups", params={"start": "2026-01-01T00:00:00"}, headers=bearer(key)
    )
    assert bad.status_code == 422 and bad.json()["code"] == "bad_time"
    bad = await client.get(
        "/v1/services/echo/rollups",
        params={"start": "2026-01-01T00:00:00Z", "end": "2025-12-31T00:00:00Z"},
        headers=bearer(key),
    )
    assert bad.status_code == 422 and bad.json()["code"] == "bad_range"
    bad = await client.get("/v1/services/echo/rollups", params={"resolution": "week"}, headers=bearer(key))
    assert bad.status_code == 422
    missing = await client.get("/v1/services/nope/rollups", headers=bearer(key))
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    # The job keeps them current: a call through the real invoke path shows up after the next round.
    r = await client.post("/v1/services/echo/invoke", json={"inputs": {"x": 2}}, headers=bearer(key))
    assert r.status_code == 200, r.text
    assert await anyio.to_thread.run_sync(world.ctx.shipper.flush)
    clock.advance(seconds=30)
    assert "rollups" in world.ctx.periodic.run_due()
    r = await client.get("/v1/services/echo/rollups", headers=bearer(key))
    assert r.json()["totals"]["calls"] == 131
