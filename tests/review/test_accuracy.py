"""Rolling accuracy per version: labels, feedback answers and flags, windows, the gauge and the page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import anyio.to_thread
import httpx
from prometheus_client import REGISTRY

from shipyard.audit.service import Actor
from shipyard.core.clock import FrozenClock
from shipyard.review import service as review
from shipyard.review.schemas import FeedbackCreate, QualityUpdate
from tests.factories import World, bearer


def decide(inputs: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """A model with an object output: a decision and a score."""
    return {"decision": "approve" if inputs["x"] > 0 else "deny", "score": inputs["x"]}, 0.8


async def call(client: httpx.AsyncClient, key: str, x: float, slug: str = "echo") -> str:
    r = await client.post(f"/v1/services/{slug}/invoke", json={"inputs": {"x": x}}, headers=bearer(key))
    assert r.status_code == 200, r.text
    request_id: str = r.json()["request_id"]
    return request_id


def label(world: World, slug: str, **labels: Any) -> None:
    with world.ctx.uow() as s:
        items = [{"request_id": rid, "label": value} for rid, value in labels.items()]
        result = review.upload_labels(s, world.actor(), slug, items)
        assert result.errors == [], result.errors


def flag(world: World, rid: str, flag: str, answer: Any = None) -> None:
    with world.ctx.uow() as s:
        review.give_feedback(
            s, Actor("carol", "user", None, world.ctx.clock), rid, FeedbackCreate(flag=flag, label=answer)
        )  # type: ignore[arg-type]


def gauge(service: str, version: str, name: str = "shipyard_accuracy") -> float | None:
    return REGISTRY.get_sample_value(name, {"service": service, "version": version})


async def test_labels_answers_and_flags_count_per_version_and_window(
    client: httpx.AsyncClient, world: World, clock: FrozenClock
) -> None:
    key = world.user_with_key("olive", ["owner"])
    world.service("echo", owner="olive")  # v1 doubles x
    day0 = clock.now()
    a, b, c, d, e, f, g = [await call(client, key, x) for x in (1, 2, 3, 4, 5, 6, 7)]
    clock.advance(days=8)
    world.version("echo", "tests.factories:double", make_live=True)
    h, i = await call(client, key, 10), await call(client, key, 11)
    assert await anyio.to_thread.run_sync(world.ctx.shipper.flush)

    label(world, "echo", **{a: 2, b: 5, h: 20.0})  # a right (2 == 2.0), b wrong, h right
    flag(world, c, "correct")  # a flag alone counts
    flag(world, d, "wrong")
    flag(world, d, "unclear")  # gives no verdict: the earlier "wrong" stands
    flag(world, e, "wrong", answer=10)  # the answer decides, not the flag: 10 == 2 * 5, right
    flag(world, f, "correct", answer=99)  # ... and here wrong
    label(world, "echo", **{f: 12})  # a ground-truth label beats any feedback: right after all
    flag(world, g, "outdated")  # no verdict at all
    flag(world, i, "wrong")

    with world.ctx.sessions() as s:
        now = clock.now() + timedelta(seconds=1)
        v1 = review.rolling_accuracy(s, "echo", start=day0, end=day0 + timedelta(days=1), version=1)
        found = {v.request_id: v.correct for v in review.verdicts(s, "echo", day0, now)}
        assert found == {a: True, b: False, c: True, d: False, e: True, f: True, h: True, i: False}
        assert (v1.correct, v1.labelled) == (4, 6)  # a c e f right, b d wrong, g has no verdict
        assert v1.accuracy == 4 / 6
        last_week = review.rolling_accuracy(s, "echo", start=now - timedelta(days=7), end=now)
        assert (last_week.correct, last_week.labelled) == (1, 2)  # only v2's h and i
        by_version = review.accuracy_by_version(s, "echo", start=day0, end=now)
        assert {v: (w.correct, w.labelled) for v, w in by_version.items()} == {1: (4, 6), 2: (1, 2)}
        daily = review.daily_accuracy(s, "echo", start=day0, end=now)
        assert [(day, ver, w.labelled) for day, ver, w in daily] == [
            (day0.date(), 1, 6),
            (now.date(), 2, 2),
        ]
        empty = review.rolling_accuracy(s, "echo", start=day0 - timedelta(days=3), end=day0)
        assert (empty.labelled, empty.accuracy) == (0, None)

    # The gauge covers the last 7 days, by version, refreshed by the periodic job.
    clock.advance(minutes=1)
    assert "accuracy" in world.ctx.periodic.run_due()
    assert gauge("echo", "2") == 0.5 and gauge("echo", "2", "shipyard_accuracy_labelled") == 2
    assert gauge("echo", "1") is None  # its predictions are older than the window
    label(world, "echo", **{i: 22})  # i was right after all: the label overrides its "wrong" flag
    clock.advance(minutes=5)
    assert "accuracy" in world.ctx.periodic.run_due()
    assert gauge("echo", "2") == 1.0
    # A longer window (SHIPYARD_MONITORING__ACCURACY_WINDOW_DAYS) takes version 1 back in.
    world.ctx.settings.monitoring.accuracy_window_days = 60
    clock.advance(seconds=world.ctx.settings.monitoring.accuracy_every_s)
    assert "accuracy" in world.ctx.periodic.run_due()
    assert gauge("echo", "1") == 4 / 6

    r = await client.get("/v1/services/echo/accuracy", params={"days": 30}, headers=bearer(key))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["overall"]["correct"], body["overall"]["labelled"]) == (6, 8)
    assert [(v["version"], v["correct"], v["labelled"]) for v in body["versions"]] == [(1, 4, 6), (2, 2, 2)]
    assert [(d["day"], d["version"], d["accuracy"]) for d in body["daily"]] == [
        (day0.date().isoformat(), 1, 4 / 6),
        (clock.now().date().isoformat(), 2, 1.0),
    ]
    page = await client.get("/services/echo/quality", headers=bearer(key))
    assert page.status_code == 200 and "<svg" in page.text and "66.7%" in page.text


async def test_labels_compare_with_one_field_of_an_object_output(
    client: httpx.AsyncClient, world: World
) -> None:
    key = world.user_with_key("olive", ["owner"])
    world.service("claims", owner="olive", entrypoint="tests.review.test_accuracy:decide")
    yes, no, whole = (
        await call(client, key, 3, "claims"),
        await call(client, key, -1, "claims"),
        await call(client, key, 2, "claims"),
    )
    assert await anyio.to_thread.run_sync(world.ctx.shipper.flush)
    label(world, "claims", **{whole: {"decision": "approve", "score": 2}})
    with world.ctx.sessions() as s:
        start, end = world.ctx.clock.now() - timedelta(days=1), world.ctx.clock.now() + timedelta(days=1)
        assert review.rolling_accuracy(s, "claims", start=start, end=end).correct == 1  # whole output equal

    r = await client.put("/v1/services/claims/quality", json={"label_field": "decision"}, headers=bearer(key))
    assert r.status_code == 200 and r.json() == {"service": "claims", "label_field": "decision"}
    label(world, "claims", **{yes: "approve", no: "approve", whole: "approve"})
    with world.ctx.sessions() as s:
        window = review.rolling_accuracy(s, "claims", start=start, end=end)
    assert (window.correct, window.labelled) == (2, 3)  # `no` was denied, the label says approve

    r = await client.put("/v1/services/claims/quality", json={"label_field": " "}, headers=bearer(key))
    assert r.status_code == 422 and r.json()["code"] == "bad_label_field"


def test_matches_compares_json_values() -> None:
    assert review.matches(4, 4.0, None) and review.matches("a", "a", None)
    assert not review.matches(True, 1, None) and not review.matches(1, True, None)
    assert review.matches(True, True, None) and not review.matches("A", "a", None)
    assert review.matches("x", {"k": "x"}, "k") and not review.matches("x", {"j": "x"}, "k")
    assert not review.matches("x", "x", "k")  # a field asked of a non-object output: never right
    assert review.matches([1, {"a": 2}], [1, {"a": 2.0}], None)
    with_settings = QualityUpdate(label_field=None)
    assert with_settings.label_field is None
