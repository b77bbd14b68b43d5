"""feedback on predictions, ground-truth labels, quality settings per service

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import shipyard.db.base

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("service", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("predicted_at", shipyard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("flag", sa.String(length=20), nullable=False),
        sa.Column("label", _JSON, nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("given_by", sa.String(length=200), nullable=False),
        sa.Column("given_by_kind", sa.String(length=16), nullable=False),
        sa.Column("created_at", shipyard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback")),
    )
    op.create_index(op.f("ix_feedback_request_id"), "feedback", ["request_id"], unique=False)
    op.create_index("ix_feedback_service_predicted", "feedback", ["service", "predicted_at"], unique=False)
    op.create_table(
        "labels",
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("service", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("predicted_at", shipyard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("label", _JSON, nullable=False),
        sa.Column("labelled_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", shipyard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", shipyard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_labels")),
    )
    op.create_index("ix_labels_service_predicted", "labels", ["service", "predicted_at"], unique=False)
    op.create_table(
        "quality_settings",
        sa.Column("service", sa.String(length=100), nullable=False),
        sa.Column("label_field", sa.String(length=100), nullable=True),
        sa.Column("updated_at", shipyard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("service", name=op.f("pk_quality_settings")),
    )


def downgrade() -> None:
    op.drop_table("quality_settings")
    op.drop_index("ix_labels_service_predicted", table_name="labels")
    op.drop_table("labels")
    op.drop_index("ix_feedback_service_predicted", table_name="feedback")
    op.drop_index(op.f("ix_feedback_request_id"), table_name="feedback")
    op.drop_table("feedback")
