"""Blocks from laid-out lines (PDF text, OCR, plain text): headings, paragraphs, list items, table rows.

The lines keep their spacing: leading spaces give indentation, and runs of three or more spaces, tabs
or ` | ` separate table cells. A table is two or more such lines whose columns line up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from shipyard.documents.extract.builder import PageBuilder, format_row
from shipyard.documents.extract.clean import BULLETS, collapse_spaces, join_lines

_CELL_GAP = re.compile(r"\t+|\s{3,}|\s*(?<!\|)\|(?!\|)\s*")
_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_BULLET = re.compile(rf"^[{re.escape(BULLETS)}\-*–]\s+(?=\S)")
_ENUMERATOR = re.compile(r"^\(?(\d{1,3}|[A-Za-z]|[ivxIVX]{1,4})[.)]\s+(?=\S)")
_SENTENCE_END = re.compile(r"[.!?:;][\"')\]]?$")
_UNDERLINE = re.compile(r"^\s*([=\-~_*#])\1{2,}\s*$")
_NUMBERED_HEADING = re.compile(r"^(\d+(?:\.\d+)*)\.?\s")


def squash(text: str) -> str:
    """A line's identity for matching across extraction modes: its characters without whitespace."""
    return re.sub(r"\s+", "", text).casefold()


@dataclass(frozen=True)
class LineHints:
    """What the source says about lines beyond their text: headings by font size, bold lines."""

    headings: dict[str, int] = field(default_factory=dict)  # squashed line -> heading level
    bold: frozenset[str] = frozenset()  # squashed lines set entirely in bold
    guess_headings: bool = False  # no font information: take short, isolated, unpunctuated lines


@dataclass
class _Row:
    cells: list[tuple[int, str]]  # (column where the cell starts, text)
    raw: str


def _cells(line: str) -> list[tuple[int, str]]:
    cells: list[tuple[int, str]] = []
    pos = 0
    for match in [*_CELL_GAP.finditer(line), None]:
        end = match.start() if match else len(line)
        text = line[pos:end]
        if text.strip():
            cells.append((pos + len(text) - len(text.lstrip()), text.strip()))
        if match:
            pos = match.end()
    return cells


def _aligned(starts: list[int], cells: list[tuple[int, str]], piped: bool) -> int:
    if piped:
        return len(cells)
    return sum(1 for col, _ in cells if any(abs(col - s) <= 2 for s in starts))


def _find_tables(lines: list[str]) -> dict[int, list[_Row]]:
    """Table runs by the index of their first line; every line of a run is consumed by it."""
    tables: dict[int, list[_Row]] = {}
    i = 0
    while i < len(lines):
        cells = _cells(lines[i])
        if len(cells) < 2:
            i += 1
            continue
        piped = "|" in lines[i]
        rows = [_Row(cells, lines[i])]
        starts = [c for c, _ in cells]
        end = i
        j = i + 1
        while j < len(lines):
            if not lines[j].strip() or _RULE.match(lines[j]):
                j += 1
                continue
            nxt = _cells(lines[j])
            hits = _aligned(starts, nxt, piped and "|" in lines[j])
            if not piped and nxt and hits == len(nxt) and nxt[0][0] > starts[0] + 2 and j == end + 1:
                _continue_row(rows[-1], nxt)
            elif len(nxt) >= 2 and hits >= 2 and (not piped or len(nxt) == len(rows[0].cells)):
                rows.append(_Row(nxt, lines[j]))
            else:
                break
            starts = sorted({*starts, *(c for c, _ in nxt if all(abs(c - s) > 2 for s in starts))})
            end = j
            j += 1
        if len(rows) >= 2:
            tables[i] = rows
            for k in range(i + 1, end + 1):
                tables.setdefault(k, [])
            i = end + 1
        else:
            i += 1
    return tables


def _continue_row(row: _Row, more: list[tuple[int, str]]) -> None:
    """A wrapped cell's next line: each piece joins the cell in its column."""
    for col, text in more:
        target = min(range(len(row.cells)), key=lambda k: abs(row.cells[k][0] - col))
        if abs(row.cells[target][0] - col) <= 2:
            start, old = row.cells[target]
            row.cells[target] = (start, join_lines([old, text]))
        else:
            row.cells.append((col, text))
            row.cells.sort()


def _emit_table(rows: list[_Row], hints: LineHints, out: PageBuilder) -> None:
    header: list[str] | None = None
    body = rows
    first = squash(rows[0].raw)
    if first in hints.bold and not all(squash(r.raw) in hints.bold for r in rows[1:]):
        header = [text for _, text in rows[0].cells]
        body = rows[1:]
    for row in body:
        cells = [text for _, text in row.cells]
        if header and len(row.cells) < len(header):
            cells = _place(row.cells, rows[0].cells)
        out.add("table_row", format_row(cells, header))


def _place(cells: list[tuple[int, str]], header: list[tuple[int, str]]) -> list[str]:
    """Cells of a row with blanks put under their header column, so names stay paired with values."""
    placed = [""] * len(header)
    for col, text in cells:
        k = min(range(len(header)), key=lambda h: abs(header[h][0] - col))
        placed[k] = f"{placed[k]} {text}".strip()
    return placed


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _list_marker(text: str) -> tuple[bool, str]:
    """(whether the line starts a list item, its text without a bullet glyph; numbers are kept)."""
    bullet = _BULLET.match(text)
    if bullet:
        return True, text[bullet.end() :]
    return bool(_ENUMERATOR.match(text)), text


