"""The review queue's table: one task per prediction that a person must check."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shipyard.db.base import Base


class ReviewTask(Base):
    """A person's task on one prediction: approve, correct, reject or escalate it.

    Created by the recorder's sink in the same transaction as its prediction, so a held call always has
    its task and never two. `held` calls had their answer withheld until the decision.
    """

    __tablename__ = "review_tasks"
    __table_args__ = (
        Index("ix_review_tasks_state_created", "state", "created_at"),
        Index("ix_review_tasks_service_state", "service", "state"),
    )

    request_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    service: Mapped[str] = mapped_column(String(100))
    version: Mapped[int | None]
    action: Mapped[str] = mapped_column(String(10))  # hold | queue
    rule: Mapped[str] = mapped_column(String(20))  # low_confidence | restricted_term | abstained | sample
    reason: Mapped[str] = mapped_column(Text)
    confidence: Mapped[float | None] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(12))  # pending | escalated | approved | corrected | rejected
    assignee: Mapped[str | None] = mapped_column(String(200))
    escalated_by: Mapped[str | None] = mapped_column(String(200))
    escalation_note: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None]
    corrected_output: Mapped[Any | None]
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]  # the call's start, so the queue's age is the caller's wait
