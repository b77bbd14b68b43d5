"""Request and response shapes for feedback, labels and accuracy."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

FLAGS = ("correct", "wrong", "unclear", "outdated", "out_of_scope")
Flag = Literal["correct", "wrong", "unclear", "outdated", "out_of_scope"]
MAX_LABELS_PER_UPLOAD = 10_000


class FeedbackCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flag: Flag = Field(description="correct, wrong, unclear, outdated or out_of_scope")
    label: Any | None = Field(
        None, description="The correct answer, compared with the output (or its label field) for accuracy."
    )
    comment: str | None = Field(None, max_length=2000)


class FeedbackRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    request_id: str
    service: str
    version: int | None
    flag: str
    label: Any | None
    comment: str | None
    given_by: str
    created_at: datetime


class LabelsUpload(BaseModel):
    labels: list[Any] = Field(
        description='Items {"request_id": "req_…", "label": …}; each is checked on its own.',
        max_length=MAX_LABELS_PER_UPLOAD,
    )


class LabelError(BaseModel):
    index: int = Field(description="Position of the item in the list (0-based).")
    request_id: str | None
    code: str = Field(description="bad_item, unknown_request_id, other_service or duplicate")
    message: str


class LabelsResult(BaseModel):
    accepted: int = Field(description="Items stored (new labels plus replaced ones).")
    replaced: int = Field(description="Of the accepted, labels that replaced an earlier one.")
    errors: list[LabelError]


class QualityUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label_field: str | None = Field(
        None,
        max_length=100,
        description="Compare labels with output[label_field]; null compares the whole output.",
    )


class QualityRead(BaseModel):
    service: str
    label_field: str | None


class AccuracyRead(BaseModel):
    version: int | None
    correct: int
    labelled: int
    accuracy: float | None = Field(description="correct / labelled; null when nothing is labelled.")


class DailyAccuracyRead(AccuracyRead):
    day: date


class AccuracyReport(BaseModel):
    service: str
    start: datetime
    end: datetime
    label_field: str | None
    overall: AccuracyRead
    versions: list[AccuracyRead]
    daily: list[DailyAccuracyRead]
