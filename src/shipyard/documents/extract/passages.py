"""Citable passages: short paragraphs packed together, long ones cut at sentences, one per table row.

A passage never crosses a page, and its text is exactly `page.text[start:end]`, so a citation can
point at the characters it quotes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shipyard.core.errors import InvalidInput
from shipyard.documents.extract.clean import BULLETS
from shipyard.documents.extract.model import Block, BlockKind, Extracted, Page, Passage, PassageKind

_SENTENCE_END = re.compile(r"[.!?][\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_ABBREVIATIONS = frozenset(
    "e.g i.e etc vs no nos dr mr mrs ms st inc co corp ltd sec secs art fig approx dept jan feb mar apr "
    "jun jul aug sep sept oct nov dec u.s p pp vol ch min max".split()
)
_SOFT_BREAKS = ("; ", ", ", " | ", " ")


@dataclass
class _Pack:
    page: Page
    kind: PassageKind
    start: int
    end: int
    last_start: int  # where the newest block begins
    before_last: int  # where the block before it ends (== start when there is one block)


def _sentence_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans = []
    pos = start
    for match in _SENTENCE_END.finditer(text, start, end):
        word = text[max(start, match.start() - 12) : match.start()].split()
        if word and word[-1].lstrip("(").lower() in _ABBREVIATIONS:
            continue
        if word and len(word[-1]) == 1 and word[-1].isupper():
            continue  # an initial, as in "J. Smith"
        spans.append((pos, match.start() + 1))
        pos = match.end()
    spans.append((pos, end))
    return [(s, e) for s, e in (_strip(text, s, e) for s, e in spans) if e > s]


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _hard_split(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """Cut a span longer than max_chars at clause, cell or word boundaries (characters as a last resort)."""
    spans = []
    while end - start > max_chars:
        window_end = start + max_chars
        cut = -1
        for sep in _SOFT_BREAKS:
            found = text.rfind(sep, start + max_chars // 2, window_end)
            if found > start:
                cut = found + len(sep.rstrip())
                break
        if cut <= start:
            cut = window_end
        spans.append(_strip(text, start, cut))
        start = _strip(text, cut, end)[0]
    spans.append(_strip(text, start, end))
    return [s for s in spans if s[1] > s[0]]


def _chunks(text: str, start: int, end: int, target: int, max_chars: int) -> list[tuple[int, int]]:
    """One long block as spans of whole sentences, each near `target` and never over `max_chars`."""
    pieces = [p for s, e in _sentence_spans(text, start, end) for p in _hard_split(text, s, e, max_chars)]
    chunks: list[tuple[int, int]] = []
    for s, e in pieces:
        if chunks and e - chunks[-1][0] <= target:
            chunks[-1] = (chunks[-1][0], e)
        else:
            chunks.append((s, e))
    if (
        len(chunks) >= 2
        and chunks[-1][1] - chunks[-1][0] < target // 4
        and chunks[-1][1] - chunks[-2][0] <= max_chars
    ):
        chunks[-2:] = [(chunks[-2][0], chunks[-1][1])]
    return chunks


def _line_kind(line: str) -> BlockKind | None:
    if " | " in line:
        return "table_row"
    return "list_item" if line.lstrip()[:1] in BULLETS else None


def infer_blocks(text: str) -> tuple[Block, ...]:
    """Blocks for a page that came without them: paragraphs at blank lines, rows and items by their look."""
    blocks = []
    for para in re.finditer(r"[^\n]*\S[^\n]*(?:\n[^\n]*\S[^\n]*)*", text):
        lines = [m for m in re.finditer(r"[^\n]+", para.group()) if m.group().strip()]
        kinds = [_line_kind(m.group()) for m in lines]
        if len(lines) > 1 and all(kinds):
            for m, kind in zip(lines, kinds, strict=True):
                start, end = _strip(text, para.start() + m.start(), para.start() + m.end())
                blocks.append(Block(kind or "paragraph", start, end))
        else:
            blocks.append(Block("paragraph", *_strip(text, para.start(), para.end())))
    return tuple(blocks)


class _Splitter:
    def __init__(self, target: int, max_chars: int) -> None:
        self.target = target
        self.max_chars = max_chars
        self.out: list[Passage] = []
        self.heading: str | None = None
        self.pack: _Pack | None = None

    def emit(self, page: Page, kind: PassageKind, start: int, end: int, heading: str | None) -> None:
        self.out.append(Passage(len(self.out), page.number, page.text[start:end], heading, kind, start, end))

    def flush(self) -> None:
        if self.pack is not None:
            self.emit(self.pack.page, self.pack.kind, self.pack.start, self.pack.end, self.heading)
        self.pack = None

    def page(self, page: Page) -> None:
        for block in page.blocks or infer_blocks(page.text):
            if block.kind == "heading":
                self.flush()
                self.heading = page.text[block.start : block.end]
            elif block.kind == "table_row":
                self.flush()
                for s, e in _hard_split(page.text, block.start, block.end, self.max_chars):
                    self.emit(page, "table_row", s, e, block.caption or self.heading)
            elif block.end - block.start > self.max_chars:
                self.flush()
                kind: PassageKind = "list_item" if block.kind == "list_item" else "prose"
                for s, e in _chunks(page.text, block.start, block.end, self.target, self.max_chars):
                    self.emit(page, kind, s, e, self.heading)
            else:
                self.add(page, block)
        self.flush()  # a passage never runs onto the next page

    def add(self, page: Page, block: Block) -> None:
        """Pack one paragraph or list item onto the open passage, or close it and open a new one."""
        kind: PassageKind = "list_item" if block.kind == "list_item" else "prose"
        pack = self.pack
        if pack is not None and kind == "list_item" and pack.kind == "prose":
            if page.text[pack.last_start : pack.end].endswith(":"):
                # "The following need authorization:" belongs with the list it introduces.
                if pack.last_start > pack.start:
                    self.emit(page, "prose", pack.start, pack.before_last, self.heading)
                pack = _Pack(page, "list_item", pack.last_start, pack.end, pack.last_start, pack.last_start)
                if block.end - pack.start <= self.max_chars:
                    self.pack = _Pack(page, kind, pack.start, block.end, block.start, pack.end)
                    return
                self.pack = pack
        if pack is not None and pack.kind == kind and block.end - pack.start <= self.target:
            self.pack = _Pack(page, kind, pack.start, block.end, block.start, pack.end)
            return
        self.flush()
        self.pack = _Pack(page, kind, block.start, block.end, block.start, block.start)


def split_passages(doc: Extracted, *, target_chars: int = 500, max_chars: int = 900) -> list[Passage]:
    """The document's passages in reading order, each with the nearest heading above it."""
    if not 20 <= target_chars <= max_chars:
        raise InvalidInput(
            f"passage sizes need 20 <= target_chars <= max_chars, not {target_chars} and {max_chars}",
            code="invalid_passage_size",
        )
    splitter = _Splitter(target_chars, max_chars)
    for page in doc.pages:
        splitter.page(page)
    return splitter.out
