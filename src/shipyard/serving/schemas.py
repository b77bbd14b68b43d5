"""Shapes of recorded predictions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


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
    started_at: datetime
    ended_at: datetime
    latency_ms: float
