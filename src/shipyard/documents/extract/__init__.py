"""Turn one uploaded file into pages of text, with its problems, citable passages and fingerprints.

Pure functions: no database, no HTTP. Needs the `assistant` extra (pypdf, python-docx, beautifulsoup4,
datasketch) and, for scanned PDFs, Debian's `tesseract-ocr` and `poppler-utils`.

    doc = extract(data, "policy.pdf")            # Extracted: format, title, pages, problems
    if doc.usable:
        passages = split_passages(doc)           # each passage.text == page.text[start:end]
        exact = content_fingerprint(doc)         # equal => same text
        near = near_duplicate_signature(doc)     # near.similarity(other) >= NEAR_DUPLICATE_THRESHOLD
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePath

from shipyard.documents.extract.detect import detect_format
from shipyard.documents.extract.docx import read_docx
from shipyard.documents.extract.fingerprints import (
    NEAR_DUPLICATE_THRESHOLD,
    Signature,
    content_fingerprint,
    near_duplicate_signature,
    normalise_text,
)
from shipyard.documents.extract.html import read_html
from shipyard.documents.extract.markdown import read_markdown
from shipyard.documents.extract.model import (
    DEFAULT_OCR,
    Block,
    Extracted,
    Format,
    OcrOptions,
    Page,
    Passage,
    Problem,
    UnsupportedFormat,
)
from shipyard.documents.extract.passages import split_passages
from shipyard.documents.extract.pdf import read_pdf
from shipyard.documents.extract.text import read_text

__all__ = [
    "NEAR_DUPLICATE_THRESHOLD",
    "Block",
    "Extracted",
    "Format",
    "OcrOptions",
    "Page",
    "Passage",
    "Problem",
    "Signature",
    "UnsupportedFormat",
    "content_fingerprint",
    "detect_format",
    "extract",
    "near_duplicate_signature",
    "normalise_text",
    "split_passages",
]

_READERS: dict[str, Callable[[bytes], Extracted]] = {
    "docx": read_docx,
    "html": read_html,
    "markdown": read_markdown,
    "text": read_text,
}
_NAMED: dict[str, Format] = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".md": "markdown",
    ".html": "html",
    ".htm": "html",
}


def extract(
    data: bytes, filename: str, content_type: str | None = None, *, ocr: OcrOptions = DEFAULT_OCR
) -> Extracted:
    """Read one file. Raises `UnsupportedFormat`; every other trouble is a `Problem` in the result."""
    if not data.strip():
        fmt = _NAMED.get(PurePath(filename).suffix.lower(), "text")
        name = PurePath(filename).name or "The file"
        return Extracted(fmt, None, [], [Problem("empty_document", f"{name} is empty.", fatal=True)])
    fmt = detect_format(data, filename, content_type)
    doc = read_pdf(data, ocr) if fmt == "pdf" else _READERS[fmt](data)
    return _check_empty(doc)


def _check_empty(doc: Extracted) -> Extracted:
    """A readable file with no text at all cannot be used: say why."""
    if not doc.usable or any(page.text for page in doc.pages):
        return doc
    reasons = [p.message for p in doc.problems if p.code in ("ocr_unavailable", "ocr_failed")]
    why = f" {reasons[0]}" if reasons else ""
    message = f"The document has no text to read on any of its {len(doc.pages)} pages.{why}"
    if len(doc.pages) == 1:
        message = f"The document has no text to read.{why}"
    empty = Problem("empty_document", message, fatal=True)
    return Extracted(doc.format, doc.title, doc.pages, [empty, *doc.problems])
