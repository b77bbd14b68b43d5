"""The shapes extraction hands back: pages and their blocks, problems, OCR options, passages."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from shipyard.core.errors import InvalidInput

Format = Literal["pdf", "docx", "html", "markdown", "text"]
BlockKind = Literal["heading", "paragraph", "list_item", "table_row"]
PassageKind = Literal["prose", "table_row", "list_item"]

_LANGUAGE = re.compile(r"^[A-Za-z_]{3,}(\+[A-Za-z_]{3,})*$")


@dataclass(frozen=True)
class Block:
    """One structural piece of a page: `Page.text[start:end]` is its exact text."""

    kind: BlockKind
    start: int
    end: int
    level: int = 0  # heading depth, 1 = top; 0 for other kinds
    caption: str | None = None  # table rows: the table's caption, when the file gives one


@dataclass(frozen=True)
class Page:
    """One page of text. `number` is the 1-based position in the file; `label` the printed number."""

    number: int
    label: str | None
    text: str
    source: Literal["text", "ocr"]
    ocr_confidence: float | None
    blocks: tuple[Block, ...] = ()


@dataclass(frozen=True)
class Problem:
    """Something wrong with a file, said so a person can act on it.

    Codes: unreadable, unsupported_format, empty_document (fatal); empty_page, missing_pages,
    low_ocr_confidence, ocr_unavailable, ocr_failed, page_unreadable, encoding_replaced.
    """

    code: str
    message: str
    page: int | None = None
    fatal: bool = False


@dataclass(frozen=True)
class Extracted:
    """A whole file read into pages, with everything that went wrong on the way."""

    format: Format
    title: str | None
    pages: list[Page]
    problems: list[Problem]

    @property
    def usable(self) -> bool:
        """False when a fatal problem means the file cannot be used at all."""
        return not any(p.fatal for p in self.problems)


@dataclass(frozen=True)
class OcrOptions:
    """How scanned PDF pages are read: tesseract at `dpi`, `workers` pages at a time."""

    enabled: bool = True
    dpi: int = 200
    language: str = "eng"
    min_confidence: float = 0.75
    workers: int = 2
    timeout_s: float = 60  # per page, rendering and recognition together
    tesseract_cmd: str = "tesseract"
    pdftoppm_cmd: str = "pdftoppm"

    def __post_init__(self) -> None:
        if not 50 <= self.dpi <= 600:
            raise InvalidInput(
                f"OCR dpi must be between 50 and 600, not {self.dpi}", code="invalid_ocr_options"
            )
        if not 0.0 <= self.min_confidence <= 1.0:
            raise InvalidInput(
                f"OCR min_confidence must be between 0 and 1, not {self.min_confidence}",
                code="invalid_ocr_options",
            )
        if self.workers < 1:
            raise InvalidInput(
                f"OCR workers must be at least 1, not {self.workers}", code="invalid_ocr_options"
            )
        if self.timeout_s <= 0:
            raise InvalidInput(
                f"OCR timeout_s must be positive, not {self.timeout_s}", code="invalid_ocr_options"
            )
        if not _LANGUAGE.match(self.language):
            raise InvalidInput(
                f"OCR language must be tesseract codes like 'eng' or 'eng+deu', not {self.language!r}",
                code="invalid_ocr_options",
            )


DEFAULT_OCR = OcrOptions()


@dataclass(frozen=True)
class Passage:
    """A citable piece of one page: `text == page.text[start:end]` for the page numbered `page`."""

    index: int
    page: int
    text: str
    heading: str | None
    kind: PassageKind
    start: int
    end: int


class UnsupportedFormat(InvalidInput):
    """The bytes are not a PDF, DOCX, HTML, Markdown or plain-text document."""

    code = "unsupported_format"
    title = "Unsupported document format"

    def __init__(self, detail: str, *, seen: str) -> None:
        super().__init__(detail, seen=seen)
        self.seen = seen
        self.problem = Problem("unsupported_format", detail, fatal=True)
