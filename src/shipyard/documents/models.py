"""Policy documents and their passages.

A document is one uploaded version of one policy (`doc_key`); uploading a newer version of the same
policy supersedes the older one. The file itself lives encrypted in the vault, addressed by the sha256
of its plaintext; passage text is encrypted in the table too, so nothing readable of a document sits
at rest. Embeddings are kept in clear: they are needed to build the index and do not hold the text.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shipyard.core.ids import new_id
from shipyard.db.base import Base


class PolicyDocument(Base):
    __tablename__ = "policy_documents"
    __table_args__ = (
        Index("ix_policy_documents_key_status", "doc_key", "status"),
        Index("ix_policy_documents_fingerprint", "text_fingerprint"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: "doc_" + new_id())
    doc_key: Mapped[str] = mapped_column(String(120))  # the policy, across its versions
    version: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(300))
    insurer: Mapped[str] = mapped_column(String(120), index=True)
    topic: Mapped[str] = mapped_column(String(120))
    effective_date: Mapped[date]
    status: Mapped[str] = mapped_column(String(16))  # active | superseded | withdrawn | duplicate
    superseded_by: Mapped[str | None] = mapped_column(String(32))
    duplicate_of: Mapped[str | None] = mapped_column(String(32))  # near duplicates are kept, not indexed
    status_reason: Mapped[str | None] = mapped_column(Text)
    filename: Mapped[str] = mapped_column(String(255))
    format: Mapped[str] = mapped_column(String(16))  # pdf | docx | html | markdown | text
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    file_sha256: Mapped[str] = mapped_column(String(64), index=True)  # the plaintext file, in the vault
    text_fingerprint: Mapped[str] = mapped_column(String(64))  # normalised text, for exact duplicates
    signature: Mapped[bytes] = mapped_column(LargeBinary)  # MinHash, for near duplicates
    page_count: Mapped[int]
    ocr_pages: Mapped[int] = mapped_column(default=0)
    problems: Mapped[Any]  # what ingestion found: a list of {code, message, page}
    uploaded_by: Mapped[str] = mapped_column(String(200))
    uploaded_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class DocumentPassage(Base):
    """One citable passage of a document: its page, heading and (encrypted) text, and its embedding."""

    __tablename__ = "document_passages"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # "{document id}:{index}"
    document_id: Mapped[str] = mapped_column(
        ForeignKey("policy_documents.id", ondelete="CASCADE"), index=True
    )
    index: Mapped[int]
    page: Mapped[int]
    kind: Mapped[str] = mapped_column(String(16))  # prose | table_row | list_item
    heading: Mapped[bytes | None] = mapped_column(LargeBinary)  # encrypted
    text: Mapped[bytes] = mapped_column(LargeBinary)  # encrypted
    embedding: Mapped[bytes] = mapped_column(LargeBinary)  # float32, L2-normalised
