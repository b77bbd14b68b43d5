"""HTML with BeautifulSoup's html.parser: headings, paragraphs, list items and tables; no script or nav."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup
from bs4.element import Comment, Declaration, Doctype, NavigableString, ProcessingInstruction, Tag

from shipyard.documents.extract.builder import PageBuilder, first_heading, format_row, looks_like_header
from shipyard.documents.extract.clean import clean_inline
from shipyard.documents.extract.model import Extracted
from shipyard.documents.extract.text import decode

_DROP = ["script", "style", "nav", "noscript", "template", "iframe", "svg", "head", "button", "select"]
_HEADING = re.compile(r"^h([1-6])$")
_BLOCK = frozenset(
    "p div section article main header footer aside blockquote pre address figure figcaption form "
    "fieldset dl dt dd ul ol hr body html details summary center".split()
)
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_-]+)""", re.IGNORECASE)


class _Walker:
    def __init__(self) -> None:
        self.out = PageBuilder()
        self.buffer: list[str] = []
        self.kind = "paragraph"

    def flush(self) -> None:
        text = " ".join(self.buffer)
        self.buffer = []
        self.out.add("list_item" if self.kind == "list_item" else "paragraph", text)

    def walk(self, node: Tag) -> None:
        for child in node.children:
            if isinstance(child, Comment | Declaration | Doctype | ProcessingInstruction):
                continue
            if isinstance(child, NavigableString):
                self.buffer.append(str(child))
            elif isinstance(child, Tag):
                self.element(child)

    def element(self, tag: Tag) -> None:
        name = tag.name.lower()
        heading = _HEADING.match(name)
        if heading:
            self.flush()
            self.out.add("heading", tag.get_text(" "), level=int(heading.group(1)))
        elif name == "table":
            self.flush()
            self.table(tag)
        elif name == "li":
            self.flush()
            outer, self.kind = self.kind, "list_item"
            self.walk(tag)
            self.flush()
            self.kind = outer
        elif name == "br":
            self.buffer.append(" ")
        elif name in _BLOCK:
            self.flush()
            self.walk(tag)
            self.flush()
        else:
            self.walk(tag)

    def table(self, table: Tag) -> None:
        caption_tag = table.find("caption")
        caption = clean_inline(caption_tag.get_text(" ")) if isinstance(caption_tag, Tag) else ""
        if caption:
            self.out.add("paragraph", caption)
        rows: list[tuple[list[str], bool]] = []
        for tr in table.find_all("tr"):
            if tr.find_parent("table") is not table:
                continue  # a nested table's rows belong to its own cell
            cells = [c for c in tr.find_all(["td", "th"], recursive=False) if isinstance(c, Tag)]
            texts = [clean_inline(c.get_text(" ")) for c in cells]
            in_head = tr.find_parent("thead") is not None
            if any(texts):
                rows.append((texts, in_head or all(c.name == "th" for c in cells)))
        if not rows:
            return
        header: list[str] | None = None
        if rows[0][1] or (len(rows) >= 2 and looks_like_header(rows[0][0])):
            header = rows[0][0]
            rows = rows[1:]
        for texts, _ in rows:
            self.out.add("table_row", format_row(texts, header), caption=caption or None)


def read_html(data: bytes) -> Extracted:
    """An HTML page as one page of text."""
    declared = _CHARSET.search(data[:4096])
    text, problem = decode(data, declared.group(1).decode("ascii") if declared else None)
    soup = BeautifulSoup(text, "html.parser")
    title_tag = soup.find("title")
    title = clean_inline(title_tag.get_text(" ")) if isinstance(title_tag, Tag) else ""
    for tag in soup.find_all(_DROP):
        if not tag.decomposed:  # already gone with a dropped parent
            tag.decompose()
    walker = _Walker()
    walker.walk(soup)
    walker.flush()
    pages = [walker.out.page(1)]
    return Extracted("html", title or first_heading(pages), pages, [problem] if problem else [])
