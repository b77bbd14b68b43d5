"""Batch jobs, their dead letters, and the rows that needed a fresh request id."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shipyard.core.ids import new_id
from shipyard.db.base import Base


class BatchJob(Base):
    __tablename__ = "batch_jobs"
    __table_args__ = (Index("ix_batch_jobs_status_lease", "status", "lease_expires_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    service: Mapped[str] = mapped_column(String(100), index=True)
    submitted_by: Mapped[str] = mapped_column(String(200))
    # The submitter as a principal (no secrets); re-checked against its user or key at every claim.
    run_as: Mapped[dict[str, Any]]
    input_format: Mapped[str] = mapped_column(String(10))  # csv | jsonl
    input_name: Mapped[str] = mapped_column(String(255), default="")
    input_sha256: Mapped[str] = mapped_column(String(64))  # the file in the artifact store
    input_bytes: Mapped[int] = mapped_column(BigInteger)
    total_rows: Mapped[int]
    # The checkpoint: the next row to score and the byte offset where it starts.
    next_row: Mapped[int] = mapped_column(default=1)
    next_offset: Mapped[int] = mapped_column(BigInteger, default=0)
    succeeded: Mapped[int] = mapped_column(default=0)  # rows answered (served, fallback, held, ...)
    failed: Mapped[int] = mapped_column(default=0)  # rows in the dead-letter store, not resolved
    fallback: Mapped[int] = mapped_column(default=0)  # of the succeeded, answered by a fallback
    status: Mapped[str] = mapped_column(String(24), default="queued")
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)  # why it failed, or why it is paused
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class DeadLetter(Base):
    """A row that could not be scored, with the reason; retried on request."""

    __tablename__ = "batch_dead_letters"

    job_id: Mapped[str] = mapped_column(ForeignKey("batch_jobs.id", ondelete="CASCADE"), primary_key=True)
    row_number: Mapped[int] = mapped_column(primary_key=True)
    inputs: Mapped[Any | None]  # what was sent to the model; None when the row could not be parsed
    raw: Mapped[str | None] = mapped_column(Text)  # the row's text when it could not be parsed
    error_code: Mapped[str] = mapped_column(String(50))
    reason: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=1)
    last_attempt: Mapped[int] = mapped_column(default=0)  # suffix of the latest request id
    request_id: Mapped[str | None] = mapped_column(String(64))  # of the latest attempt
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | retrying | resolved
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class RowAttempt(Base):
    """A row that was turned away (shed, rate-limited, unavailable) under its request id: that id now
    holds the refusal's record, so the row's next call uses `attempt` as a suffix. Persisted before
    the next call, so a job resumed after a crash reuses the same ids and records each call once."""

    __tablename__ = "batch_row_attempts"

    job_id: Mapped[str] = mapped_column(ForeignKey("batch_jobs.id", ondelete="CASCADE"), primary_key=True)
    row_number: Mapped[int] = mapped_column(primary_key=True)
    attempt: Mapped[int]
