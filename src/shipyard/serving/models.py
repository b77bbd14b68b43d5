"""Recorded predictions, one row per call, shipped from the spool in batches."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shipyard.db.base import Base


class Prediction(Base):
    __tablename__ = "predictions"
    __table_args__ = (Index("ix_predictions_service_started", "service", "started_at"),)

    request_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    service: Mapped[str] = mapped_column(String(100))
    version_id: Mapped[str | None] = mapped_column(String(32))
    version: Mapped[int | None]
    caller: Mapped[str] = mapped_column(String(200))
    caller_kind: Mapped[str] = mapped_column(String(16))
    inputs: Mapped[Any | None]
    output: Mapped[Any | None]
    confidence: Mapped[float | None] = mapped_column(Float)
    outcome: Mapped[str] = mapped_column(String(20), index=True)
    error_code: Mapped[str | None] = mapped_column(String(50))
    error_detail: Mapped[str | None] = mapped_column(Text)
    fallback: Mapped[str | None] = mapped_column(String(200))  # the step that answered, when one did
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime]
    latency_ms: Mapped[float] = mapped_column(Float)
    # Cost of the call: model CPU time, and for LLM runtimes the tokens and their price (from config).
    cpu_ms: Mapped[float | None] = mapped_column(Float)
    tokens_in: Mapped[int | None]
    tokens_out: Mapped[int | None]
    cost: Mapped[float | None] = mapped_column(Float)
