"""review tasks: held and queued predictions awaiting a person's decision

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import shipyard.db.base

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_UTC = shipyard.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "review_tasks",
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("service", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("rule", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("assignee", sa.String(length=200), nullable=True),
        sa.Column("escalated_by", sa.String(length=200), nullable=True),
        sa.Column("escalation_note", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", _UTC, nullable=True),
        sa.Column("corrected_output", _JSON, nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_review_tasks")),
    )
    op.create_index("ix_review_tasks_state_created", "review_tasks", ["state", "created_at"], unique=False)
    op.create_index("ix_review_tasks_service_state", "review_tasks", ["service", "state"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_review_tasks_service_state", table_name="review_tasks")
    op.drop_index("ix_review_tasks_state_created", table_name="review_tasks")
    op.drop_table("review_tasks")
