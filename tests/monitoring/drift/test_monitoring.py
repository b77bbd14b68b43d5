"""Drift monitoring on recorded calls: references, the scheduled job, text, data quality, thresholds."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from shipyard.audit.service import AuditFilter, list_events
from shipyard.core.clock import FrozenClock
from shipyard.core.errors import InvalidInput
from shipyard.monitoring import panels
from shipyard.monitoring.alerts.signals import SignalQuery, get_signal
from shipyard.monitoring.drift import history
from shipyard.monitoring.drift import service as drift
from shipyard.monitoring.drift.jobs import JOB_NAME
from shipyard.monitoring.drift.schemas import FeatureRead, ThresholdsUpdate
from tests.factories import World
from tests.monitoring.drift.live import ACCOUNT, BILLING, jsonl, make_service, record, rows


def upload(world: World, tmp_path: Path, slug: str, items: list[dict[str, object]], **kwargs: object) -> None:
    path = tmp_path / "reference.jsonl"
    path.write_bytes(jsonl(items))
    with world.ctx.uow() as s:
        drift.upload_reference(
            s,
            world.actor(),
            world.ctx.settings.monitoring.drift,
            slug,
            1,
            path,
            path.name,
            **kwargs,  # type: ignore[arg-type]
        )


def scheduled(world: World, clock: FrozenClock) -> history.DriftStatus:
    """Let the interval pass and run due jobs as a worker would; the service's status after."""
    clock.advance(seconds=world.ctx.settings.monitoring.drift.interval_s)
    assert JOB_NAME in world.ctx.periodic.run_due()
    with world.ctx.uow() as s:
        status = history.latest_drift(s, "scorer")
    assert status is not None
    return status


def alert_signal(world: World, name: str) -> dict[str, float]:
    with world.ctx.uow() as s:
        query = SignalQuery(s, world.ctx.clock.now(), timedelta(hours=1), ["scorer"], world.ctx)
        return dict(get_signal(name).fn(query))


def features(world: World) -> dict[str, FeatureRead]:
    with world.ctx.uow() as s:
        (run,) = history.latest_runs(s, "scorer")
        read = history.run_read(run, history.features_of(s, [run.id])[run.id])
    return {f.name: f for f in read.features or []}


def test_the_job_flags_the_shifted_numeric_and_perturbed_categorical_only(
    world: World, clock: FrozenClock, tmp_path: Path
) -> None:
    make_service(world)
    upload(world, tmp_path, "scorer", rows(3000, seed=1))
    # Unchanged traffic first: no drift anywhere.
    record(world, "scorer", rows(3000, seed=2), clock.now())
    status = scheduled(world, clock)
    assert status.verdict == "ok" and status.drifted_features == ()
    assert status.live_rows == 3000
    assert alert_signal(world, "drift") == {"scorer": 0.0}
    # Then an hour later, x shifted by half a standard deviation and region's shares turned around.
    clock.advance(hours=1)
    record(world, "scorer", rows(3000, seed=3, shift=0.5, region_p=[0.1, 0.2, 0.3, 0.4]), clock.now())
    status = scheduled(world, clock)
    assert status.verdict == "drift"
    assert status.drifted_features == ("output", "region", "x")  # the output is 2x, so it moves too
    assert status.drift_share == pytest.approx(2 / 4)
    assert status.output_drifted is True and status.confidence_drifted is False
    found = features(world)
    assert found["x"].statistic == "ks_statistic" and found["x"].value is not None and found["x"].value > 0.1
    assert found["region"].statistic == "js_distance" and found["region"].drifted
    assert not found["amount"].drifted and not found["plan"].drifted and not found["confidence"].drifted
    assert found["x"].histogram is not None and len(found["x"].histogram["labels"]) == 10
    assert found["region"].histogram is not None and found["region"].histogram["labels"][0] == "north"
    # The gauges carry the latest scores.
    labels = {"service": "scorer", "version": "1"}
    assert REGISTRY.get_sample_value("shipyard_drift_detected", labels) == 1.0
    score = REGISTRY.get_sample_value("shipyard_drift_score", {**labels, "feature": "x"})
    assert score == pytest.approx(found["x"].value)
    assert alert_signal(world, "drift") == {"scorer": 1.0}
    assert alert_signal(world, "drift_share") == {"scorer": pytest.approx(0.5)}
    # The dashboard's drift block says so, and a service never checked says that.
    with world.ctx.uow() as s:
        badges = panels.drift_badges(s, ["scorer", "unchecked"])
    assert (badges["scorer"].status, badges["scorer"].score) == ("drifting", pytest.approx(0.5))
    assert badges["scorer"].href == "/services/scorer/drift"
    assert badges["unchecked"].status == "not checked" and badges["unchecked"].score is None


