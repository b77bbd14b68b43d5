"""Request and response shapes for batch jobs and their dead letters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

QUEUED, RUNNING, PAUSED = "queued", "running", "paused"
SUCCEEDED, FAILED, CANCELLED, COMPLETED_WITH_ERRORS = (
    "succeeded",
    "failed",
    "cancelled",
    "completed_with_errors",
)
ACTIVE = frozenset({QUEUED, RUNNING, PAUSED})
FINAL = frozenset({SUCCEEDED, FAILED, CANCELLED, COMPLETED_WITH_ERRORS})
STATUSES = (QUEUED, RUNNING, PAUSED, SUCCEEDED, FAILED, CANCELLED, COMPLETED_WITH_ERRORS)

# Dead letter states: waiting for a retry request, queued for one, or scored on a retry.
DL_OPEN, DL_RETRYING, DL_RESOLVED = "open", "retrying", "resolved"
UNPARSABLE = "unparsable"  # the dead letter code of a row that could not be read from the file


class JobRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    service: str
    status: str = Field(description=" | ".join(STATUSES))
    submitted_by: str
    run_as: str = Field(description="The principal the rows are scored as.")
    input_format: str
    input_name: str
    input_sha256: str
    input_bytes: int
    total_rows: int
    rows_done: int = Field(description="Rows of the file scored or dead-lettered so far (the checkpoint).")
    succeeded: int = Field(description="Rows answered, including by a fallback.")
    failed: int = Field(description="Rows in the dead-letter store that no retry has resolved.")
    fallback: int = Field(description="Of the succeeded rows, those a fallback answered.")
    retrying: int = Field(0, description="Dead letters queued for a retry.")
    progress: float = Field(description="rows_done / total_rows, 0 to 1.")
    error: str | None = Field(description="Why the job failed, or why it is paused.")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    updated_at: datetime


class DeadLetterRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    row_number: int
    status: str = Field(description="open | retrying | resolved")
    error_code: str
    reason: str
    attempts: int
    retried: bool
    request_id: str | None = Field(description="The latest attempt's prediction record, if it has one.")
    inputs: Any = None
    raw: str | None = Field(None, description="The row's text, when it could not be parsed.")
    updated_at: datetime


class RetryRequest(BaseModel):
    rows: list[int] | None = Field(
        None, description="Row numbers to retry; all open dead letters when omitted.", max_length=100_000
    )


class RetryResult(BaseModel):
    job: JobRead
    queued: list[int] = Field(description="Rows queued for a retry.")
    skipped: list[int] = Field(description="Rows that could not be parsed; fix the file and submit it again.")
