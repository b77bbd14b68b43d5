"""DOCX: paragraphs in order with their heading styles, lists, tables; explicit page breaks start pages."""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

import docx
from docx.document import Document
from docx.opc.exceptions import PackageNotFoundError
from docx.oxml.ns import qn
from docx.table import Table
from docx.text.paragraph import Paragraph
from lxml import etree

from shipyard.documents.extract.builder import PageBuilder, first_heading, format_row, looks_like_header
from shipyard.documents.extract.clean import clean_inline
from shipyard.documents.extract.model import Extracted, Page, Problem

_HEADING_STYLE = re.compile(r"^heading\s*(\d)$", re.IGNORECASE)
_CAPTION = re.compile(r"^table\s+\d+\b", re.IGNORECASE)
# Run children that carry text, and what they read as. A page break is marked with a form feed.
_RUN_PARTS = {qn("w:t"): None, qn("w:tab"): " ", qn("w:cr"): " ", qn("w:noBreakHyphen"): "-"}
_RUNS = (
    "./w:r | ./w:hyperlink/w:r | ./w:ins/w:r | ./w:smartTag/w:r | ./w:sdt/w:sdtContent/w:r"
    " | ./w:fldSimple/w:r | ./w:customXml/w:r"
)
_PAGE_BREAK = "\f"


def _paragraph_text(paragraph: Paragraph) -> str:
    """The paragraph's text with page breaks kept as form feeds (python-docx's text drops them)."""
    out = []
    p = paragraph._p
    props = p.pPr
    if props is not None and props.find(qn("w:pageBreakBefore")) is not None:
        out.append(_PAGE_BREAK)
    for run in p.xpath(_RUNS):
        for child in run:
            if child.tag == qn("w:t"):
                out.append(child.text or "")
            elif child.tag == qn("w:br"):
                out.append(_PAGE_BREAK if child.get(qn("w:type")) == "page" else " ")
            elif child.tag in _RUN_PARTS:
                out.append(_RUN_PARTS[child.tag] or "")
    return "".join(out)


def _style(paragraph: Paragraph) -> str:
    try:
        return paragraph.style.name if paragraph.style is not None and paragraph.style.name else ""
    except (KeyError, AttributeError):
        return ""


def _kind(paragraph: Paragraph, style: str) -> tuple[str, int]:
    if style == "Title":
        return "heading", 1
    match = _HEADING_STYLE.match(style)
    if match:
        # A document with a Title puts "Heading 1" one below it; levels only need to be ordered.
        return "heading", int(match.group(1)) + 1
    outline = _outline_level(paragraph)
    if outline is not None:
        return "heading", outline + 2
    props = paragraph._p.pPr
    numbered = props is not None and props.find(qn("w:numPr")) is not None
    if numbered or style.lower().startswith("list"):
        return "list_item", 0
    return "paragraph", 0


def _outline_level(paragraph: Paragraph) -> int | None:
    """The outline level a custom heading style (or the paragraph itself) declares; 9 means body text."""
    elements: list[Any] = [paragraph._p.pPr]
    try:
        style = paragraph.style
        for _ in range(10):  # base styles form a chain; stop on a loop in a damaged file
            if style is None:
                break
            elements.append(style.element.pPr)
            style = style.base_style
    except (KeyError, AttributeError):
        pass
    for props in elements:
        found = props.find(qn("w:outlineLvl")) if props is not None else None
        if found is not None:
            try:
                level = int(found.get(qn("w:val"), "9"))
            except ValueError:
                return None
            return level if 0 <= level < 9 else None
    return None


def _table_rows(table: Table) -> list[list[str]]:
    rows = []
    for row in table.rows:
        cells: list[str] = []
        seen: set[int] = set()
        for cell in row.cells:
            if id(cell._tc) in seen:
                continue  # a merged cell is listed once per grid column it spans
            seen.add(id(cell._tc))
            cells.append(clean_inline(cell.text))
        if any(cells):
            rows.append(cells)
    return rows


class _Pages:
    def __init__(self) -> None:
        self.done: list[Page] = []
        self.current = PageBuilder()

    def new_page(self) -> None:
        if self.current.empty and not self.done:
            return  # a break before any text only moves the text down; it is not a page of its own
        self.done.append(self.current.page(len(self.done) + 1))
        self.current = PageBuilder()

    def finish(self) -> list[Page]:
        if not self.current.empty or not self.done:
            self.done.append(self.current.page(len(self.done) + 1))
        return self.done


def _add_table(table: Table, caption: str | None, pages: _Pages) -> None:
    rows = _table_rows(table)
    header = rows[0] if len(rows) >= 2 and looks_like_header(rows[0]) else None
    for cells in rows[1:] if header else rows:
        pages.current.add("table_row", format_row(cells, header), caption=caption)


def read_docx(data: bytes) -> Extracted:
    """Read a Word document; a damaged one is reported as unreadable."""
    try:
        document: Document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, PackageNotFoundError, KeyError, ValueError, etree.XMLSyntaxError) as exc:
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        problem = Problem(
            "unreadable", f"The Word file is damaged and cannot be read ({reason}).", fatal=True
        )
        return Extracted("docx", None, [], [problem])
    pages = _Pages()
    caption: str | None = None
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            _add_table(item, caption, pages)
            caption = None
            continue
        caption = _paragraph(item, pages)
    result = pages.finish()
    problems = [
        Problem(
            "empty_page", f"Page {page.number} has no text (it sits between two page breaks).", page.number
        )
        for page in result
        if not page.text and len(result) > 1
    ]
    title = _core_title(document) or first_heading(result)
    return Extracted("docx", title, result, problems)


def _paragraph(paragraph: Paragraph, pages: _Pages) -> str | None:
    """Add one paragraph; returns its text when it reads as the caption of a table that follows."""
    style = _style(paragraph)
    kind, level = _kind(paragraph, style)
    pieces = _paragraph_text(paragraph).split(_PAGE_BREAK)
    for i, piece in enumerate(pieces):
        if i:
            pages.new_page()
        if kind == "heading":
            pages.current.add("heading", piece, level=level)
        elif kind == "list_item":
            pages.current.add("list_item", piece)
        else:
            pages.current.add("paragraph", piece)
    text = clean_inline(pieces[-1])
    return text if text and (style.lower() == "caption" or _CAPTION.match(text)) else None


def _core_title(document: Document) -> str | None:
    props: Any = document.core_properties
    title = clean_inline(props.title or "")
    return title or None