def test_too_few_calls_give_no_verdict(world: World, clock: FrozenClock, tmp_path: Path) -> None:
    make_service(world)
    upload(world, tmp_path, "scorer", rows(500, seed=1))
    record(world, "scorer", rows(50, seed=2, shift=3.0), clock.now())
    status = scheduled(world, clock)
    assert status.verdict == "insufficient_data" and status.live_rows == 50 and not status.drifted


def test_text_drift_in_embedding_space(world: World, clock: FrozenClock, tmp_path: Path) -> None:
    make_service(world)
    upload(world, tmp_path, "scorer", rows(2000, seed=1, text=True))
    with world.ctx.uow() as s:
        ref = drift.get_reference(s, "scorer", 1)
    assert ref.features["input:comment"]["kind"] == "text"
    record(world, "scorer", rows(2000, seed=2, text=True), clock.now())
    assert scheduled(world, clock).verdict == "ok"
    unchanged = features(world)["comment"]
    assert unchanged.kind == "text" and not unchanged.drifted and unchanged.evaluated
    # Half the comments now about account access instead of billing.
    clock.advance(hours=1)
    mixed = rows(1000, seed=4, text=True) + rows(1000, seed=5, text=True, text_topic=ACCOUNT)
    record(world, "scorer", mixed, clock.now())
    status = scheduled(world, clock)
    assert status.drifted_features == ("comment",)
    shifted = features(world)["comment"]
    assert shifted.drifted and "embedding space" in shifted.reason
    assert shifted.value is not None and unchanged.value is not None and shifted.value > 3 * unchanged.value
    assert BILLING != ACCOUNT


def test_data_quality_findings_on_live_input(world: World, clock: FrozenClock, tmp_path: Path) -> None:
    make_service(world)
    upload(world, tmp_path, "scorer", rows(1000, seed=1))
    live = rows(1000, seed=2)
    for i, item in enumerate(live):
        inputs = item["inputs"]
        del inputs["plan"]  # the field is gone
        inputs["channel"] = "web"  # a field the reference never had
        if i % 5 == 0:
            del inputs["x"]  # 20% missing
        elif i % 50 == 1:
            inputs["x"] = 50.0  # outside the schema's maximum of 10, and the reference's range
        if i % 20 == 2:
            inputs["region"] = "antarctica"  # a category the reference never had
    record(world, "scorer", live, clock.now())
    scheduled(world, clock)
    with world.ctx.uow() as s:
        (run,) = history.latest_runs(s, "scorer")
        findings = {(f["column"], f["kind"]) for f in run.findings}
    assert findings >= {
        ("x", "missing_increase"),
        ("x", "out_of_range"),
        ("x", "outside_declared_range"),
        ("region", "unseen_categories"),
        ("plan", "column_missing"),
        ("channel", "column_added"),
    }
    assert ("amount", "missing_increase") not in findings
    plan = features(world)["plan"]
    assert not plan.evaluated and "missing" in plan.reason


