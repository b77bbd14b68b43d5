"""Rollups built by the periodic job from predictions shipped through the real recorder sink."""

from __future__ import annotations

import bisect
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from shipyard.core.clock import FrozenClock
from shipyard.core.config import RollupSettings, Settings
from shipyard.core.errors import InvalidInput
from shipyard.monitoring.rollups import service as rollups
from shipyard.monitoring.rollups.models import LATENCY_BOUNDS_MS, OUTCOMES, RollupBucket
from tests.factories import World
from tests.monitoring.rollups.helpers import record


def rows(world: World, resolution: str | None = None) -> list[dict[str, Any]]:
    with world.ctx.uow() as s:
        stmt = select(RollupBucket).order_by(
            RollupBucket.resolution, RollupBucket.service, RollupBucket.version, RollupBucket.start
        )
        if resolution:
            stmt = stmt.where(RollupBucket.resolution == resolution)
        found = []
        for row in s.scalars(stmt):
            found.append({c.name: getattr(row, c.name) for c in RollupBucket.__table__.columns})
        return found


def run(world: World) -> None:
    assert "rollups" in world.ctx.periodic.run_due()


def totals(world: World, start: Any, end: Any, service: str = "echo", **kwargs: Any) -> rollups.Totals:
    ctx = world.ctx
    with ctx.uow() as s:
        return rollups.summary(
            s, service, start, end, kept=ctx.settings.monitoring.rollups, now=ctx.clock.now(), **kwargs
        )


def test_minute_buckets_count_every_call_as_recorded(world: World, clock: FrozenClock) -> None:
    world.service("echo")
    with world.ctx.uow() as s:  # a tight SLO, so some calls are slow
        from shipyard.registry import service as registry
        from shipyard.registry.schemas import ServiceUpdate

        registry.update_service(s, world.actor(), "echo", ServiceUpdate(latency_slo_ms=40))
    t0 = clock.now() - timedelta(minutes=30)
    calls = [
        {
            "started_at": t0 + timedelta(seconds=7 * i),
            "version": (i % 3) or None,  # versions 1, 2 and "none" (refused before routing)
            "outcome": OUTCOMES[i % len(OUTCOMES)],
            "latency_ms": 0.5 + 3.7 * i,
            "cpu_ms": 1.5 if i % 2 else None,
            "tokens_in": i,
            "tokens_out": 2 * i if i % 4 else None,
            "cost": 0.001 * i,
        }
        for i in range(50)
    ]
    record(world.ctx, calls)
    run(world)
    minutes = rows(world, "minute")
    assert sum(r["calls"] for r in minutes) == 50
    assert {r["version"] for r in minutes} == {0, 1, 2}
    for row in minutes:
        mine = [
            c
            for c in calls
            if rollups.floor(c["started_at"], "minute") == row["start"]
            and (c["version"] or 0) == row["version"]
        ]
        assert row["calls"] == len(mine) > 0
        for outcome in OUTCOMES:
            assert row[outcome] == sum(c["outcome"] == outcome for c in mine)
        histogram = [0] * (len(LATENCY_BOUNDS_MS) + 1)
        for c in mine:
            histogram[bisect.bisect_left(LATENCY_BOUNDS_MS, c["latency_ms"])] += 1
        assert [row[f"lat_{i:02d}"] for i in range(15)] == histogram
        assert row["latency_sum_ms"] == pytest.approx(sum(c["latency_ms"] for c in mine))
        assert row["latency_max_ms"] == pytest.approx(max(c["latency_ms"] for c in mine))
        assert row["slow"] == sum(c["latency_ms"] > 40 for c in mine)
        assert row["cpu_ms"] == pytest.approx(sum(c["cpu_ms"] or 0 for c in mine))
        assert row["tokens_in"] == sum(c["tokens_in"] for c in mine)
        assert row["tokens_out"] == sum(c["tokens_out"] or 0 for c in mine)
        assert row["cost"] == pytest.approx(sum(c["cost"] for c in mine))
    t = totals(world, t0 - timedelta(minutes=1), clock.now())
    assert t.calls == 50 and t.errors == sum(c["outcome"] == "failed" for c in calls)
    assert t.slow == sum(c["latency_ms"] > 40 for c in calls) > 0
    assert t.cost == pytest.approx(sum(c["cost"] for c in calls))
    assert totals(world, t0 - timedelta(minutes=1), clock.now(), version=2).calls == sum(
        (c["version"] or 0) == 2 for c in calls
    )