def _heading_level(text: str) -> int:
    numbered = _NUMBERED_HEADING.match(text)
    return numbered.group(1).count(".") + 1 if numbered else 1


def _guessed_heading(text: str) -> bool:
    """A line that reads like a heading: short, capitalised, not ending like a sentence."""
    words = text.split()
    return (
        0 < len(words) <= 12
        and len(text) <= 80
        and (text[0].isupper() or text[0].isdigit())
        and not text.endswith((".", ",", ";", "!", "?"))
        and any(ch.isalpha() for ch in text)
    )


class _Reader:
    """Walks one page's lines, gathering paragraph and list-item lines until something ends them."""

    def __init__(self, lines: list[str], hints: LineHints, out: PageBuilder) -> None:
        self.lines = lines
        self.hints = hints
        self.out = out
        self.tables = _find_tables(lines)
        widths = sorted(len(collapse_spaces(line)) for line in lines if line.strip())
        self.width = widths[int(len(widths) * 0.9)] if widths else 0
        self.para: list[str] = []
        self.item = False
        self.para_indent = 0
        self.prev_indent = 0

    def flush(self) -> None:
        if self.para:
            self.out.add("list_item" if self.item else "paragraph", join_lines(self.para))
        self.para = []
        self.item = False

    def read(self) -> None:
        i = 0
        while i < len(self.lines):
            i = self.step(i)
        self.flush()

    def step(self, i: int) -> int:
        """Handle line i (and any lines that belong with it); the index of the next line to read."""
        if i in self.tables:
            self.flush()
            if self.tables[i]:
                _emit_table(self.tables[i], self.hints, self.out)
            return i + 1
        raw = self.lines[i]
        text = collapse_spaces(raw)
        if not text:
            self.flush()
            return i + 1
        underline = _UNDERLINE.match(raw)
        if underline:
            if len(self.para) == 1 and not self.item:
                # A line underlined with === or --- is a heading (plain text and Markdown habit).
                heading, self.para = self.para[0], []
                self.out.add("heading", heading, level=1 if underline.group(1) == "=" else 2)
            self.flush()
            return i + 1
        if squash(text) in self.hints.headings:
            return self.heading(i, text)
        if self.hints.guess_headings and not self.para and self.isolated(i) and _guessed_heading(text):
            if not _list_marker(text)[0] and not self.underlined(i):
                # Below any heading the type told us about: a guess never outranks the evidence.
                below = max(self.hints.headings.values(), default=0)
                self.out.add("heading", text, level=below + _heading_level(text))
                return i + 1
        self.body_line(raw, text)
        return i + 1

    def isolated(self, i: int) -> bool:
        after_blank = i + 1 >= len(self.lines) or not self.lines[i + 1].strip()
        return (after_blank or self.underlined(i)) and any(line.strip() for line in self.lines[i + 1 :])

    def underlined(self, i: int) -> bool:
        return i + 1 < len(self.lines) and bool(_UNDERLINE.match(self.lines[i + 1]))

    def heading(self, i: int, text: str) -> int:
        self.flush()
        level = self.hints.headings[squash(text)]
        parts = [text]
        while (
            i + 1 < len(self.lines)
            and i + 1 not in self.tables
            and self.hints.headings.get(squash(self.lines[i + 1])) == level
        ):
            i += 1
            parts.append(collapse_spaces(self.lines[i]))  # a heading wrapped onto two lines
        self.out.add("heading", join_lines(parts), level=level)
        return i + 1

    def ends_paragraph(self, indent: int, text: str) -> bool:
        """Whether the line break before `text` ends the paragraph or list item being gathered."""
        last = collapse_spaces(self.para[-1])
        ended = bool(_SENTENCE_END.search(last)) and len(last) < 0.75 * self.width
        # The next word would have fitted on the line, so the line was ended on purpose.
        hyphenated = last.endswith("-") and last[-2:-1].isalpha()
        deliberate = not hyphenated and len(last) + 1 + len(text.split()[0]) < 0.8 * self.width
        if self.item:
            return indent < self.para_indent - 1 or ((ended or deliberate) and indent <= self.para_indent + 1)
        deeper = indent > self.prev_indent + 1
        shallower = indent < self.prev_indent - 1 and len(self.para) > 1
        return ended or deliberate or deeper or shallower

    def body_line(self, raw: str, text: str) -> None:
        indent = _indent(raw)
        is_item, item_text = _list_marker(text)
        if is_item or (self.para and self.ends_paragraph(indent, text)):
            self.flush()
        if is_item:
            self.item = True
            self.para_indent = indent
            self.para = [item_text]
        else:
            if not self.para:
                self.para_indent = indent
            self.para.append(text)
        self.prev_indent = indent


def build_blocks(lines: list[str], hints: LineHints, out: PageBuilder) -> None:
    """Turn one page's laid-out lines into blocks on `out`."""
    _Reader(lines, hints, out).read()
