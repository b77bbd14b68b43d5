"""Reading an upload before it touches the database: extraction, OCR, passages, fingerprints, embeddings.

This is the slow part of an upload (OCR can take seconds a page), so it runs outside any transaction;
`service.store` then writes the result in one short one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import PurePath

import numpy as np

from shipyard.core.errors import InvalidInput
from shipyard.documents.extract import (
    Extracted,
    OcrOptions,
    Passage,
    content_fingerprint,
    extract,
    near_duplicate_signature,
    split_passages,
)
from shipyard.documents.schemas import DocumentMeta

# Turns passages into L2-normalised float32 vectors, one row each: the assistant's embedder, which
# decides what of a passage it encodes (its heading and text).
Encoder = Callable[[Sequence[Passage]], np.ndarray]


@dataclass(frozen=True)
class Prepared:
    """One file, read and ready to store."""

    meta: DocumentMeta
    doc_key: str
    version: str
    title: str
    filename: str
    data: bytes
    extracted: Extracted
    fingerprint: str
    signature: bytes
    passages: list[Passage]
    embeddings: np.ndarray

    @property
    def problems(self) -> list[dict[str, object]]:
        return [{"code": p.code, "message": p.message, "page": p.page} for p in self.extracted.problems]


def slugify(text: str) -> str:
    """A doc_key from free text: lower case, dashes, at most 120 characters."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:120].strip("-") or "document"


def default_doc_key(insurer: str, title: str) -> str:
    """The insurer's initials and the title without years, so a re-issued policy keeps its key."""
    initials = "".join(word[0] for word in re.findall(r"[A-Za-z]+", insurer)).lower() or "doc"
    title = re.sub(r"\b(19|20)\d\d\b", " ", title)
    return slugify(f"{initials} {title}")


def prepare(
    data: bytes,
    filename: str,
    meta: DocumentMeta,
    encode: Encoder,
    *,
    ocr: OcrOptions | None = None,
) -> Prepared:
    """Read one uploaded file; a file that cannot be used at all is refused with every reason."""
    name = PurePath(filename).name or "upload"
    if not data:
        raise InvalidInput(f"{name} is empty", code="empty_document")
    extracted = extract(data, name, ocr=ocr or OcrOptions())
    fatal = [p for p in extracted.problems if p.fatal]
    if fatal:
        raise InvalidInput(
            f"{name} cannot be used: " + "; ".join(p.message for p in fatal),
            code=fatal[0].code,
            errors=[{"code": p.code, "message": p.message, "page": p.page} for p in extracted.problems],
        )
    title = meta.title or extracted.title or PurePath(name).stem.replace("_", " ").replace("-", " ")
    passages = split_passages(extracted)
    if not passages:
        raise InvalidInput(f"{name} has no text to answer from", code="empty_document")
    embeddings = np.asarray(encode(passages), dtype=np.float32)
    if embeddings.shape[0] != len(passages):
        raise RuntimeError(f"the encoder returned {embeddings.shape[0]} vectors for {len(passages)} passages")
    return Prepared(
        meta=meta,
        doc_key=meta.doc_key or default_doc_key(meta.insurer, title),
        version=meta.version or meta.effective_date.isoformat(),
        title=title[:300],
        filename=name,
        data=data,
        extracted=extracted,
        fingerprint=content_fingerprint(extracted),
        signature=near_duplicate_signature(extracted).to_bytes(),
        passages=passages,
        embeddings=embeddings,
    )
