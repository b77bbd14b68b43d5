"""Drift statistics: a reusable reference profile, and live windows compared with it.

    profile = build_profile(reference)                  # once per model version; profile.to_json() to store
    report = compare(profile, live)                     # per window: DriftReport
    report.drifted, report.drifted_features, report.to_dict()

Numeric features: PSI over reference-quantile bins, two-sample Kolmogorov-Smirnov (statistic and
p-value, exact against the stored sorted reference), Wasserstein distance over the reference's standard
deviation. Categorical features: two-sample chi-square on the contingency table, Jensen-Shannon distance
(base 2). A feature drifts when the test is significant and the effect is large enough to matter; see
`thresholds` for the rule and the reasoning behind the defaults. Tables are dicts of NumPy arrays or
pandas DataFrames; pandas is never imported by this package. A model's predictions and confidences are
columns like any other: put them in both tables.
"""

from __future__ import annotations

from shipyard.monitoring.drift.bins import bin_counts, psi, quantile_edges
from shipyard.monitoring.drift.categorical import CategoricalProfile, chi_square, js_distance
from shipyard.monitoring.drift.columns import ColumnKind
from shipyard.monitoring.drift.compare import compare, detect_drift
from shipyard.monitoring.drift.numeric import NumericProfile, ecdf_distances
from shipyard.monitoring.drift.profile import ReferenceProfile, build_profile
from shipyard.monitoring.drift.report import ColumnQuality, DriftReport, FeatureDrift, QualityFinding
from shipyard.monitoring.drift.thresholds import DriftThresholds

__all__ = [
    "CategoricalProfile",
    "ColumnKind",
    "ColumnQuality",
    "DriftReport",
    "DriftThresholds",
    "FeatureDrift",
    "NumericProfile",
    "QualityFinding",
    "ReferenceProfile",
    "bin_counts",
    "build_profile",
    "chi_square",
    "compare",
    "detect_drift",
    "ecdf_distances",
    "js_distance",
    "psi",
    "quantile_edges",
]
