"""PDF: pypdf's text per page, OCR for pages that are only images, footers read and removed."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field
from typing import Literal

from pypdf import PageObject, PdfReader
from pypdf.errors import FileNotDecryptedError, PyPdfError

from shipyard.documents.extract.builder import PageBuilder, first_heading
from shipyard.documents.extract.clean import clean_inline, clean_raw
from shipyard.documents.extract.fonts import FontLine, font_lines, line_hints
from shipyard.documents.extract.lines import LineHints, build_blocks
from shipyard.documents.extract.model import Extracted, OcrOptions, Page, Problem
from shipyard.documents.extract.ocr import OcrError, OcrPage, missing_tools, ocr_pages, page_dpi
from shipyard.documents.extract.pagination import find_labels, missing_pages, running_lines

log = logging.getLogger(__name__)

# Fewer letters and digits than this, on a page that holds an image, means the page is a scan.
_SCAN_MAX_CHARS = 25
# A real PDF ends with %%EOF within its last few bytes; without it the file was cut short.
_EOF_WINDOW = 8192
# What pypdf raises on a damaged file, beyond its own errors.
_PDF_ERRORS = (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError)
_FILE_NAMES = (".doc", ".docx", ".pdf", ".rtf", ".odt", ".txt")
# Titles that tools write when the author gave none.
_JUNK_TITLES = frozenset({"untitled", "untitled document", "document", "title", "none", "(anonymous)"})


@dataclass
class _RawPage:
    lines: list[str]
    fonts: list[FontLine] = field(default_factory=list)
    has_images: bool = False
    size_pt: tuple[float, float] = (612.0, 792.0)
    source: Literal["text", "ocr"] = "text"
    confidence: float | None = None
    hints: LineHints = field(default_factory=LineHints)
    error: str | None = None


def _unreadable(reason: str) -> Extracted:
    return Extracted("pdf", None, [], [Problem("unreadable", reason, fatal=True)])


def _open(data: bytes) -> PdfReader | Extracted:
    if b"%%EOF" not in data[-_EOF_WINDOW:]:
        return _unreadable(
            "The PDF is cut short (it has no end-of-file marker), so pages may be missing; "
            "upload the complete file."
        )
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            return _unreadable("The PDF is password-protected; upload a copy without a password.")
        len(reader.pages)
    except FileNotDecryptedError:
        return _unreadable("The PDF is password-protected; upload a copy without a password.")
    except _PDF_ERRORS as exc:
        return _unreadable(f"The PDF is damaged and cannot be read ({exc or type(exc).__name__}).")
    except NotImplementedError as exc:  # pypdf's answer to encodings and filters it does not support
        return _unreadable(f"The PDF uses a feature that cannot be read ({exc}).")
    return reader


def _read_page(page: PageObject) -> _RawPage:
    try:
        box = page.mediabox
        size = (float(box.width), float(box.height))
    except (PyPdfError, ValueError, KeyError, TypeError):
        size = (612.0, 792.0)
    try:
        plain = page.extract_text()
    except Exception as exc:  # pypdf raises many kinds on broken content streams
        return _RawPage([], size_pt=size, error=f"{type(exc).__name__}: {exc}")
    try:
        text = page.extract_text(extraction_mode="layout")
        # Layout mode gives paragraph gaps and table columns, but falls back if it loses text.
        if _letters(text) < 0.9 * _letters(plain):
            text = plain
    except Exception:  # layout mode is the less robust of the two; plain text is still good
        log.debug("pypdf layout mode failed; using plain text", exc_info=True)
        text = plain
    try:
        fonts = font_lines(page)
    except Exception:
        log.debug("pypdf could not report fonts; no heading hints for this page", exc_info=True)
        fonts = []
    try:
        has_images = len(page.images) > 0
    except Exception:
        has_images = True  # unreadable image resources: let OCR have a look
    return _RawPage(clean_raw(text).split("\n"), fonts, has_images, size)


def _letters(text: str) -> int:
    return sum(ch.isalnum() for ch in text)


def read_pdf(data: bytes, ocr: OcrOptions) -> Extracted:
    """Read a PDF into pages; OCR the scanned ones; report damage, gaps, empty and doubtful pages."""
    opened = _open(data)
    if isinstance(opened, Extracted):
        return opened
    reader = opened
    try:
        raw = [_read_page(page) for page in reader.pages]
    except _PDF_ERRORS as exc:
        return _unreadable(
            f"The PDF's page list is damaged and cannot be read ({exc or type(exc).__name__})."
        )
    for page, hints in zip(raw, line_hints([p.fonts for p in raw]), strict=True):
        page.hints = hints
    problems = _run_ocr(data, raw, ocr)
    found = find_labels([p.lines for p in raw])
    running = running_lines([p.lines for p in raw], [set(p.hints.headings) for p in raw])
    labels = [hit[0] if hit else None for hit in found]
    pages: list[Page] = []
    for number, (page, hit, drop) in enumerate(zip(raw, found, running, strict=True), start=1):
        drop = drop | {hit[1]} if hit else drop
        builder = PageBuilder()
        build_blocks([("" if i in drop else line) for i, line in enumerate(page.lines)], page.hints, builder)
        pages.append(
            builder.page(
                number,
                label=str(hit[0].number) if hit else None,
                source=page.source,
                ocr_confidence=page.confidence,
            )
        )
        if page.error:
            problems.append(
                Problem("page_unreadable", f"Page {number} could not be read ({page.error}).", number)
            )
        elif builder.empty and not any(p.page == number for p in problems):
            problems.append(_empty_page(number, page))
        if page.source == "ocr" and page.confidence is not None and page.confidence < ocr.min_confidence:
            problems.append(
                Problem(
                    "low_ocr_confidence",
                    f"Page {number} is a scan that OCR read with only {page.confidence:.0%} confidence; "
                    "its text may be wrong, so check quotes from it against the original.",
                    number,
                )
            )
    problems.extend(missing_pages(labels, len(pages)))
    return Extracted("pdf", _title(reader) or first_heading(pages), pages, sorted(problems, key=_order))


def _empty_page(number: int, page: _RawPage) -> Problem:
    why = "not even after OCR" if page.source == "ocr" else "and no scanned image to read"
    return Problem("empty_page", f"Page {number} has no text ({why}).", number)


def _order(problem: Problem) -> tuple[int, int]:
    return (0 if problem.fatal else 1, problem.page or 0)


def _run_ocr(data: bytes, raw: list[_RawPage], options: OcrOptions) -> list[Problem]:
    scans = {
        n: page_dpi(options, *page.size_pt)
        for n, page in enumerate(raw, start=1)
        if page.error is None and page.has_images and _letters("\n".join(page.lines)) < _SCAN_MAX_CHARS
    }
    if not scans:
        return []
    if not options.enabled:
        return [_no_ocr(n, "OCR is turned off") for n in scans]
    missing = missing_tools(options)
    if missing:
        verb = "is" if len(missing) == 1 else "are"
        return [_no_ocr(n, f"{' and '.join(missing)} {verb} not installed on this server") for n in scans]
    problems = []
    for number, result in ocr_pages(data, scans, options).items():
        page = raw[number - 1]
        if isinstance(result, OcrError):
            problems.append(Problem("ocr_failed", f"{result} The page was left empty.", number))
            continue
        _use_ocr(page, result)
    return problems


def _use_ocr(page: _RawPage, result: OcrPage) -> None:
    if _letters("\n".join(result.lines)) <= _letters("\n".join(page.lines)):
        page.source = "ocr"  # OCR was tried; the page's own few characters stay
        page.confidence = result.confidence
        return
    # What little text the page had (often a stamped "Page 2 of 3") goes below, where footers are read.
    tail = [line for line in page.lines if line.strip()]
    page.lines = [*result.lines, "", *tail]
    page.hints = LineHints(headings=result.headings, guess_headings=True)
    page.source = "ocr"
    page.confidence = result.confidence


def _no_ocr(number: int, why: str) -> Problem:
    return Problem(
        "ocr_unavailable",
        f"Page {number} is a scanned image that needs OCR, but {why}; the page was left empty.",
        number,
    )


def _title(reader: PdfReader) -> str | None:
    try:
        title = clean_inline(str(reader.metadata.title or "")) if reader.metadata else ""
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError):
        return None
    lowered = title.lower()
    if lowered in _JUNK_TITLES or lowered.startswith("microsoft word - ") or lowered.endswith(_FILE_NAMES):
        return None
    return title or None
