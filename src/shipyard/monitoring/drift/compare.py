"""Compare a live window with a reference profile: drift per feature, data quality, the overall flag."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from shipyard.core.errors import InvalidInput
from shipyard.monitoring.drift.categorical import (
    CategoricalComparison,
    CategoricalProfile,
    compare_categorical,
)
from shipyard.monitoring.drift.columns import (
    ColumnKind,
    Table,
    columns_of,
    infer_kind,
    numeric_values,
    row_count,
)
from shipyard.monitoring.drift.numeric import NumericComparison, NumericProfile, compare_numeric
from shipyard.monitoring.drift.profile import ColumnProfile, Range, ReferenceProfile, build_profile
from shipyard.monitoring.drift.report import ColumnQuality, DriftReport, FeatureDrift, QualityFinding
from shipyard.monitoring.drift.thresholds import DriftThresholds

_TOP_UNSEEN = 20


def compare(
    profile: ReferenceProfile,
    live: Table,
    *,
    thresholds: DriftThresholds | None = None,
    feature_thresholds: Mapping[str, DriftThresholds] | None = None,
    workers: int = 1,
) -> DriftReport:
    """Compare a live table (dict of arrays or DataFrame) with a reference profile.

    `feature_thresholds` overrides `thresholds` for the features it names (their alpha is still split
    over all compared features). `workers` > 1 compares features on that many threads (NumPy's sort and
    searches release the GIL).
    """
    thresholds = thresholds or DriftThresholds()
    feature_thresholds = dict(feature_thresholds or {})
    unknown = sorted(set(feature_thresholds) - set(profile.columns))
    if unknown:
        raise InvalidInput(f"feature_thresholds name columns the profile does not have: {unknown}")
    if workers < 1:
        raise InvalidInput(f"workers must be at least 1, got {workers}")
    cols = columns_of(live, "live")
    rows = row_count(cols)
    findings: list[QualityFinding] = []
    for name in cols:
        if name not in profile.columns:
            findings.append(QualityFinding(name, "column_added", f"column {name!r} is not in the reference"))

    comparable: dict[str, Any] = {}
    for name, column_profile in profile.columns.items():
        if name not in cols:
            findings.append(
                QualityFinding(name, "column_missing", f"column {name!r} is missing from the live data")
            )
            continue
        values, problem = _live_values(column_profile, cols[name], name)
        if problem is not None:
            findings.append(QualityFinding(name, "type_changed", problem))
            continue
        comparable[name] = values

    def measure(name: str) -> NumericComparison | CategoricalComparison | None:
        column_profile = profile.columns[name]
        if isinstance(column_profile, NumericProfile):
            return compare_numeric(column_profile, comparable[name])
        return compare_categorical(column_profile, comparable[name])

    if workers > 1 and len(comparable) > 1:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="drift") as pool:
            measured = dict(zip(comparable, pool.map(measure, comparable), strict=True))
    else:
        measured = {name: measure(name) for name in comparable}

    evaluated = sum(1 for m in measured.values() if m is not None)
    features: list[FeatureDrift] = []
    quality: list[ColumnQuality] = []
    kinds = profile.kinds()
    for name, column_profile in profile.columns.items():
        kind = kinds[name]
        limits = feature_thresholds.get(name, thresholds)
        alpha = limits.feature_alpha(evaluated)
        reference_missing = column_profile.missing / (column_profile.missing + column_profile.count)
        if name not in measured:
            reason = next(f.detail for f in findings if f.column == name)
            features.append(
                FeatureDrift(
                    name,
                    kind,
                    False,
                    f"not compared: {reason}",
                    evaluated=False,
                    reference_count=column_profile.count,
                )
            )
            quality.append(ColumnQuality(name, kind, None, reference_missing))
            continue
        result = measured[name]
        if result is None:
            detail = f"every live value of {name!r} is missing"
            findings.append(QualityFinding(name, "all_missing", detail, share=1.0))
            features.append(
                FeatureDrift(
                    name,
                    kind,
                    False,
                    f"not compared: {detail}",
                    evaluated=False,
                    reference_count=column_profile.count,
                )
            )
            quality.append(ColumnQuality(name, kind, 1.0, reference_missing))
            continue
        if isinstance(result, NumericComparison):
            assert isinstance(column_profile, NumericProfile)
            features.append(_numeric_feature(name, column_profile, result, limits, alpha))
            quality.append(
                _numeric_quality(name, column_profile, result, limits, reference_missing, findings)
            )
        else:
            assert isinstance(column_profile, CategoricalProfile)
            features.append(_categorical_feature(name, column_profile, result, limits, alpha))
            quality.append(_categorical_quality(name, result, limits, reference_missing, findings))
    return DriftReport(
        reference_rows=profile.rows,
        live_rows=rows,
        features=tuple(features),
        quality=tuple(quality),
        findings=tuple(findings),
        thresholds=thresholds,
    )


def detect_drift(
    reference: Table,
    live: Table,
    schema: Mapping[str, ColumnKind] | None = None,
    *,
    thresholds: DriftThresholds | None = None,
    ranges: Mapping[str, Range] | None = None,
    workers: int = 1,
) -> DriftReport:
    """Build the reference profile and compare the live table with it, in one call."""
    profile = build_profile(reference, schema, ranges=ranges)
    return compare(profile, live, thresholds=thresholds, workers=workers)


def _live_values(column_profile: ColumnProfile, values: Any, name: str) -> tuple[Any, str | None]:
    """The live column ready for comparison, or why its type no longer matches the reference's."""
    live_kind = infer_kind(values)
    expected = column_profile.source_kind
    if isinstance(column_profile, NumericProfile):
        if live_kind == "numeric" or live_kind == expected or _is_object(values):
            try:
                return numeric_values(values, name), None
            except InvalidInput:
                pass
        return None, f"column {name!r} was numeric in the reference but holds {_dtype(values)} values now"
    if live_kind == expected:
        return values, None
    return None, (
        f"column {name!r} held {expected} ({column_profile.kind}) values in the reference "
        f"but holds {_dtype(values)} values now"
    )


