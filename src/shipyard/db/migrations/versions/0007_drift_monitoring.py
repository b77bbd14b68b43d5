"""drift monitoring: reference profiles per version, per-service thresholds, stored checks

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import shipyard.db.base

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_UTC = shipyard.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "drift_references",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("service", sa.String(length=100), nullable=False),
        sa.Column("version_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("features", _JSON, nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("source_detail", _JSON, nullable=False),
        sa.Column("profile", sa.Text(), nullable=False),
        sa.Column("profile_bytes", sa.Integer(), nullable=False),
        sa.Column("set_by", sa.String(length=200), nullable=False),
        sa.Column("set_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drift_references")),
        sa.UniqueConstraint("version_id", name=op.f("uq_drift_references_version_id")),
    )
    with op.batch_alter_table("drift_references", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_drift_references_service"), ["service"], unique=False)

    op.create_table(
        "drift_settings",
        sa.Column("service", sa.String(length=100), nullable=False),
        sa.Column("thresholds", _JSON, nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("service", name=op.f("pk_drift_settings")),
    )

    op.create_table(
        "drift_runs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("service", sa.String(length=100), nullable=False),
        sa.Column("version_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("reference_set_at", _UTC, nullable=False),
        sa.Column("reference_rows", sa.Integer(), nullable=False),
        sa.Column("window_start", _UTC, nullable=False),
        sa.Column("window_end", _UTC, nullable=False),
        sa.Column("ran_at", _UTC, nullable=False),
        sa.Column("trigger", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("live_rows", sa.Integer(), nullable=False),
        sa.Column("drifted", sa.Boolean(), nullable=False),
        sa.Column("drift_share", sa.Float(), nullable=False),
        sa.Column("features_evaluated", sa.Integer(), nullable=False),
        sa.Column("features_drifted", sa.Integer(), nullable=False),
        sa.Column("output_drifted", sa.Boolean(), nullable=True),
        sa.Column("confidence_drifted", sa.Boolean(), nullable=True),
        sa.Column("findings", _JSON, nullable=False),
        sa.Column("thresholds", _JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drift_runs")),
    )
    with op.batch_alter_table("drift_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_drift_runs_ran_at"), ["ran_at"], unique=False)
        batch_op.create_index("ix_drift_runs_service_ran", ["service", "ran_at"], unique=False)

    op.create_table(
        "drift_feature_results",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("statistic", sa.String(length=30), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("p_value", sa.Float(), nullable=True),
        sa.Column("psi", sa.Float(), nullable=True),
        sa.Column("drifted", sa.Boolean(), nullable=False),
        sa.Column("evaluated", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("histogram", _JSON, nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["drift_runs.id"],
            name=op.f("fk_drift_feature_results_run_id_drift_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "role", "name", name=op.f("pk_drift_feature_results")),
    )


def downgrade() -> None:
    op.drop_table("drift_feature_results")
    with op.batch_alter_table("drift_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_drift_runs_service_ran")
        batch_op.drop_index(batch_op.f("ix_drift_runs_ran_at"))
    op.drop_table("drift_runs")
    op.drop_table("drift_settings")
    with op.batch_alter_table("drift_references", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_drift_references_service"))
    op.drop_table("drift_references")
