"""Policy documents: store an upload, settle which version of each policy is in force, withdraw, read.

Every state change and every read of a document's content is audited in the caller's transaction, and
bumps the `documents` change topic so each process's corpus index rebuilds without a restart.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from shipyard.documents.ingest import Prepared

from shipyard.audit.service import Actor, record
from shipyard.core.errors import Conflict, NotFound
from shipyard.db.changes import bump
from shipyard.documents.models import DocumentPassage, PolicyDocument
from shipyard.documents.schemas import DocumentRead, PassageRead, ProblemRead, UploadResult
from shipyard.documents.vault import DocumentVault

TOPIC = "documents"
ACTIVE, PENDING, SUPERSEDED, WITHDRAWN, DUPLICATE = (
    "active",
    "pending",
    "superseded",
    "withdrawn",
    "duplicate",
)
# MinHash similarity (word 5-shingles) above which a file is the same policy re-typeset. Distinct
# policies of one insurer in the demo corpus stay below 0.4 and successive versions below 0.82. A file
# that claims to be a version already stored only needs to be mostly the same text: a short document
# re-wrapped with a new header line scores about 0.8.
NEAR_DUPLICATE = 0.85
SAME_VERSION_DUPLICATE = 0.6


def to_read(session: Session, doc: PolicyDocument) -> DocumentRead:
    read = DocumentRead.model_validate(doc)
    read.passages = (
        session.scalar(
            select(func.count()).select_from(DocumentPassage).where(DocumentPassage.document_id == doc.id)
        )
        or 0
    )
    return read


def _summary(doc: PolicyDocument) -> dict[str, object]:
    return {
        "doc_key": doc.doc_key,
        "version": doc.version,
        "insurer": doc.insurer,
        "status": doc.status,
        "effective_date": doc.effective_date.isoformat(),
        "file_sha256": doc.file_sha256,
    }


def store(session: Session, actor: Actor, vault: DocumentVault, prepared: Prepared) -> UploadResult:
    """Store a prepared upload: refuse exact duplicates, keep near duplicates unindexed, settle versions."""
    problems = [ProblemRead.model_validate(p) for p in prepared.problems]
    # A withdrawn document is out of use: uploading it (or its version) again is how a mistake is
    # corrected, so it counts neither as a duplicate nor as a taken version.
    same = session.scalars(
        select(PolicyDocument).where(
            (PolicyDocument.text_fingerprint == prepared.fingerprint)
            | (PolicyDocument.file_sha256 == hashlib.sha256(prepared.data).hexdigest()),
            PolicyDocument.status != WITHDRAWN,
        )
    ).first()
    if same is not None:
        # Nothing is written; the audit still says someone tried, so the trail explains the report.
        record(
            session, actor, "document.duplicate", "document", same.id, after={"filename": prepared.filename}
        )
        return UploadResult(
            filename=prepared.filename,
            outcome="duplicate",
            duplicate_of=to_read(session, same),
            problems=problems,
        )
    twin = _near_duplicate(session, prepared)
    if twin is None and session.scalar(
        select(PolicyDocument.id).where(
            PolicyDocument.doc_key == prepared.doc_key,
            PolicyDocument.version == prepared.version,
            PolicyDocument.status != WITHDRAWN,
        )
    ):
        raise Conflict(
            f"{prepared.doc_key} already has a version {prepared.version!r}; give the file another version",
            code="version_exists",
        )
    now = actor.clock.now()
    doc = PolicyDocument(
        doc_key=prepared.doc_key,
        version=prepared.version,
        title=prepared.title,
        insurer=prepared.meta.insurer,
        topic=prepared.meta.topic,
        effective_date=prepared.meta.effective_date,
        status=PENDING,  # settled below
        filename=prepared.filename,
        format=prepared.extracted.format,
        size_bytes=len(prepared.data),
        file_sha256=vault.put(prepared.data),
        text_fingerprint=prepared.fingerprint,
        signature=prepared.signature,
        page_count=len(prepared.extracted.pages),
        ocr_pages=sum(1 for p in prepared.extracted.pages if p.source == "ocr"),
        problems=[p.model_dump() for p in problems],
        uploaded_by=actor.name,
        uploaded_at=now,
        updated_at=now,
    )
    if twin is not None:
        doc.status, doc.duplicate_of = DUPLICATE, twin.id
        doc.status_reason = (
            f"near duplicate of {twin.doc_key} version {twin.version} ({twin.id}); not indexed"
        )
        problems.append(ProblemRead(code="near_duplicate", message=doc.status_reason))
        doc.problems = [p.model_dump() for p in problems]
    session.add(doc)
    session.flush()
    if twin is None:
        _add_passages(session, vault, doc, prepared)
    changed = settle(session, actor, prepared.doc_key, uploaded=doc.id) if twin is None else []
    record(
        session,
        actor,
        "document.upload",
        "document",
        doc.id,
        after=_summary(doc) | {"problems": len(problems)},
    )
    bump(session, TOPIC)
    return UploadResult(
        filename=prepared.filename,
        outcome="stored",
        document=to_read(session, doc),
        superseded=[d.id for d in changed if d.status == SUPERSEDED and d.id != doc.id],
        problems=problems,
    )


def _near_duplicate(session: Session, prepared: Prepared) -> PolicyDocument | None:
    """An indexed document of the same insurer with almost the same text: under another key, or the
    same version of the same policy again (a web copy of a PDF, say). An earlier version of the same
    policy is expected to be similar, so it is not a duplicate."""
    from shipyard.documents.extract import Signature  # the assistant extra, present when uploading

    mine = Signature.from_bytes(prepared.signature)
    candidates = session.scalars(
        select(PolicyDocument).where(
            PolicyDocument.insurer == prepared.meta.insurer,
            (PolicyDocument.doc_key != prepared.doc_key) | (PolicyDocument.version == prepared.version),
            PolicyDocument.status.in_((ACTIVE, PENDING)),
        )
    )
    best, best_margin = None, 0.0
    for other in candidates:
        same_version = (other.doc_key, other.version) == (prepared.doc_key, prepared.version)
        bar = SAME_VERSION_DUPLICATE if same_version else NEAR_DUPLICATE
        margin = mine.similarity(Signature.from_bytes(other.signature)) - bar
        if margin >= best_margin:
            best, best_margin = other, margin
    return best


def _add_passages(session: Session, vault: DocumentVault, doc: PolicyDocument, prepared: Prepared) -> None:
    vectors = np.ascontiguousarray(prepared.embeddings, dtype=np.float32)
    for passage, vector in zip(prepared.passages, vectors, strict=True):
        pid = f"{doc.id}:{passage.index}"
        session.add(
            DocumentPassage(
                id=pid,
                document_id=doc.id,
                index=passage.index,
                page=passage.page,
                kind=passage.kind,
                heading=vault.seal(passage.heading, pid + ":h") if passage.heading else None,
                text=vault.seal(passage.text, pid),
                embedding=vector.tobytes(),
            )
        )
    session.flush()


def settle(
    session: Session, actor: Actor, doc_key: str, today: date | None = None, *, uploaded: str | None = None
) -> list[PolicyDocument]:
    """Decide which version of a policy is in force: the latest effective on or before today.

    Later versions wait as `pending`; earlier ones are `superseded` by the next one in force. Withdrawn
    and duplicate versions take no part. Returns the documents whose status changed, each audited
    except `uploaded` (the document just stored: its upload event already says where it landed).
    """
    today = today or actor.clock.now().date()
    versions = list(
        session.scalars(
            select(PolicyDocument)
            .where(PolicyDocument.doc_key == doc_key, PolicyDocument.status.notin_((WITHDRAWN, DUPLICATE)))
            .order_by(PolicyDocument.effective_date, PolicyDocument.uploaded_at)
        )
    )
    in_force = [d for d in versions if d.effective_date <= today]
    current = in_force[-1] if in_force else None
    changed = []
    for doc in versions:
        if doc is current:
            status, by = ACTIVE, None
        elif doc.effective_date > today:
            status, by = PENDING, None
        else:
            later = [d for d in in_force if d.effective_date >= doc.effective_date and d is not doc]
            status, by = SUPERSEDED, (later[0].id if later else None)
        if (doc.status, doc.superseded_by) != (status, by):
            before = doc.status
            doc.status, doc.superseded_by, doc.updated_at = status, by, actor.clock.now()
            doc.status_reason = f"superseded by {by}" if by else None
            changed.append(doc)
            if doc.id != uploaded:
                record(
                    session,
                    actor,
                    "document.status",
                    "document",
                    doc.id,
                    before={"status": before},
                    after={"status": status, "superseded_by": by},
                )
    session.flush()
    return changed


def settle_all(session: Session, actor: Actor, today: date | None = None) -> list[PolicyDocument]:
    """Settle every policy: pending versions whose day has come go into force."""
    keys = session.scalars(select(PolicyDocument.doc_key).distinct()).all()
    changed = [doc for key in keys for doc in settle(session, actor, key, today)]
    if changed:
        bump(session, TOPIC)
    return changed


def withdraw(session: Session, actor: Actor, document_id: str, reason: str) -> PolicyDocument:
    """Take a version out of use; if it was in force, the previous version (if any) comes back."""
    doc = get(session, document_id)
    if doc.status == WITHDRAWN:
        raise Conflict(f"{document_id} is already withdrawn", code="already_withdrawn")
    before = doc.status
    doc.status, doc.status_reason, doc.superseded_by = WITHDRAWN, reason, None
    doc.updated_at = actor.clock.now()
    session.flush()
    record(
        session,
        actor,
        "document.withdraw",
        "document",
        doc.id,
        before={"status": before},
        after={"reason": reason},
    )
    settle(session, actor, doc.doc_key)
    bump(session, TOPIC)
    return doc


def get(session: Session, document_id: str) -> PolicyDocument:
    doc = session.get(PolicyDocument, document_id)
    if doc is None:
        raise NotFound(f"no document {document_id}", code="document_not_found")
    return doc


def list_documents(
    session: Session,
    *,
    insurer: str | None = None,
    status: str | None = None,
    doc_key: str | None = None,
    limit: int = 500,
) -> list[PolicyDocument]:
    query = select(PolicyDocument).order_by(
        PolicyDocument.insurer, PolicyDocument.doc_key, PolicyDocument.effective_date.desc()
    )
    if insurer:
        query = query.where(PolicyDocument.insurer == insurer)
    if status:
        query = query.where(PolicyDocument.status == status)
    if doc_key:
        query = query.where(PolicyDocument.doc_key == doc_key)
    return list(session.scalars(query.limit(limit)))


def read_content(
    session: Session, actor: Actor, vault: DocumentVault, document_id: str
) -> tuple[PolicyDocument, bytes]:
    """The uploaded file's bytes; every read is audited."""
    doc = get(session, document_id)
    data = vault.get(doc.file_sha256)
    record(session, actor, "document.read", "document", doc.id, after={"what": "file"})
    return doc, data