def _is_object(values: Any) -> bool:
    return getattr(values.dtype, "kind", "") == "O"


def _dtype(values: Any) -> str:
    return str(values.dtype)


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def _numeric_feature(
    name: str, profile: NumericProfile, result: NumericComparison, limits: DriftThresholds, alpha: float
) -> FeatureDrift:
    significant = result.ks_pvalue < alpha
    big_ks = result.ks_statistic > limits.ks_statistic
    big_psi = result.psi > limits.psi
    drifted = significant and (big_ks or big_psi)
    measures = f"KS D={_fmt(result.ks_statistic)}, PSI={_fmt(result.psi)}, p={_fmt(result.ks_pvalue)}"
    if drifted:
        why = []
        if big_ks:
            why.append(
                f"the share of rows below some value moved by {100 * result.ks_statistic:.2g} "
                f"percentage points (D > {limits.ks_statistic:g})"
            )
        if big_psi:
            why.append(f"PSI > {limits.psi:g}")
        reason = f"drift: {' and '.join(why)}, significant at p < {_fmt(alpha)} ({measures})"
    elif not significant:
        reason = f"no drift: not significant, p >= {_fmt(alpha)} ({measures})"
    else:
        reason = (
            f"no drift: significant but small, D <= {limits.ks_statistic:g} and PSI <= {limits.psi:g} "
            f"({measures})"
        )
    return FeatureDrift(
        name=name,
        kind="numeric",
        drifted=drifted,
        reason=reason,
        statistics={
            "ks_statistic": result.ks_statistic,
            "ks_pvalue": result.ks_pvalue,
            "psi": result.psi,
            "wasserstein": result.wasserstein,
            "wasserstein_norm": result.wasserstein_norm,
            "mean": result.mean,
            "std": result.std,
            "reference_mean": profile.mean,
            "reference_std": profile.std,
        },
        alpha=alpha,
        reference_count=profile.count,
        live_count=result.count,
    )


