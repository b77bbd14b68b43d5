"""runtime policy per service, batching per version, fallback per prediction

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.add_column(sa.Column("policy", _JSON, nullable=False, server_default=sa.text("'{}'")))
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("supports_batching", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fallback", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.drop_column("fallback")
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.drop_column("supports_batching")
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_column("policy")
