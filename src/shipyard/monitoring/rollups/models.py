"""Metric rollups: one row per (resolution, service, version, bucket start), built from predictions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from shipyard.db.base import Base
from shipyard.monitoring.metrics import LATENCY_BUCKETS_S
from shipyard.serving.schemas import OUTCOMES

# The upper bounds (ms) of the latency histogram: those of `shipyard_call_latency_seconds`, so the
# rollups and Prometheus agree. A bucket counts calls in (previous bound, bound]; the last is over 30 s.
LATENCY_BOUNDS_MS: tuple[float, ...] = tuple(round(s * 1000, 6) for s in LATENCY_BUCKETS_S)
LATENCY_COLUMNS: tuple[str, ...] = tuple(f"lat_{i:02d}" for i in range(len(LATENCY_BOUNDS_MS) + 1))
# Additive columns: a coarser bucket is the sum of its finer ones (latency_max_ms is the max instead).
SUM_COLUMNS: tuple[str, ...] = (
    "calls",
    *OUTCOMES,
    *LATENCY_COLUMNS,
    "latency_sum_ms",
    "slow",
    "cpu_ms",
    "tokens_in",
    "tokens_out",
    "cost",
)
RESOLUTIONS: tuple[str, ...] = ("minute", "hour", "day")
NO_VERSION = 0  # calls refused before a version was chosen (paused, no live version)


class RollupBucket(Base):
    __tablename__ = "rollup_buckets"
    # Compaction and retention work on one resolution's time range across every service.
    __table_args__ = (Index("ix_rollup_buckets_resolution_start", "resolution", "start"),)

    resolution: Mapped[str] = mapped_column(String(6), primary_key=True)  # minute | hour | day
    service: Mapped[str] = mapped_column(String(100), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    start: Mapped[datetime] = mapped_column(primary_key=True)
    calls: Mapped[int] = mapped_column(default=0)
    served: Mapped[int] = mapped_column(default=0)
    abstained: Mapped[int] = mapped_column(default=0)
    fallback: Mapped[int] = mapped_column(default=0)
    held_for_review: Mapped[int] = mapped_column(default=0)
    rejected: Mapped[int] = mapped_column(default=0)
    shed: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    lat_00: Mapped[int] = mapped_column(default=0)
    lat_01: Mapped[int] = mapped_column(default=0)
    lat_02: Mapped[int] = mapped_column(default=0)
    lat_03: Mapped[int] = mapped_column(default=0)
    lat_04: Mapped[int] = mapped_column(default=0)
    lat_05: Mapped[int] = mapped_column(default=0)
    lat_06: Mapped[int] = mapped_column(default=0)
    lat_07: Mapped[int] = mapped_column(default=0)
    lat_08: Mapped[int] = mapped_column(default=0)
    lat_09: Mapped[int] = mapped_column(default=0)
    lat_10: Mapped[int] = mapped_column(default=0)
    lat_11: Mapped[int] = mapped_column(default=0)
    lat_12: Mapped[int] = mapped_column(default=0)
    lat_13: Mapped[int] = mapped_column(default=0)
    lat_14: Mapped[int] = mapped_column(default=0)
    latency_sum_ms: Mapped[float] = mapped_column(Float, default=0.0)
    latency_max_ms: Mapped[float] = mapped_column(Float, default=0.0)
    slow: Mapped[int] = mapped_column(default=0)  # calls slower than the service's latency SLO
    cpu_ms: Mapped[float] = mapped_column(Float, default=0.0)
    tokens_in: Mapped[int] = mapped_column(BigInteger, default=0)
    tokens_out: Mapped[int] = mapped_column(BigInteger, default=0)
    cost: Mapped[float] = mapped_column(Float, default=0.0)
