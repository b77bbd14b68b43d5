"""Request and response shapes for policy documents."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

DOC_KEY = r"^[a-z0-9](?:[a-z0-9._-]{0,118}[a-z0-9])?$"
STATUSES = ("active", "pending", "superseded", "withdrawn", "duplicate")


class DocumentMeta(BaseModel):
    """What the uploader says about a file; the rest is read from the file itself."""

    model_config = ConfigDict(extra="forbid")

    insurer: str = Field(min_length=1, max_length=120, description="The insurer the policy belongs to.")
    topic: str = Field(min_length=1, max_length=120, description="e.g. imaging/mri, therapy/pt, claims.")
    effective_date: date = Field(description="The day this version comes into force.")
    doc_key: str | None = Field(
        None,
        pattern=DOC_KEY,
        description="The policy this file is a version of. A new version of an existing key supersedes "
        "the one in force. Default: derived from the insurer and the title.",
    )
    version: str | None = Field(None, min_length=1, max_length=40, description="Default: the effective date.")
    title: str | None = Field(None, min_length=1, max_length=300, description="Default: read from the file.")


class ProblemRead(BaseModel):
    code: str
    message: str
    page: int | None = None


class DocumentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    doc_key: str
    version: str
    title: str
    insurer: str
    topic: str
    effective_date: date
    status: str
    superseded_by: str | None
    duplicate_of: str | None
    status_reason: str | None
    filename: str
    format: str
    size_bytes: int
    file_sha256: str
    page_count: int
    ocr_pages: int
    problems: list[ProblemRead]
    passages: int = 0
    uploaded_by: str
    uploaded_at: datetime
    updated_at: datetime


class UploadResult(BaseModel):
    """One file's outcome. A duplicate is reported, not stored twice and never indexed twice."""

    filename: str
    outcome: str = Field(description="stored | duplicate")
    document: DocumentRead | None = None
    duplicate_of: DocumentRead | None = None
    superseded: list[str] = Field(default_factory=list, description="Ids of versions this one replaced.")
    problems: list[ProblemRead] = Field(default_factory=list)


class WithdrawRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=500)


class PassageRead(BaseModel):
    id: str
    index: int
    page: int
    kind: str
    heading: str | None
    text: str


class CorpusRead(BaseModel):
    """The set of documents answers may come from: its snapshot id changes whenever that set changes."""

    snapshot: str
    active_documents: int
    passages: int
    by_status: dict[str, int]
