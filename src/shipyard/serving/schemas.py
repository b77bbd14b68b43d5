"""Shapes of recorded predictions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# What can happen to a call (DESIGN.md, "outcome"); every record carries one.
OUTCOMES: tuple[str, ...] = (
    "served",
    "abstained",
    "fallback",
    "held_for_review",
    "rejected",
    "shed",
    "failed",
)


class PredictionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    request_id: str
    service: str
    version: int | None
    caller: str
    caller_kind: str
    inputs: Any
    output: Any
    confidence: float | None
    outcome: str
    error_code: str | None
    error_detail: str | None
    fallback: str | None = None
    started_at: datetime
    ended_at: datetime
    latency_ms: float


class BreakerRead(BaseModel):
    state: str = Field(description="closed, open or half_open")
    consecutive_failures: int
    opened_for_s: float | None
    retry_in_s: float | None
    last_failure: str | None
    opened_total: int


class VersionRuntimeRead(BaseModel):
    version: int
    role: str = Field(description="live or fallback")
    loaded: bool
    breaker: BreakerRead
    in_flight: int
    queued: int
    shed_total: int
    max_concurrency: int
    max_queue: int
    batching: bool
    batches_total: int
    mean_batch_size: float | None
    isolation: dict[str, Any] | None = Field(None, description="Worker processes, when isolated.")


class RecorderRead(BaseModel):
    backlog_records: int
    backlog_bytes: int
    cap_bytes: int
    shipping_error: str | None
    last_trouble: str | None


class RuntimeRead(BaseModel):
    service: str
    pid: int
    versions: list[VersionRuntimeRead]
    recorder: RecorderRead
