"""Which format an upload is: magic bytes first, then the name or content type for text formats."""

from __future__ import annotations

import io
import zipfile
from pathlib import PurePath

from shipyard.documents.extract.model import Format, UnsupportedFormat

_SIGNATURES: list[tuple[bytes, str]] = [
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a legacy Microsoft Office file (.doc, .xls or .ppt)"),
    (b"{\\rtf", "an RTF document"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"\x7fELF", "an executable program"),
    (b"%!PS", "a PostScript file"),
]
_TEXT_EXTENSIONS: dict[str, Format] = {
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".text": "text",
}
_TEXT_TYPES: dict[str, Format] = {
    "text/html": "html",
    "application/xhtml+xml": "html",
    "text/markdown": "markdown",
    "text/x-markdown": "markdown",
    "text/plain": "text",
}
_BINARY_DOCUMENT_TYPES = {"application/pdf": ".pdf", "application/msword": ".doc"}
_DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def detect_format(data: bytes, filename: str, content_type: str | None = None) -> Format:
    """The document format of `data`, or `UnsupportedFormat` naming what the bytes look like."""
    name = PurePath(filename).name or "the upload"
    ext = PurePath(filename).suffix.lower()
    mime = (content_type or "").split(";")[0].strip().lower()
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        return _zip_format(data, name, ext)
    head = data[:16]
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        raise _unsupported(name, "a WebP image")
    for magic, seen in _SIGNATURES:
        if data.startswith(magic):
            raise _unsupported(name, seen)
    if _looks_binary(data[:8192]):
        # Two-byte signatures are only trusted once the bytes are known not to be text ("BMI policy").
        seen = {b"BM": "a BMP image", b"MZ": "a Windows executable"}.get(
            data[:2], "binary data of an unknown kind"
        )
        raise _unsupported(name, seen)
    if (
        ext in (".pdf", ".docx", ".doc", ".xlsx", ".pptx")
        or mime in _BINARY_DOCUMENT_TYPES
        or mime == _DOCX_TYPE
    ):
        # A "PDF" that is really text is usually an error page saved in place of the download.
        raise _unsupported(name, f"text, not the {ext or mime} its name or type claims")
    if ext in _TEXT_EXTENSIONS:
        return _TEXT_EXTENSIONS[ext]
    if mime in _TEXT_TYPES:
        return _TEXT_TYPES[mime]
    if not ext or ext == ".":
        return "html" if _looks_like_html(data) else "text"
    raise _unsupported(name, f"a {ext} file")


def _zip_format(data: bytes, name: str, ext: str) -> Format:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except zipfile.BadZipFile:
        if ext == ".docx":
            return "docx"  # a damaged DOCX: the reader reports it as unreadable, with the reason
        raise _unsupported(name, "a damaged ZIP archive") from None
    if "word/document.xml" in names:
        return "docx"
    if "xl/workbook.xml" in names:
        raise _unsupported(name, "an Excel workbook (.xlsx)")
    if "ppt/presentation.xml" in names:
        raise _unsupported(name, "a PowerPoint presentation (.pptx)")
    if "mimetype" in names and "content.xml" in names:
        raise _unsupported(name, "an OpenDocument file (.odt, .ods or .odp)")
    if "META-INF/container.xml" in names:
        raise _unsupported(name, "an EPUB book")
    raise _unsupported(name, f"a ZIP archive of {len(names)} files")


def _looks_binary(head: bytes) -> bool:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False  # UTF-16 text with a byte-order mark
    if b"\x00" in head:
        return True
    controls = sum(1 for b in head if b < 9 or 13 < b < 32)
    return controls > len(head) // 20


def _looks_like_html(data: bytes) -> bool:
    start = data[:512].lstrip().lower()
    return start.startswith((b"<!doctype html", b"<html", b"<?xml")) and b"<html" in data[:4096].lower()


def _unsupported(name: str, seen: str) -> UnsupportedFormat:
    return UnsupportedFormat(
        f"{name} is {seen}; upload a PDF, Word (.docx), HTML, Markdown or plain-text document",
        seen=seen,
    )
