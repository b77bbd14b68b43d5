"""metric rollups: per-minute buckets of recorded calls, compacted into hours and days

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import shipyard.db.base

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rollup_buckets",
        sa.Column("resolution", sa.String(length=6), nullable=False),
        sa.Column("service", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("start", shipyard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("served", sa.Integer(), nullable=False),
        sa.Column("abstained", sa.Integer(), nullable=False),
        sa.Column("fallback", sa.Integer(), nullable=False),
        sa.Column("held_for_review", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("shed", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("lat_00", sa.Integer(), nullable=False),
        sa.Column("lat_01", sa.Integer(), nullable=False),
        sa.Column("lat_02", sa.Integer(), nullable=False),
        sa.Column("lat_03", sa.Integer(), nullable=False),
        sa.Column("lat_04", sa.Integer(), nullable=False),
        sa.Column("lat_05", sa.Integer(), nullable=False),
        sa.Column("lat_06", sa.Integer(), nullable=False),
        sa.Column("lat_07", sa.Integer(), nullable=False),
        sa.Column("lat_08", sa.Integer(), nullable=False),
        sa.Column("lat_09", sa.Integer(), nullable=False),
        sa.Column("lat_10", sa.Integer(), nullable=False),
        sa.Column("lat_11", sa.Integer(), nullable=False),
        sa.Column("lat_12", sa.Integer(), nullable=False),
        sa.Column("lat_13", sa.Integer(), nullable=False),
        sa.Column("lat_14", sa.Integer(), nullable=False),
        sa.Column("latency_sum_ms", sa.Float(), nullable=False),
        sa.Column("latency_max_ms", sa.Float(), nullable=False),
        sa.Column("slow", sa.Integer(), nullable=False),
        sa.Column("cpu_ms", sa.Float(), nullable=False),
        sa.Column("tokens_in", sa.BigInteger(), nullable=False),
        sa.Column("tokens_out", sa.BigInteger(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("resolution", "service", "version", "start", name=op.f("pk_rollup_buckets")),
    )
    op.create_index(
        "ix_rollup_buckets_resolution_start", "rollup_buckets", ["resolution", "start"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_rollup_buckets_resolution_start", table_name="rollup_buckets")
    op.drop_table("rollup_buckets")
