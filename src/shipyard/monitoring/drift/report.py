"""What a comparison returns: per-feature results, data-quality findings, and the overall verdict."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from shipyard.core.errors import NotFound
from shipyard.monitoring.drift.columns import ColumnKind
from shipyard.monitoring.drift.thresholds import DriftThresholds

FindingKind = Literal[
    "column_missing",
    "column_added",
    "type_changed",
    "all_missing",
    "missing_increase",
    "out_of_range",
    "outside_declared_range",
    "unseen_categories",
]


@dataclass(frozen=True)
class FeatureDrift:
    """One feature's statistics, its drift decision and the reason for it in words.

    `statistics` holds, for a numeric feature, ks_statistic, ks_pvalue, psi, wasserstein and
    wasserstein_norm (Wasserstein over the reference's standard deviation; None when that is 0); for a
    categorical one, chi2_statistic, chi2_pvalue, chi2_dof, js_distance and psi. `evaluated` is False
    when the feature could not be compared (column missing, type changed, no live values); it then
    counts in the data-quality findings, not in the drift share.
    """

    name: str
    kind: ColumnKind
    drifted: bool
    reason: str
    evaluated: bool = True
    statistics: dict[str, float | int | None] = field(default_factory=dict)
    alpha: float | None = None
    reference_count: int = 0
    live_count: int = 0


@dataclass(frozen=True)
class ColumnQuality:
    """Data-quality measurements of one profiled column in the live window."""

    name: str
    kind: ColumnKind
    missing_share: float | None
    reference_missing_share: float
    out_of_range_share: float | None = None
    outside_declared_share: float | None = None
    unseen_share: float | None = None
    unseen_categories: int | None = None
    top_unseen: dict[str, int] | None = None


@dataclass(frozen=True)
class QualityFinding:
    """A data-quality problem worth an operator's attention, said in words."""

    column: str
    kind: FindingKind
    detail: str
    share: float | None = None


@dataclass(frozen=True)
class DriftReport:
    """The result of comparing one live window with a reference profile."""

    reference_rows: int
    live_rows: int
    features: tuple[FeatureDrift, ...]
    quality: tuple[ColumnQuality, ...]
    findings: tuple[QualityFinding, ...]
    thresholds: DriftThresholds

    @property
    def evaluated(self) -> tuple[FeatureDrift, ...]:
        """Features that could be compared."""
        return tuple(f for f in self.features if f.evaluated)

    @property
    def drifted_features(self) -> list[str]:
        """Names of the features flagged as drifted, in profile order."""
        return [f.name for f in self.features if f.drifted]

    @property
    def drift_share(self) -> float:
        """Drifted features over evaluated features (0 when none could be evaluated)."""
        evaluated = self.evaluated
        return sum(f.drifted for f in evaluated) / len(evaluated) if evaluated else 0.0

    @property
    def drifted(self) -> bool:
        """The overall flag: some feature drifted, and at least `min_drift_share` of them did."""
        return bool(self.drifted_features) and self.drift_share >= self.thresholds.min_drift_share

    @property
    def quality_ok(self) -> bool:
        """True when the live window raised no data-quality finding."""
        return not self.findings

    def feature(self, name: str) -> FeatureDrift:
        """The result for one feature by name."""
        for item in self.features:
            if item.name == name:
                return item
        raise NotFound(f"no feature {name!r} in this drift report")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the whole report, for storage."""
        return {
            "reference_rows": self.reference_rows,
            "live_rows": self.live_rows,
            "drifted": self.drifted,
            "drift_share": self.drift_share,
            "drifted_features": self.drifted_features,
            "quality_ok": self.quality_ok,
            "features": [asdict(f) for f in self.features],
            "quality": [asdict(q) for q in self.quality],
            "findings": [asdict(f) for f in self.findings],
            "thresholds": asdict(self.thresholds),
        }