def read_passages(
    session: Session, actor: Actor, vault: DocumentVault, document_id: str
) -> list[PassageRead]:
    """The document's passages in order, decrypted; every read is audited."""
    doc = get(session, document_id)
    rows = session.scalars(
        select(DocumentPassage).where(DocumentPassage.document_id == doc.id).order_by(DocumentPassage.index)
    )
    record(session, actor, "document.read", "document", doc.id, after={"what": "passages"})
    return [
        PassageRead(
            id=row.id,
            index=row.index,
            page=row.page,
            kind=row.kind,
            heading=vault.open(row.heading, row.id + ":h") if row.heading else None,
            text=vault.open(row.text, row.id),
        )
        for row in rows
    ]


# --- the corpus the assistant answers from ----------------------------------------------------------


@dataclass(frozen=True)
class CorpusPassage:
    """A stored passage with what a citation names; text decrypted, for the in-memory index only."""

    passage_id: str
    document_id: str
    doc_key: str
    version: str
    title: str
    insurer: str
    topic: str
    effective_date: date
    page: int
    kind: str
    heading: str | None
    text: str


@dataclass(frozen=True)
class CorpusSnapshot:
    """The active documents' passages and embeddings, named by an id that changes with that set."""

    snapshot_id: str
    passages: list[CorpusPassage]
    embeddings: np.ndarray  # (len(passages), dim) float32
    documents: int


