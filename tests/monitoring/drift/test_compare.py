"""Profiles and comparisons end to end: decisions, data quality, schema changes, storage, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from shipyard.core.errors import InvalidInput
from shipyard.monitoring.drift import (
    DriftThresholds,
    ReferenceProfile,
    build_profile,
    compare,
    detect_drift,
    psi,
)
from shipyard.monitoring.drift.bins import bin_counts


def _tables(
    rows: int, live_rows: int, seed: int = 0, shift: float = 0.0
) -> tuple[dict[str, np.ndarray], ...]:
    rng = np.random.default_rng(seed)
    levels = np.array(["red", "green", "blue", "grey"])
    shares = [0.4, 0.3, 0.2, 0.1]

    def table(size: int, offset: float) -> dict[str, np.ndarray]:
        return {
            "amount": rng.lognormal(3.0, 1.0, size) + offset * 20,
            "age": rng.integers(18, 90, size),
            "score": rng.normal(0.0, 1.0, size) + offset,
            "colour": levels[rng.choice(4, size, p=shares)],
            "member": rng.random(size) < 0.3,
        }

    return table(rows, 0.0), table(live_rows, shift)


def test_identical_samples_do_not_drift() -> None:
    reference, _ = _tables(5000, 10)
    report = detect_drift(reference, reference)
    assert report.drifted_features == []
    assert not report.drifted
    assert report.findings == ()
    for feature in report.features:
        assert feature.evaluated
        assert feature.reason.startswith("no drift")
    assert report.feature("score").statistics["ks_statistic"] == 0.0
    assert report.feature("colour").statistics["js_distance"] == 0.0


def test_same_distribution_new_sample_does_not_drift() -> None:
    reference, live = _tables(20_000, 50_000, seed=1)
    report = detect_drift(reference, live)
    assert report.drifted_features == []
    assert report.drift_share == 0.0


def test_a_clear_shift_drifts_and_says_why() -> None:
    reference, live = _tables(20_000, 20_000, seed=2, shift=0.5)
    live["colour"] = np.array(["red", "blue"])[np.random.default_rng(2).integers(0, 2, 20_000)]
    report = detect_drift(reference, live)
    assert report.drifted_features == ["amount", "score", "colour"]
    assert report.drifted and report.drift_share == pytest.approx(3 / 5)
    assert "percentage points" in report.feature("score").reason
    assert report.feature("score").reason.startswith("drift:")
    assert report.feature("colour").reason.startswith("drift: category shares changed")
    assert report.feature("age").reason.startswith("no drift")


def test_significant_but_small_is_not_drift_and_thresholds_are_per_call() -> None:
    rng = np.random.default_rng(4)
    reference = {"x": rng.normal(size=200_000)}
    live = {"x": rng.normal(0.02, 1.0, size=1_000_000)}  # D about 0.008: real, under the 0.01 default
    profile = build_profile(reference)
    feature = compare(profile, live).feature("x")
    assert float(feature.statistics["ks_pvalue"]) < 1e-4  # type: ignore[arg-type]
    assert not feature.drifted
    assert feature.reason.startswith("no drift: significant but small")
    stricter = compare(profile, live, thresholds=DriftThresholds(ks_statistic=0.005))
    assert stricter.drifted_features == ["x"]
    per_feature = compare(profile, live, feature_thresholds={"x": DriftThresholds(ks_statistic=0.005)})
    assert per_feature.drifted_features == ["x"]


def test_bonferroni_splits_alpha_over_the_features() -> None:
    reference, live = _tables(2000, 2000, seed=5)
    report = detect_drift(reference, live)
    assert [f.alpha for f in report.features] == [pytest.approx(0.01 / 5)] * 5
    plain = detect_drift(reference, live, thresholds=DriftThresholds(correction="none"))
    assert [f.alpha for f in plain.features] == [0.01] * 5


def test_profile_round_trips_through_json_with_identical_results() -> None:
    reference, live = _tables(30_000, 20_000, seed=6, shift=0.05)
    profile = build_profile(reference, ranges={"score": (-3.0, None)})
    text = profile.to_json()
    restored = ReferenceProfile.from_json(text)
    assert restored.to_json() == text
    assert compare(restored, live).to_dict() == compare(profile, live).to_dict()
    # The sorted reference dominates the size: 8 bytes a value, base64 in JSON.
    assert len(text) < 30_000 * 3 * 11 + 20_000


def test_dataframe_and_dict_give_the_same_report() -> None:
    pd = pytest.importorskip("pandas")
    reference, live = _tables(5000, 8000, seed=7, shift=0.2)
    from_dicts = detect_drift(reference, live).to_dict()
    from_frames = detect_drift(pd.DataFrame(reference), pd.DataFrame(live)).to_dict()
    assert from_frames == from_dicts
    object_live = pd.DataFrame(live).astype({"colour": object})
    assert detect_drift(pd.DataFrame(reference), object_live).to_dict() == from_dicts


def test_threads_give_the_same_report() -> None:
    reference, live = _tables(5000, 8000, seed=8, shift=0.1)
    profile = build_profile(reference)
    assert compare(profile, live, workers=2).to_dict() == compare(profile, live).to_dict()


def test_nans_count_as_missing_and_stay_out_of_the_statistics() -> None:
    rng = np.random.default_rng(9)
    reference = rng.normal(size=4000)
    reference[:40] = np.nan
    live = rng.normal(size=3000)
    with_gaps = live.copy()
    with_gaps[::10] = np.nan
    profile = build_profile({"x": reference})
    assert profile.columns["x"].missing == 40
    assert profile.columns["x"].count == 3960
    gappy = compare(profile, {"x": with_gaps})
    clean = compare(profile, {"x": with_gaps[~np.isnan(with_gaps)]})
    assert gappy.feature("x").statistics == clean.feature("x").statistics
    assert gappy.feature("x").live_count == 2700
    assert gappy.quality[0].missing_share == pytest.approx(0.1)
    assert gappy.quality[0].reference_missing_share == pytest.approx(0.01)
    assert [f.kind for f in gappy.findings] == ["missing_increase"]
    assert "10.00% of 'x' is missing" in gappy.findings[0].detail


def test_missing_categories_none_and_nan_in_object_columns() -> None:
    reference = np.array(["a", "b", None, "a", float("nan"), "b"] * 100, dtype=object)
    live = np.array(["a", "b", "a", None] * 100, dtype=object)
    report = detect_drift({"k": reference}, {"k": live})
    quality = report.quality[0]
    assert quality.reference_missing_share == pytest.approx(2 / 6)
    assert quality.missing_share == pytest.approx(1 / 4)
    assert report.feature("k").live_count == 300


def test_all_missing_live_column_is_reported_not_compared() -> None:
    profile = build_profile({"x": np.arange(100.0), "y": np.arange(100.0)})
    report = compare(profile, {"x": np.full(50, np.nan), "y": np.arange(50.0)})
    assert not report.feature("x").evaluated
    assert [f.kind for f in report.findings] == ["all_missing"]
    assert report.feature("y").evaluated


def test_unseen_categories_are_pooled_and_reported() -> None:
    reference = np.array(["a", "b", "c"] * 1000)
    live = np.array(["a", "b", "c"] * 900 + ["d"] * 200 + ["e"] * 100)
    report = detect_drift({"k": reference}, {"k": live})
    quality = report.quality[0]
    assert quality.unseen_categories == 2
    assert quality.top_unseen == {"d": 200, "e": 100}
    assert quality.unseen_share == pytest.approx(300 / 3000)
    assert [f.kind for f in report.findings] == ["unseen_categories"]
    assert "'d', 'e'" in report.findings[0].detail
    assert report.drifted_features == ["k"]


def test_out_of_range_and_declared_range_findings() -> None:
    rng = np.random.default_rng(10)
    profile = build_profile({"x": rng.uniform(0, 1, 10_000)}, ranges={"x": (0.0, 1.0)})
    live = rng.uniform(0, 1, 10_000)
    live[:50] = 1.5
    live[50:52] = -0.5
    report = compare(profile, {"x": live})
    kinds = {f.kind: f for f in report.findings}
    assert set(kinds) == {"out_of_range", "outside_declared_range"}
    assert kinds["out_of_range"].share == pytest.approx(0.0052, abs=2e-4)
    assert kinds["outside_declared_range"].share == pytest.approx(52 / 10_000)
    assert report.quality[0].outside_declared_share == pytest.approx(52 / 10_000)


def test_schema_changes_are_reported() -> None:
    profile = build_profile({"a": np.arange(10.0), "b": np.array(list("xyzxyzxyzx")), "c": np.arange(10)})
    live = {"a": np.array(list("pqrstuvwxy")), "b": np.array(list("xyzxyzxyzx")), "d": np.arange(10.0)}
    report = compare(profile, live)
    found = {(f.column, f.kind) for f in report.findings}
    assert found == {("d", "column_added"), ("c", "column_missing"), ("a", "type_changed")}
    assert not report.feature("a").evaluated
    assert "was numeric in the reference but holds <U1 values now" in report.feature("a").reason
    assert report.feature("b").evaluated
    assert not report.quality_ok


def test_schema_overrides_inference_and_ints_as_categories_match_floats() -> None:
    reference = {"code": np.array([1, 2, 3, 1, 2, 3] * 50)}
    live = {"code": np.array([1.0, 2.0, 3.0, np.nan] * 50)}  # an int column that gained a NaN
    profile = build_profile(reference, {"code": "categorical"})
    assert profile.columns["code"].categories == ("1", "2", "3")  # type: ignore[union-attr]
    report = compare(profile, live)
    assert report.findings[0].kind == "missing_increase"
    assert report.quality[0].unseen_categories == 0


def test_empty_live_window_is_a_clear_error() -> None:
    profile = build_profile({"x": np.arange(10.0)})
    with pytest.raises(InvalidInput, match="the live table is empty") as caught:
        compare(profile, {"x": np.array([], dtype=float)})
    assert caught.value.code == "invalid_input"


def test_mismatched_types_are_a_clear_error() -> None:
    with pytest.raises(InvalidInput, match="'name' is declared numeric but holds text") as caught:
        build_profile({"name": np.array(["ann", "bob"])}, {"name": "numeric"})
    assert caught.value.code == "invalid_input"
    with pytest.raises(
        InvalidInput, match="cannot tell whether these columns are numeric or categorical: when"
    ):
        build_profile({"when": np.array(["2024-01-01"], dtype="datetime64[D]")})
    with pytest.raises(InvalidInput, match="schema kind for 'x' must be"):
        build_profile({"x": np.arange(3.0)}, {"x": "text"})  # type: ignore[dict-item]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"x": np.arange(3.0), "y": np.arange(4.0)}, "columns differ in length: x=3, y=4"),
        ({}, "has no columns"),
        ([1, 2, 3], "must be a dict of column name to array or a pandas DataFrame"),
        ({"x": np.zeros((2, 2))}, "must be one-dimensional"),
        ({"x": np.full(5, np.nan)}, "reference column 'x' has no values"),
    ],
)
def test_bad_reference_tables_say_what_is_wrong(table: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        build_profile(table)


def test_bad_profiles_and_thresholds_are_clear_errors() -> None:
    with pytest.raises(InvalidInput, match="not JSON"):
        ReferenceProfile.from_json("{nope")
    with pytest.raises(InvalidInput, match="unknown reference profile format"):
        ReferenceProfile.from_json(json.dumps({"format": 99}))
    with pytest.raises(InvalidInput, match="alpha must be between 0 and 1"):
        DriftThresholds(alpha=1.5)
    with pytest.raises(InvalidInput, match="feature_thresholds name columns the profile does not have"):
        compare(
            build_profile({"x": np.arange(5.0)}),
            {"x": np.arange(5.0)},
            feature_thresholds={"z": DriftThresholds()},
        )


def test_report_to_dict_is_json() -> None:
    reference, live = _tables(3000, 3000, seed=12, shift=0.3)
    stored = json.loads(json.dumps(detect_drift(reference, live).to_dict(), allow_nan=False))
    assert stored["drifted_features"] == ["amount", "score"]
    assert stored["thresholds"]["ks_statistic"] == 0.01
    assert {f["name"] for f in stored["features"]} == {"amount", "age", "score", "colour", "member"}


def test_lognormal_shift_of_005_sigma_at_1m_rows_quantile_bins_see_it_equal_width_hide_it() -> None:
    rng = np.random.default_rng(13)
    sigma = np.sqrt((np.e - 1) * np.e)  # standard deviation of lognormal(0, 1)
    reference = rng.lognormal(0.0, 1.0, 100_000)
    shifted = rng.lognormal(0.0, 1.0, 1_000_000) + 0.05 * sigma
    unchanged = rng.lognormal(0.0, 1.0, 1_000_000)
    profile = build_profile({"x": reference})
    assert compare(profile, {"x": shifted}).drifted_features == ["x"]
    assert compare(profile, {"x": unchanged}).drifted_features == []
    quantile_psi = compare(profile, {"x": shifted}).feature("x").statistics["psi"]
    # Ten equal-width bins over the reference's range: nearly all the mass sits in the first bin.
    edges = np.linspace(reference.min(), reference.max(), 11)[1:-1]
    equal_width_psi = psi(bin_counts(reference, edges), bin_counts(shifted, edges))
    assert equal_width_psi < 0.005 < float(quantile_psi)  # type: ignore[arg-type]
