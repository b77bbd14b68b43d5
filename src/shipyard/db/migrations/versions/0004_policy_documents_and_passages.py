"""policy documents and passages

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import shipyard.db.base

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "policy_documents",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("doc_key", sa.String(length=120), nullable=False),
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("insurer", sa.String(length=120), nullable=False),
        sa.Column("topic", sa.String(length=120), nullable=False),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("superseded_by", sa.String(length=32), nullable=True),
        sa.Column("duplicate_of", sa.String(length=32), nullable=True),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("text_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("page_count", sa.Integer(), nullable=False),
        sa.Column("ocr_pages", sa.Integer(), nullable=False),
        sa.Column("problems", _JSON, nullable=False),
        sa.Column("uploaded_by", sa.String(length=200), nullable=False),
        sa.Column("uploaded_at", shipyard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", shipyard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_documents")),
    )
    with op.batch_alter_table("policy_documents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_policy_documents_file_sha256"), ["file_sha256"], unique=False)
        batch_op.create_index("ix_policy_documents_fingerprint", ["text_fingerprint"], unique=False)
        batch_op.create_index(batch_op.f("ix_policy_documents_insurer"), ["insurer"], unique=False)
        batch_op.create_index("ix_policy_documents_key_status", ["doc_key", "status"], unique=False)

    op.create_table(
        "document_passages",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("document_id", sa.String(length=32), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("page", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("heading", sa.LargeBinary(), nullable=True),
        sa.Column("text", sa.LargeBinary(), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["policy_documents.id"],
            name=op.f("fk_document_passages_document_id_policy_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_passages")),
    )
    with op.batch_alter_table("document_passages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_document_passages_document_id"), ["document_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("document_passages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_document_passages_document_id"))

    op.drop_table("document_passages")
    with op.batch_alter_table("policy_documents", schema=None) as batch_op:
        batch_op.drop_index("ix_policy_documents_key_status")
        batch_op.drop_index(batch_op.f("ix_policy_documents_insurer"))
        batch_op.drop_index("ix_policy_documents_fingerprint")
        batch_op.drop_index(batch_op.f("ix_policy_documents_file_sha256"))

    op.drop_table("policy_documents")
