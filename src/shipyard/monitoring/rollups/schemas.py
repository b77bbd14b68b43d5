"""Shapes of rollup data: totals over a range, and one bucket of a series."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

Resolution = Literal["minute", "hour", "day"]


class Totals(BaseModel):
    """Calls over a time range, merged from rollup buckets (exact: counts and histograms add up)."""

    calls: int = 0
    outcomes: dict[str, int] = Field(
        default_factory=dict,
        description="Calls by outcome: served, abstained, fallback, held_for_review, rejected, shed, failed.",
    )
    errors: int = Field(0, description="Calls that failed (outcome `failed`): the service's fault.")
    slow: int = Field(0, description="Calls slower than the service's latency SLO when they were rolled up.")
    latency_buckets: list[int] = Field(
        default_factory=list,
        description="Calls per latency bucket; upper bounds in `latency_bounds_ms`, the last is unbounded.",
    )
    latency_bounds_ms: list[float] = Field(default_factory=list)
    latency_sum_ms: float = 0.0
    latency_max_ms: float = 0.0
    p50_ms: float | None = Field(
        None, description="Interpolated within the histogram bucket; None: no calls."
    )
    p95_ms: float | None = None
    p99_ms: float | None = None
    cpu_ms: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float = 0.0

    @property
    def mean_ms(self) -> float | None:
        return self.latency_sum_ms / self.calls if self.calls else None


class Bucket(Totals):
    """One bucket of a series: the calls that started in [start, start + resolution)."""

    start: datetime
    resolution: Resolution
    version: int | None = Field(None, description="None: every version together; 0: calls with no version.")


class RollupSeries(BaseModel):
    service: str
    version: int | None
    resolution: Resolution
    start: datetime
    end: datetime
    buckets: list[Bucket]
    totals: Totals