def _categorical_feature(
    name: str,
    profile: CategoricalProfile,
    result: CategoricalComparison,
    limits: DriftThresholds,
    alpha: float,
) -> FeatureDrift:
    significant = result.chi2_pvalue < alpha
    big = result.js_distance > limits.js_distance
    drifted = significant and big
    measures = f"JS={_fmt(result.js_distance)}, chi2 p={_fmt(result.chi2_pvalue)}"
    if drifted:
        reason = (
            f"drift: category shares changed, JS distance > {limits.js_distance:g}, significant at "
            f"p < {_fmt(alpha)} ({measures})"
        )
    elif not significant:
        reason = f"no drift: not significant, p >= {_fmt(alpha)} ({measures})"
    else:
        reason = f"no drift: significant but small, JS distance <= {limits.js_distance:g} ({measures})"
    return FeatureDrift(
        name=name,
        kind="categorical",
        drifted=drifted,
        reason=reason,
        statistics={
            "chi2_statistic": result.chi2_statistic,
            "chi2_pvalue": result.chi2_pvalue,
            "chi2_dof": result.chi2_dof,
            "js_distance": result.js_distance,
            "psi": result.psi,
        },
        alpha=alpha,
        reference_count=profile.count,
        live_count=result.counts.count,
    )


def _missing_finding(
    name: str, share: float, reference_share: float, limits: DriftThresholds, findings: list[QualityFinding]
) -> None:
    if share - reference_share > limits.missing_increase:
        findings.append(
            QualityFinding(
                name,
                "missing_increase",
                f"{100 * share:.2f}% of {name!r} is missing, against {100 * reference_share:.2f}% "
                "in the reference",
                share=share,
            )
        )


def _numeric_quality(
    name: str,
    profile: NumericProfile,
    result: NumericComparison,
    limits: DriftThresholds,
    reference_missing: float,
    findings: list[QualityFinding],
) -> ColumnQuality:
    total = result.count + result.missing
    missing = result.missing / total
    _missing_finding(name, missing, reference_missing, limits, findings)
    out_of_range = (result.below_min + result.above_max) / result.count
    if out_of_range > limits.out_of_range_share:
        findings.append(
            QualityFinding(
                name,
                "out_of_range",
                f"{100 * out_of_range:.2f}% of {name!r} lies outside the reference's range "
                f"[{_fmt(profile.min)}, {_fmt(profile.max)}] "
                f"({result.below_min} below, {result.above_max} above)",
                share=out_of_range,
            )
        )
    outside_declared = None
    if profile.declared_range is not None:
        outside_declared = result.outside_declared / result.count
        if result.outside_declared:
            low, high = profile.declared_range
            findings.append(
                QualityFinding(
                    name,
                    "outside_declared_range",
                    f"{result.outside_declared} value(s) of {name!r} lie outside the declared range "
                    f"[{low}, {high}]",
                    share=outside_declared,
                )
            )
    return ColumnQuality(
        name,
        "numeric",
        missing,
        reference_missing,
        out_of_range_share=out_of_range,
        outside_declared_share=outside_declared,
    )


def _categorical_quality(
    name: str,
    result: CategoricalComparison,
    limits: DriftThresholds,
    reference_missing: float,
    findings: list[QualityFinding],
) -> ColumnQuality:
    counted = result.counts
    missing = counted.missing / (counted.count + counted.missing)
    _missing_finding(name, missing, reference_missing, limits, findings)
    unseen_total = result.unseen_total
    unseen_share = unseen_total / counted.count
    top = dict(sorted(counted.unseen.items(), key=lambda kv: (-kv[1], kv[0]))[:_TOP_UNSEEN])
    if unseen_share > limits.unseen_share:
        names = ", ".join(repr(k) for k in list(top)[:5])
        more = f" and {len(counted.unseen) - 5} more" if len(counted.unseen) > 5 else ""
        findings.append(
            QualityFinding(
                name,
                "unseen_categories",
                f"{100 * unseen_share:.2f}% of {name!r} is in categories the reference never had: "
                f"{names}{more}",
                share=unseen_share,
            )
        )
    return ColumnQuality(
        name,
        "categorical",
        missing,
        reference_missing,
        unseen_share=unseen_share,
        unseen_categories=len(counted.unseen),
        top_unseen=top,
    )