def test_percentiles_come_from_the_merged_histogram(world: World, clock: FrozenClock) -> None:
    world.service("echo")
    t0 = clock.now() - timedelta(minutes=20)
    # Two minutes: 60 calls at 3 ms (bucket 2.5..5) and 40 calls at 55..94 ms (bucket 50..100).
    record(world.ctx, [{"started_at": t0 + timedelta(seconds=i), "latency_ms": 3.0} for i in range(60)])
    record(
        world.ctx,
        [{"started_at": t0 + timedelta(minutes=1, seconds=i), "latency_ms": 55.0 + i} for i in range(40)],
    )
    run(world)
    t = totals(world, t0, clock.now())
    assert t.calls == 100 and t.latency_buckets[2] == 60 and t.latency_buckets[6] == 40
    # p50: rank 50 of the 60 in (2.5, 5] -> 2.5 + 2.5 * 50/60; p95: rank 95, 35th of 40 in (50, 100].
    assert t.p50_ms == pytest.approx(2.5 + 2.5 * 50 / 60)
    assert t.p95_ms == pytest.approx(50 + 50 * 35 / 40)
    assert t.p99_ms == pytest.approx(94.0)  # interpolation would say 98.75; never above the max seen
    # Merging per-minute totals gives exactly the totals of the whole range.
    with world.ctx.uow() as s:
        _, buckets = rollups.series(
            s, "echo", t0, clock.now(), kept=world.ctx.settings.monitoring.rollups, now=clock.now()
        )
    assert [b.calls for b in buckets] == [60, 40]
    merged = rollups.merge(buckets)
    assert merged.model_dump() == t.model_dump()
    assert rollups.percentile([0] * 15, 0.5, 0.0) is None
    assert rollups.percentile([0] * 14 + [3], 0.5, 45_000.0) == 45_000.0  # the unbounded bucket: the max


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Short retention, so a test can walk through minute, hour and day expiry."""
    settings.monitoring.rollups = RollupSettings(
        lookback_minutes=60, minute_retention_hours=3, hour_retention_days=2, day_retention_days=4
    )
    return settings


def test_compaction_minute_hour_day_and_retention(world: World, clock: FrozenClock) -> None:
    world.service("echo")
    start = clock.now()  # midnight
    for _ in range(6 * 24):  # six days, one round per hour; 3 calls an hour
        clock.advance(hours=1)
        now = clock.now()
        calls = [
            {"started_at": now - timedelta(minutes=m), "latency_ms": 10.0 * (m + 1)} for m in (5, 25, 45)
        ]
        record(world.ctx, calls)
        run(world)
    now = clock.now()
    minutes, hours, days = rows(world, "minute"), rows(world, "hour"), rows(world, "day")
    # Minutes are kept 3 h, hours 2 days, days 4 days (each cut at its bucket boundary).
    assert min(r["start"] for r in minutes) >= now - timedelta(hours=3)
    assert min(r["start"] for r in hours) >= rollups.floor(now - timedelta(days=2), "hour")
    assert min(r["start"] for r in days) == rollups.floor(now - timedelta(days=4), "day")
    assert len(days) == 4 and all(r["calls"] == 72 for r in days)
    # Hours and days hold exactly what the finer buckets held: counts, histograms, sums and max.
    for day in days:
        mine = [r for r in hours if rollups.floor(r["start"], "day") == day["start"]]
        if len(mine) == 24:
            for column in ("calls", "served", "lat_06", "lat_08", "latency_sum_ms"):
                assert day[column] == sum(r[column] for r in mine), column
            assert day["latency_max_ms"] == max(r["latency_max_ms"] for r in mine) == 460.0
    assert sum(r["calls"] for r in hours if r["start"] >= start + timedelta(days=5)) == 72
    # A range older than the minutes' retention is answered from hours, then from days.
    assert totals(world, now - timedelta(days=1), now).calls == 72
    assert totals(world, now - timedelta(days=3), now - timedelta(days=2)).calls == 72
    with world.ctx.uow() as s:
        kept = world.ctx.settings.monitoring.rollups
        assert rollups.resolution_for(now - timedelta(hours=2), now, kept=kept, now=now) == "minute"
        assert rollups.resolution_for(now - timedelta(days=1), now, kept=kept, now=now) == "hour"
        assert rollups.resolution_for(now - timedelta(days=3), now, kept=kept, now=now) == "day"
        res, buckets = rollups.series(s, "echo", now - timedelta(days=1), now, kept=kept, now=now)
        assert res == "hour" and len(buckets) == 24 and all(b.calls == 3 for b in buckets)


def test_late_records_are_counted_on_the_next_run_and_reruns_change_nothing(
    world: World, clock: FrozenClock
) -> None:
    world.service("echo")
    now = clock.now()
    record(world.ctx, [{"started_at": now - timedelta(minutes=10)}])
    run(world)
    before = rows(world)
    clock.advance(minutes=1)
    run(world)  # nothing new arrived: the same rows, value for value
    assert rows(world) == before
    assert totals(world, now - timedelta(hours=1), clock.now()).calls == 1
    # A batch the spool held back arrives: calls from 50 minutes ago, inside the 60-minute window.
    record(world.ctx, [{"started_at": now - timedelta(minutes=50), "outcome": "failed"} for _ in range(4)])
    clock.advance(minutes=1)
    run(world)
    t = totals(world, now - timedelta(hours=1), clock.now())
    assert (t.calls, t.errors) == (5, 4)
    # Older than the window when it arrives: not counted by the job, counted by a rebuild.
    record(world.ctx, [{"started_at": now - timedelta(minutes=90)}])
    clock.advance(minutes=1)
    run(world)
    assert totals(world, now - timedelta(hours=2), clock.now()).calls == 5
    with world.ctx.uow() as s:
        rollups.rebuild(
            s, clock.now(), world.ctx.settings.monitoring.rollups, {"echo": 1000}, now - timedelta(hours=3)
        )
    assert totals(world, now - timedelta(hours=2), clock.now()).calls == 6
    assert sum(r["calls"] for r in rows(world, "day")) == 6


def test_bad_ranges_and_settings_are_refused_clearly(world: World, clock: FrozenClock) -> None:
    now = clock.now()
    with pytest.raises(InvalidInput) as exc:
        totals(world, now, now - timedelta(hours=1))
    assert exc.value.code == "bad_range"
    with pytest.raises(InvalidInput) as exc, world.ctx.uow() as s:
        rollups.series(
            s, "echo", now - timedelta(hours=1), now, kept=RollupSettings(), now=now, resolution="week"
        )
    assert exc.value.code == "bad_resolution"
    with pytest.raises(ValueError, match="minute_retention_hours must cover lookback_minutes plus one hour"):
        RollupSettings(lookback_minutes=180, minute_retention_hours=3)
    with pytest.raises(ValueError, match="hour_retention_days must cover"):
        RollupSettings(lookback_minutes=120, hour_retention_days=1)
