"""One drift check: a live window compared with a stored reference, as per-feature results and a verdict.

Every feature (inputs, the output, the confidence, and each text field's embedding components) is
compared in one call of the drift library, so its significance level is split over all of them. A text
field drifts when any of its components does; its score is the largest component KS statistic.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shipyard.monitoring.drift.bins import bin_counts
from shipyard.monitoring.drift.categorical import CategoricalProfile, count_against
from shipyard.monitoring.drift.compare import compare
from shipyard.monitoring.drift.frames import Record, category_array, split_key
from shipyard.monitoring.drift.numeric import NumericProfile
from shipyard.monitoring.drift.reference import COMPONENT, StoredReference, live_table
from shipyard.monitoring.drift.report import DriftReport, FeatureDrift
from shipyard.monitoring.drift.thresholds import DriftThresholds

HISTOGRAM_CATEGORIES = 12  # the most frequent reference categories charted; the rest are "other"


@dataclass(frozen=True)
class FeatureResult:
    """One feature's outcome in a check, ready to store and chart."""

    role: str
    name: str
    kind: str
    statistic: str
    value: float | None
    threshold: float | None
    p_value: float | None
    psi: float | None
    drifted: bool
    evaluated: bool
    reason: str
    histogram: dict[str, Any] | None = None


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check."""

    live_rows: int
    features: list[FeatureResult]
    findings: list[dict[str, Any]]
    drifted: bool
    drift_share: float
    features_evaluated: int
    features_drifted: int
    output_drifted: bool | None
    confidence_drifted: bool | None
    thresholds: dict[str, Any] = field(default_factory=dict)


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and np.isfinite(value) else None


def _shares(counts: np.ndarray) -> list[float]:
    total = float(counts.sum())
    return [round(float(c) / total, 6) if total else 0.0 for c in counts]


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def numeric_histogram(profile: NumericProfile, live: np.ndarray) -> dict[str, Any]:
    """Reference and live shares over the reference-quantile bins the PSI uses."""
    edges = profile.edges
    values = live[np.isfinite(live)] if live.dtype != object else np.array([], dtype=np.float64)
    labels = [f"< {_fmt(edges[0])}"] if edges.size else ["all"]
    labels += [f"{_fmt(a)}–{_fmt(b)}" for a, b in zip(edges[:-1], edges[1:], strict=True)]
    if edges.size:
        labels.append(f"≥ {_fmt(edges[-1])}")
    return {
        "labels": labels,
        "reference": _shares(profile.counts),
        "live": _shares(bin_counts(values, edges)) if values.size else [0.0] * len(labels),
    }


def categorical_histogram(profile: CategoricalProfile, live: np.ndarray) -> dict[str, Any]:
    """Shares of the most frequent reference categories, the rest, and categories the reference never had."""
    counted = count_against(profile, category_array(list(live)))
    order = np.argsort(-profile.counts, kind="stable")
    top, rest = order[:HISTOGRAM_CATEGORIES], order[HISTOGRAM_CATEGORIES:]
    labels = [profile.categories[i] for i in top]
    reference = [int(profile.counts[i]) for i in top]
    live_counts = [int(counted.known[i]) for i in top]
    if rest.size:
        labels.append("(other)")
        reference.append(int(profile.counts[rest].sum()))
        live_counts.append(int(counted.known[rest].sum()))
    unseen = sum(counted.unseen.values())
    if unseen:
        labels.append("(unseen)")
        reference.append(0)
        live_counts.append(unseen)
    return {
        "labels": labels,
        "reference": _shares(np.array(reference)),
        "live": _shares(np.array(live_counts)),
    }


def _plain(item: FeatureDrift, meta: dict[str, str], thresholds: DriftThresholds) -> FeatureResult:
    stats = item.statistics
    if item.kind == "numeric":
        statistic, value, p, threshold = (
            "ks_statistic",
            stats.get("ks_statistic"),
            stats.get("ks_pvalue"),
            (thresholds.ks_statistic),
        )
    else:
        statistic, value, p, threshold = (
            "js_distance",
            stats.get("js_distance"),
            stats.get("chi2_pvalue"),
            (thresholds.js_distance),
        )
    return FeatureResult(
        role=meta["role"],
        name=meta["name"],
        kind=meta["kind"],
        statistic=statistic,
        value=_num(value),
        threshold=threshold,
        p_value=_num(p),
        psi=_num(stats.get("psi")),
        drifted=item.drifted,
        evaluated=item.evaluated,
        reason=item.reason,
    )


def _text(key: str, meta: dict[str, str], report: DriftReport, thresholds: DriftThresholds) -> FeatureResult:
    parts = [f for f in report.features if f.name.startswith(key + COMPONENT)]
    evaluated = [f for f in parts if f.evaluated]
    if not evaluated:
        reason = parts[0].reason if parts else "not compared"
        return FeatureResult(
            meta["role"], meta["name"], "text", "ks_statistic", None, thresholds.ks_statistic, None, None,
            False, False, reason,
        )  # fmt: skip
    worst = max(evaluated, key=lambda f: float(f.statistics.get("ks_statistic") or 0.0))
    drifted = [f.name.split(COMPONENT, 1)[1] for f in evaluated if f.drifted]
    component = worst.name.split(COMPONENT, 1)[1]
    if drifted:
        reason = (
            f"drift in embedding space: component(s) {', '.join(drifted)} moved; largest on {component}: "
        )
        reason += worst.reason.removeprefix("drift: ")
    else:
        reason = f"no drift in embedding space ({len(evaluated)} components); largest on {component}: "
        reason += worst.reason.removeprefix("no drift: ")
    return FeatureResult(
        role=meta["role"],
        name=meta["name"],
        kind="text",
        statistic="ks_statistic",
        value=_num(worst.statistics.get("ks_statistic")),
        threshold=thresholds.ks_statistic,
        p_value=min((_num(f.statistics.get("ks_pvalue")) or 1.0) for f in evaluated),
        psi=max((_num(f.statistics.get("psi")) or 0.0) for f in evaluated),
        drifted=bool(drifted),
        evaluated=True,
        reason=reason,
    )


def _findings(report: DriftReport, stored: StoredReference) -> list[dict[str, Any]]:
    """Findings named by feature (a text field's components speak as the field, once per kind)."""
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for finding in report.findings:
        key = finding.column.split(COMPONENT, 1)[0]
        meta = stored.features.get(key)
        role, name = (meta["role"], meta["name"]) if meta else split_key(key)
        if (key, finding.kind) in seen:
            continue
        seen.add((key, finding.kind))
        detail = finding.detail.replace(repr(finding.column), repr(name))
        if meta and meta["kind"] == "text" and finding.kind == "out_of_range":
            detail = f"the embedding of {name!r} lies outside the reference's range: " + detail
        out.append(
            {"role": role, "column": name, "kind": finding.kind, "detail": detail, "share": finding.share}
        )
    return out


def run(
    stored: StoredReference,
    records: Iterable[Record],
    thresholds: DriftThresholds,
    input_schema: Any = None,
) -> CheckResult:
    """Compare a window's records with the reference (the caller has checked there are enough rows)."""
    table, rows = live_table(stored, records)
    if not table:  # nothing comparable at all: report every feature as missing
        table = {key: category_array([None] * rows) for key in stored.profile.columns}
    report = compare(stored.with_schema_ranges(input_schema), table, thresholds=thresholds)
    by_name = {f.name: f for f in report.features}
    results: list[FeatureResult] = []
    for key, meta in stored.features.items():
        if meta["kind"] == "text":
            result = _text(key, meta, report, thresholds)
            first = f"{key}{COMPONENT}c1"
            column = stored.profile.columns[first]
            if result.evaluated and isinstance(column, NumericProfile):
                result = _with_histogram(result, numeric_histogram(column, table[first]))
        else:
            result = _plain(by_name[key], meta, thresholds)
            column = stored.profile.columns[key]
            if result.evaluated and key in table:
                if isinstance(column, NumericProfile):
                    result = _with_histogram(result, numeric_histogram(column, table[key]))
                elif isinstance(column, CategoricalProfile):
                    result = _with_histogram(result, categorical_histogram(column, table[key]))
        results.append(result)
    inputs = [r for r in results if r.role == "input" and r.evaluated]
    drifted_inputs = sum(r.drifted for r in inputs)
    share = drifted_inputs / len(inputs) if inputs else 0.0
    outputs = [r for r in results if r.role == "output" and r.evaluated]
    confidence = [r for r in results if r.role == "confidence" and r.evaluated]
    output_drifted = any(r.drifted for r in outputs) if outputs else None
    confidence_drifted = any(r.drifted for r in confidence) if confidence else None
    inputs_drifted = drifted_inputs > 0 and share >= thresholds.min_drift_share
    return CheckResult(
        live_rows=rows,
        features=results,
        findings=_findings(report, stored),
        drifted=inputs_drifted or bool(output_drifted) or bool(confidence_drifted),
        drift_share=share,
        features_evaluated=len(inputs),
        features_drifted=drifted_inputs,
        output_drifted=output_drifted,
        confidence_drifted=confidence_drifted,
    )


def _with_histogram(result: FeatureResult, histogram: dict[str, Any]) -> FeatureResult:
    from dataclasses import replace

    return replace(result, histogram=histogram)
