"""The statistics against hand-computed answers and against scipy's reference implementations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from shipyard.core.errors import InvalidInput
from shipyard.monitoring.drift import (
    bin_counts,
    build_profile,
    chi_square,
    compare,
    ecdf_distances,
    js_distance,
    psi,
    quantile_edges,
)
from shipyard.monitoring.drift.bins import bin_counts_sorted
from shipyard.monitoring.drift.numeric import kstwo_sf


def test_psi_of_a_hand_computed_example() -> None:
    # p = (.5, .3, .2), q = (.4, .4, .2): (.4-.5) ln(.4/.5) + (.4-.3) ln(.4/.3) + 0
    assert psi(np.array([50, 30, 20]), np.array([40, 40, 20])) == pytest.approx(0.0510826, abs=1e-7)


def test_psi_floors_an_empty_bin_at_eps() -> None:
    # p = (1, 0 -> 1e-4), q = (.5, .5): (.5-1) ln(.5) + (.5-1e-4) ln(.5/1e-4)
    assert psi(np.array([10, 0]), np.array([5, 5]), eps=1e-4) == pytest.approx(4.6043185, abs=1e-6)


def test_psi_over_reference_quartiles_by_hand() -> None:
    reference = np.arange(1.0, 101.0)
    profile = build_profile({"x": reference}, bins=4)
    column = profile.columns["x"]
    # quartiles of 1..100 (25.75, 50.5, 75.25) moved up to the next reference value: 25 values a bin
    assert list(column.edges) == [26.0, 51.0, 76.0]  # type: ignore[union-attr]
    assert list(column.counts) == [25, 25, 25, 25]
    live = np.array([0.0, 30.0, 60.0, 90.0, 200.0])  # 0 and 200 land in the open outer bins
    report = compare(profile, {"x": live})
    # q = (.2, .2, .2, .4), p = .25 each: 3 (-.05) ln(.8) + .15 ln(1.6)
    assert report.feature("x").statistics["psi"] == pytest.approx(0.1039720, abs=1e-6)


def test_quantile_edges_drop_duplicates_of_a_discrete_feature() -> None:
    values = np.sort(np.repeat([0.0, 1.0, 2.0], [50, 30, 20]))
    edges = quantile_edges(values, 10)
    assert list(edges) == [0.0, 1.0, 2.0]
    assert list(bin_counts(values, edges)) == [0, 50, 30, 20]


def test_sorted_and_unsorted_bin_counts_agree_on_edges_and_outside_values() -> None:
    rng = np.random.default_rng(3)
    values = np.concatenate([rng.normal(size=5000), [-10.0, 10.0, 0.0, 0.0]])
    edges = quantile_edges(np.sort(rng.normal(size=1000)), 10)
    values = np.concatenate([values, edges])  # values exactly on an edge go to the upper bin
    assert list(bin_counts(values, edges)) == list(bin_counts_sorted(np.sort(values), edges))


@pytest.mark.parametrize(
    ("n", "m", "decimals"),
    [
        (40, 60, None),
        (300, 200, 1),
        (3000, 7000, None),
        (2000, 5000, 0),
        (15000, 25000, None),
        (12000, 30000, 1),
    ],
)
def test_ks_equals_scipy_ks_2samp(n: int, m: int, decimals: int | None) -> None:
    rng = np.random.default_rng(n + m)
    a = rng.normal(size=n)
    b = rng.normal(0.08, 1.1, size=m)
    if decimals is not None:  # rounding makes ties within and across the samples
        a, b = np.round(a, decimals), np.round(b, decimals)
    expected = stats.ks_2samp(a, b)
    result = compare(build_profile({"x": a}), {"x": b}).feature("x").statistics
    assert result["ks_statistic"] == pytest.approx(expected.statistic, abs=1e-9)
    assert result["ks_pvalue"] == pytest.approx(expected.pvalue, abs=1e-9)


@pytest.mark.parametrize("decimals", [None, 1])
def test_wasserstein_equals_scipy_over_the_reference_std(decimals: int | None) -> None:
    rng = np.random.default_rng(11)
    a = rng.lognormal(size=4000)
    b = rng.lognormal(0.1, size=9000)
    if decimals is not None:
        a, b = np.round(a, decimals), np.round(b, decimals)
    result = compare(build_profile({"x": a}), {"x": b}).feature("x").statistics
    expected = stats.wasserstein_distance(a, b)
    assert result["wasserstein"] == pytest.approx(expected, rel=1e-12)
    assert result["wasserstein_norm"] == pytest.approx(expected / np.std(a), rel=1e-12)


def test_ecdf_distances_of_identical_samples_are_zero() -> None:
    values = np.sort(np.random.default_rng(5).normal(size=1000))
    assert ecdf_distances(values, values.copy()) == (0.0, 0.0)


def test_a_subsampled_reference_keeps_ks_within_one_over_the_sample() -> None:
    rng = np.random.default_rng(8)
    a = rng.normal(size=60_000)
    b = rng.normal(0.05, size=20_000)
    full = compare(build_profile({"x": a}), {"x": b}).feature("x").statistics
    small = compare(build_profile({"x": a}, max_sample=10_000), {"x": b}).feature("x").statistics
    assert float(small["ks_statistic"]) == pytest.approx(float(full["ks_statistic"]), abs=1 / 10_000 + 1e-12)
    with pytest.raises(InvalidInput, match="max_sample"):
        build_profile({"x": a}, max_sample=100)


@pytest.mark.parametrize(
    ("reference", "live"),
    [
        ([120, 80, 40, 10], [100, 95, 30, 25]),
        ([30, 70], [45, 55]),
        ([5, 1], [3, 9]),
        ([10, 20, 30], [0, 25, 31]),
    ],
)
def test_chi_square_equals_scipy_chi2_contingency(reference: list[int], live: list[int]) -> None:
    expected = stats.chi2_contingency(np.array([reference, live]))
    statistic, pvalue, dof = chi_square(np.array(reference), np.array(live))
    assert statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert pvalue == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-15)
    assert dof == expected.dof


def test_chi_square_through_compare_pools_unseen_categories_into_one_column() -> None:
    reference = np.array(["a"] * 50 + ["b"] * 30 + ["c"] * 20)
    live = np.array(["a"] * 40 + ["b"] * 35 + ["c"] * 15 + ["x"] * 6 + ["y"] * 4)
    stats_ = compare(build_profile({"k": reference}), {"k": live}).feature("k").statistics
    table = np.array([[50, 30, 20, 0], [40, 35, 15, 10]])
    expected = stats.chi2_contingency(table)
    assert stats_["chi2_statistic"] == pytest.approx(expected.statistic, rel=1e-12)
    assert stats_["chi2_pvalue"] == pytest.approx(expected.pvalue, rel=1e-9)
    assert stats_["js_distance"] == pytest.approx(jensenshannon(table[0], table[1], base=2), abs=1e-12)


@pytest.mark.parametrize(
    ("p", "q"),
    [([0.5, 0.3, 0.2], [0.4, 0.4, 0.2]), ([10, 0, 5], [0, 7, 5]), ([1, 1], [1, 1]), ([3, 0], [0, 4])],
)
def test_js_distance_equals_scipy_jensenshannon_base_2(p: list[float], q: list[float]) -> None:
    expected = jensenshannon(np.array(p, dtype=float), np.array(q, dtype=float), base=2)
    assert js_distance(np.array(p), np.array(q)) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("n", [141, 2_000, 9_375, 90_909, 500_000])
def test_kstwo_sf_matches_scipy_on_every_branch(n: int) -> None:
    for z in [0.05, 0.5, 1.0, 1.4, 1.6, 3.0, 6.0, 12.0, 19.0, 19.5]:
        x = z / np.sqrt(n)
        assert kstwo_sf(x, n) == pytest.approx(stats.kstwo.sf(x, n), rel=1e-8, abs=1e-300)