def test_per_service_thresholds_change_the_verdict_and_are_audited(
    world: World, clock: FrozenClock, tmp_path: Path
) -> None:
    make_service(world)
    upload(world, tmp_path, "scorer", rows(2000, seed=1))
    with world.ctx.uow() as s:
        drift.set_thresholds(s, world.actor(), "scorer", ThresholdsUpdate(ks_statistic=0.5, psi=5.0))
    record(world, "scorer", rows(2000, seed=3, shift=0.3), clock.now())
    status = scheduled(world, clock)
    assert status.verdict == "ok"  # a 0.3-sigma shift moves KS D by about 0.12, under this service's 0.5
    assert features(world)["x"].threshold == 0.5
    with world.ctx.uow() as s:
        read = drift.thresholds_read(s, "scorer")
        assert read.overrides == {"ks_statistic": 0.5, "psi": 5.0} and read.thresholds["js_distance"] == 0.02
        with pytest.raises(InvalidInput, match="alpha must be between 0 and 1"):
            drift.set_thresholds(s, world.actor(), "scorer", ThresholdsUpdate(alpha=2.0))
    with world.ctx.uow() as s:
        drift.set_thresholds(s, world.actor(), "scorer", ThresholdsUpdate())  # back to the defaults
        (event, *_) = list_events(s, AuditFilter(action="drift.thresholds"))
        assert event.before == {"ks_statistic": 0.5, "psi": 5.0} and event.after == {}
    clock.advance(minutes=1)
    with world.ctx.uow() as s:
        runs = drift.check_service(s, world.actor(), world.ctx.settings.monitoring.drift, "scorer")
    assert [r.drifted for r in runs] == [True]


def test_capture_a_reference_from_a_window_and_replace_it(world: World, clock: FrozenClock) -> None:
    make_service(world)
    start = clock.now()
    record(world, "scorer", rows(400, seed=1), start)
    record(world, "scorer", rows(100, seed=9, shift=5.0), start + timedelta(hours=2))  # outside the window
    settings = world.ctx.settings.monitoring.drift
    with world.ctx.uow() as s:
        ref = drift.capture_reference(
            s, world.actor(), settings, "scorer", 1, start, start + timedelta(hours=1)
        )
        assert ref.rows == 400 and ref.source == "capture"
        assert set(ref.features) == {
            "input:x",
            "input:amount",
            "input:region",
            "input:plan",
            "output:output",
            "confidence:confidence",
        }
        assert ref.features["input:region"]["kind"] == "categorical"
    with world.ctx.uow() as s:
        ref = drift.capture_reference(
            s, world.actor(), settings, "scorer", 1, start, start + timedelta(hours=3), {"plan": "text"}
        )
        assert ref.rows == 500 and ref.features["input:plan"]["kind"] == "text"
        actions = [e.action for e in list_events(s, AuditFilter(action="drift.reference"))]
        assert actions == ["drift.reference.replace", "drift.reference.set"]
        with pytest.raises(InvalidInput) as bad:
            drift.capture_reference(s, world.actor(), settings, "scorer", 1, start, start)
        assert bad.value.code == "bad_window"
        with pytest.raises(InvalidInput) as empty:
            drift.capture_reference(
                s, world.actor(), settings, "scorer", 1, start - timedelta(days=2), start - timedelta(days=1)
            )
        assert empty.value.code == "reference_too_small"


def test_retention_deletes_old_runs(world: World, clock: FrozenClock, tmp_path: Path) -> None:
    make_service(world)
    upload(world, tmp_path, "scorer", rows(300, seed=1))
    record(world, "scorer", rows(300, seed=2), clock.now())
    scheduled(world, clock)
    with world.ctx.uow() as s:
        assert history.count_runs(s, "scorer") == 1
    clock.advance(days=world.ctx.settings.monitoring.drift.retention_days + 1)
    scheduled(world, clock)  # this round's own run stays (insufficient data: the calls are old)
    with world.ctx.uow() as s:
        (run,) = history.runs(s, "scorer")
        assert run.status == "insufficient_data"
