"""Drift monitoring's tables: reference data per model version, per-service thresholds, stored checks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shipyard.core.ids import new_id
from shipyard.db.base import Base


class DriftReference(Base):
    """The reference a version's live traffic is compared with: a profile, never the raw rows."""

    __tablename__ = "drift_references"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    service: Mapped[str] = mapped_column(String(100), index=True)
    version_id: Mapped[str] = mapped_column(String(32), unique=True)  # one reference per version
    version: Mapped[int]
    # {key: {"name", "role": input|output|confidence, "kind": numeric|categorical|text}}
    features: Mapped[dict[str, Any]]
    rows: Mapped[int]
    source: Mapped[str] = mapped_column(String(20))  # upload:csv | upload:jsonl | capture
    source_detail: Mapped[dict[str, Any]]  # the file's name, or the captured window
    profile: Mapped[str] = mapped_column(Text)  # JSON: the drift library's profile plus text embedders
    profile_bytes: Mapped[int]
    set_by: Mapped[str] = mapped_column(String(200))
    set_at: Mapped[datetime]


class DriftSetting(Base):
    """A service's own drift thresholds (what differs from DriftThresholds' defaults)."""

    __tablename__ = "drift_settings"

    service: Mapped[str] = mapped_column(String(100), primary_key=True)
    thresholds: Mapped[dict[str, Any]]
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime]


class DriftRun(Base):
    """One comparison of a live window of one version with its reference."""

    __tablename__ = "drift_runs"
    __table_args__ = (Index("ix_drift_runs_service_ran", "service", "ran_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    service: Mapped[str] = mapped_column(String(100))
    version_id: Mapped[str] = mapped_column(String(32))
    version: Mapped[int]
    reference_set_at: Mapped[datetime]
    reference_rows: Mapped[int]
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    ran_at: Mapped[datetime] = mapped_column(index=True)
    trigger: Mapped[str] = mapped_column(String(200))  # schedule, or who asked
    status: Mapped[str] = mapped_column(String(20))  # ok | insufficient_data
    live_rows: Mapped[int]
    drifted: Mapped[bool]
    drift_share: Mapped[float] = mapped_column(Float)  # of the input features evaluated
    features_evaluated: Mapped[int]
    features_drifted: Mapped[int]
    output_drifted: Mapped[bool | None]
    confidence_drifted: Mapped[bool | None]
    findings: Mapped[Any]  # a list of data-quality findings: [{column, kind, detail, share}]
    thresholds: Mapped[dict[str, Any]]


class DriftFeatureResult(Base):
    """One feature's statistic, decision and histograms in one run."""

    __tablename__ = "drift_feature_results"

    run_id: Mapped[str] = mapped_column(ForeignKey("drift_runs.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(12), primary_key=True)  # input | output | confidence
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))  # numeric | categorical | text
    statistic: Mapped[str] = mapped_column(String(30))  # the score charted: ks_statistic, js_distance
    value: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float | None] = mapped_column(Float)
    p_value: Mapped[float | None] = mapped_column(Float)
    psi: Mapped[float | None] = mapped_column(Float)
    drifted: Mapped[bool]
    evaluated: Mapped[bool]
    reason: Mapped[str] = mapped_column(Text)
    # {"labels": [...], "reference": [shares], "live": [shares]} for the page's chart
    histogram: Mapped[dict[str, Any] | None]
