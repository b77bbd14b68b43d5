"""Request and response shapes of the review queue."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

OPEN_STATES = ("pending", "escalated")
DECIDED_STATES = ("approved", "corrected", "rejected")
STATE_FILTERS = ("open", "decided", "all", *OPEN_STATES, *DECIDED_STATES)
StateFilter = Literal["open", "decided", "all", "pending", "escalated", "approved", "corrected", "rejected"]


class ReviewRead(BaseModel):
    """A task as the queue lists it: no payload, so listing is not a read of anyone's data."""

    model_config = ConfigDict(from_attributes=True)

    request_id: str
    service: str
    version: int | None
    action: str = Field(description="hold: the caller waits for this decision; queue: already answered.")
    rule: str = Field(description="low_confidence, restricted_term, abstained or sample.")
    reason: str
    confidence: float | None
    state: str = Field(description="pending, escalated, approved, corrected or rejected.")
    assignee: str | None
    escalated_by: str | None
    escalation_note: str | None
    decided_by: str | None
    decided_at: datetime | None
    created_at: datetime


class ReviewDetail(ReviewRead):
    """One task with the call it is about. Reading it is audited (the payload may name people)."""

    caller: str
    inputs: Any
    output: Any = Field(
        description="What the model answered (for a held call: what the caller has not seen)."
    )
    outcome: str
    corrected_output: Any
    comment: str | None


class DecisionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["approve", "correct", "reject", "escalate"] = Field(
        description="approve: the answer stands; correct: replace it with `output`; reject: it is wrong "
        "and nothing is released; escalate: hand it to an approver or owner."
    )
    output: Any = Field(
        None,
        description="The corrected answer (with `correct` only); checked against the "
        "service's output schema.",
    )
    comment: str | None = Field(
        None, max_length=2000, description="Why; kept with the task, not in the audit."
    )

    @model_validator(mode="after")
    def _output_only_when_correcting(self) -> DecisionCreate:
        if self.action == "correct" and self.output is None:
            raise ValueError("a correction needs the corrected answer in `output`")
        if self.action != "correct" and "output" in self.model_fields_set:
            raise ValueError(f"`output` goes with the correct action, not {self.action}")
        if self.action == "escalate" and not (self.comment and self.comment.strip()):
            raise ValueError("say why in `comment` when escalating")
        return self


class ClaimCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    release: bool = Field(False, description="Give the task back to the queue instead of taking it.")
    force: bool = Field(False, description="Take it even when another reviewer holds it.")


class ReviewStatus(BaseModel):
    """What the caller of a reviewed call may know: the decision and, once released, the answer."""

    request_id: str
    service: str
    action: str
    state: str
    decided: bool
    output: Any = Field(
        description="The answer released to the caller: the model's when approved, the "
        "reviewer's when corrected; null while pending and when rejected."
    )
    decided_at: datetime | None


class BacklogRead(BaseModel):
    service: str
    open: int = Field(description="Tasks not decided yet (pending and escalated).")
    held: int = Field(description="Of those, calls whose caller is waiting for the answer.")
    escalated: int
    oldest_at: datetime | None
    oldest_age_s: float | None = Field(description="How long the oldest open task has waited, in seconds.")
    held_oldest_at: datetime | None = Field(description="When the oldest open held call was made.")
    held_oldest_age_s: float | None = Field(
        description="How long the caller of the oldest open held call has waited, in seconds (null "
        "when none is held)."
    )
