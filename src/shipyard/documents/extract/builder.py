"""Assembles a page's text from blocks, keeping each block's exact place in it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from shipyard.documents.extract.clean import clean_inline
from shipyard.documents.extract.model import Block, BlockKind, Page

# Rows of one table and items of one list stay on consecutive lines; everything else is a paragraph.
_TIGHT: frozenset[BlockKind] = frozenset({"list_item", "table_row"})


@dataclass
class PageBuilder:
    """Collects blocks in reading order and renders them as normalised page text."""

    parts: list[str] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    length: int = 0

    def add(self, kind: BlockKind, text: str, *, level: int = 0, caption: str | None = None) -> None:
        """Append one block; text is cleaned, and empty text is dropped."""
        text = clean_inline(text)
        if not text:
            return
        if self.blocks:
            last = self.blocks[-1].kind
            sep = "\n" if kind == last and kind in _TIGHT else "\n\n"
            self.parts.append(sep)
            self.length += len(sep)
        self.parts.append(text)
        self.blocks.append(Block(kind, self.length, self.length + len(text), level, caption))
        self.length += len(text)

    @property
    def empty(self) -> bool:
        return not self.blocks

    def page(
        self,
        number: int,
        *,
        label: str | None = None,
        source: Literal["text", "ocr"] = "text",
        ocr_confidence: float | None = None,
    ) -> Page:
        """The finished page."""
        return Page(number, label, "".join(self.parts), source, ocr_confidence, tuple(self.blocks))


def first_heading(pages: list[Page]) -> str | None:
    """The top-level heading that comes first in the document, used when a file has no title of its own."""
    for page in pages:
        headings = [b for b in page.blocks if b.kind == "heading"]
        if headings:
            top = min(headings, key=lambda b: b.level)
            return page.text[top.start : top.end]
    return None


def looks_like_header(cells: list[str]) -> bool:
    """Whether a first table row names its columns: all filled, all different, none a number or amount."""
    names = [c.strip() for c in cells]
    if len(names) < 2 or any(not n for n in names) or len({n.lower() for n in names}) != len(names):
        return False
    return not any(sum(ch.isdigit() for ch in n) * 2 >= len(n.replace(" ", "")) or "$" in n for n in names)


def format_row(cells: list[str], header: list[str] | None) -> str:
    """A row that stands on its own, `Code: 72148 | Service: MRI ...`; plain cells when there is no header."""
    cells = [clean_inline(c) for c in cells]
    if not header:
        return " | ".join(c for c in cells if c)
    parts = []
    for i, value in enumerate(cells):
        if not value:
            continue
        name = clean_inline(header[i]) if i < len(header) else ""
        parts.append(f"{name}: {value}" if name and name != value else value)
    return " | ".join(parts)
