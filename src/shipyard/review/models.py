"""Feedback on predictions, ground-truth labels, and how a service's output is compared to a label."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shipyard.core.ids import new_id
from shipyard.db.base import Base


class Feedback(Base):
    """A user's flag on one prediction, with an optional correct answer. Several may arrive per call."""

    __tablename__ = "feedback"
    __table_args__ = (Index("ix_feedback_service_predicted", "service", "predicted_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    request_id: Mapped[str] = mapped_column(String(64), index=True)
    # Copied from the prediction, so accuracy windows and versions need no join with predictions.
    service: Mapped[str] = mapped_column(String(100))
    version: Mapped[int | None]
    predicted_at: Mapped[datetime]
    flag: Mapped[str] = mapped_column(String(20))  # correct | wrong | unclear | outdated | out_of_scope
    label: Mapped[Any | None]  # the correct answer, when the user gave one
    comment: Mapped[str | None] = mapped_column(Text)
    given_by: Mapped[str] = mapped_column(String(200))
    given_by_kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]


class Label(Base):
    """The ground truth for one prediction (e.g. a claim's final decision), uploaded later in bulk."""

    __tablename__ = "labels"
    __table_args__ = (Index("ix_labels_service_predicted", "service", "predicted_at"),)

    request_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    service: Mapped[str] = mapped_column(String(100))
    version: Mapped[int | None]
    predicted_at: Mapped[datetime]
    label: Mapped[Any]
    labelled_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class QualitySettings(Base):
    """How a service's outputs are compared to labels: the whole output, or one field of it."""

    __tablename__ = "quality_settings"

    service: Mapped[str] = mapped_column(String(100), primary_key=True)
    label_field: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[datetime]