def snapshot_id(document_ids: Sequence[str]) -> str:
    """Names a set of active documents: the same set always gives the same id."""
    return "cs_" + hashlib.sha256("\n".join(sorted(document_ids)).encode()).hexdigest()[:16]


def active_corpus(session: Session, vault: DocumentVault) -> CorpusSnapshot:
    """Everything the index needs, read in one query (no audit: this is the service reading its corpus)."""
    snap = _corpus(session, vault, (ACTIVE,))
    # Active documents with no passages still count: the set, not the text, names the snapshot.
    ids = set(session.scalars(select(PolicyDocument.id).where(PolicyDocument.status == ACTIVE)))
    ids.update(p.document_id for p in snap.passages)
    return CorpusSnapshot(snapshot_id(sorted(ids)), snap.passages, snap.embeddings, len(ids))


def retired_corpus(session: Session, vault: DocumentVault) -> CorpusSnapshot:
    """The passages of superseded and withdrawn versions, each with its doc key and version.

    For telling that a question is answered by a rule no longer in force, never for citing. No audit,
    as for `active_corpus`: this is the service reading its corpus.
    """
    return _corpus(session, vault, (SUPERSEDED, WITHDRAWN))


def _corpus(session: Session, vault: DocumentVault, statuses: Sequence[str]) -> CorpusSnapshot:
    rows = session.execute(
        select(DocumentPassage, PolicyDocument)
        .join(PolicyDocument, PolicyDocument.id == DocumentPassage.document_id)
        .where(PolicyDocument.status.in_(statuses))
        .order_by(PolicyDocument.id, DocumentPassage.index)
    ).all()
    passages, vectors, ids = [], [], set()
    for row, doc in rows:
        ids.add(doc.id)
        passages.append(
            CorpusPassage(
                passage_id=row.id,
                document_id=doc.id,
                doc_key=doc.doc_key,
                version=doc.version,
                title=doc.title,
                insurer=doc.insurer,
                topic=doc.topic,
                effective_date=doc.effective_date,
                page=row.page,
                kind=row.kind,
                heading=vault.open(row.heading, row.id + ":h") if row.heading else None,
                text=vault.open(row.text, row.id),
            )
        )
        vectors.append(np.frombuffer(row.embedding, dtype=np.float32))
    matrix = np.vstack(vectors) if vectors else np.zeros((0, 0), dtype=np.float32)
    return CorpusSnapshot(snapshot_id(sorted(ids)), passages, matrix, len(ids))


def status_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(PolicyDocument.status, func.count()).group_by(PolicyDocument.status))
    return {str(row[0]): int(row[1]) for row in rows}
