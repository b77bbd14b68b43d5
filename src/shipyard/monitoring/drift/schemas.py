"""Request and response shapes for drift monitoring."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Verdict = Literal["ok", "drift", "insufficient_data"]


class ReferenceRead(BaseModel):
    service: str
    version: int
    rows: int
    source: str
    source_detail: dict[str, Any]
    features: dict[str, dict[str, str]] = Field(
        description="key -> name, role (input/output/confidence), kind"
    )
    profile_bytes: int
    set_by: str
    set_at: datetime


class CaptureRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: datetime = Field(description="window start (inclusive), with a time zone")
    end: datetime = Field(description="window end (exclusive), with a time zone")
    kinds: dict[str, Literal["numeric", "categorical", "text"]] = Field(
        default_factory=dict, description="override the inferred kind of fields by name"
    )


class ThresholdsUpdate(BaseModel):
    """The service's thresholds; a field left out keeps the default (see docs/drift.md)."""

    model_config = ConfigDict(extra="forbid")

    alpha: float | None = None
    correction: Literal["bonferroni", "none"] | None = None
    ks_statistic: float | None = None
    psi: float | None = None
    js_distance: float | None = None
    min_drift_share: float | None = None
    missing_increase: float | None = None
    out_of_range_share: float | None = None
    unseen_share: float | None = None


class ThresholdsRead(BaseModel):
    service: str
    thresholds: dict[str, Any] = Field(description="in force: the service's own values over the defaults")
    overrides: dict[str, Any] = Field(description="what the service sets itself")
    updated_by: str | None = None
    updated_at: datetime | None = None


class FeatureRead(BaseModel):
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


class RunRead(BaseModel):
    id: str
    service: str
    version: int
    verdict: Verdict
    window_start: datetime
    window_end: datetime
    ran_at: datetime
    trigger: str
    live_rows: int
    reference_rows: int
    reference_set_at: datetime
    drifted: bool
    drift_share: float
    features_evaluated: int
    features_drifted: int
    output_drifted: bool | None
    confidence_drifted: bool | None
    findings: list[dict[str, Any]]
    thresholds: dict[str, Any]
    features: list[FeatureRead] | None = None


class DriftRead(BaseModel):
    service: str
    latest: list[RunRead] = Field(
        description="the latest run of each version with a reference, with features"
    )
    history: list[RunRead] = Field(description="earlier runs, newest first, without features")
    references: list[ReferenceRead]
