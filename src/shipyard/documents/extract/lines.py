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


def _guessed_heading(text: str, isolated: bool) -> bool:
    words = text.split()
    return (
        isolated
        and 0 < len(words) <= 12
        and len(text) <= 80
        and (text[0].isupper() or text[0].isdigit())
        and not text.endswith((".", ",", ";", "!", "?"))
        and any(ch.isalpha() for ch in text)
    )


def build_blocks(lines: list[str], hints: LineHints, out: PageBuilder) -> None:
    """Turn one page's laid-out lines into blocks on `out`."""
    tables = _find_tables(lines)
    widths = sorted(len(collapse_spaces(line)) for line in lines if line.strip())
    width = widths[int(len(widths) * 0.9)] if widths else 0
    para: list[str] = []
    kind = "paragraph"
    para_indent = 0
    prev_indent = 0

    def flush() -> None:
        nonlocal para, kind
        if para:
            out.add("list_item" if kind == "list_item" else "paragraph", join_lines(para))
        para = []
        kind = "paragraph"

    i = 0
    while i < len(lines):
        if i in tables:
            flush()
            if tables[i]:
                _emit_table(tables[i], hints, out)
            i += 1
            continue
        raw = lines[i]
        text = collapse_spaces(raw)
        if not text:
            flush()
            i += 1
            continue
        key = squash(text)
        if key in hints.headings:
            flush()
            level = hints.headings[key]
            parts = [text]
            while (
                i + 1 < len(lines)
                and i + 1 not in tables
                and hints.headings.get(squash(lines[i + 1])) == level
            ):
                i += 1
                parts.append(collapse_spaces(lines[i]))
            out.add("heading", join_lines(parts), level=level)
            i += 1
            continue
        if hints.guess_headings and not para:
            after_blank = i + 1 >= len(lines) or not lines[i + 1].strip()
            has_more = any(line.strip() for line in lines[i + 1 :])
            if after_blank and has_more and _guessed_heading(text, True) and not _list_marker(text)[0]:
                out.add("heading", text, level=_heading_level(text))
                i += 1
                continue
        indent = _indent(raw)
        is_item, item_text = _list_marker(text)
        if para and not is_item:
            last = collapse_spaces(para[-1])
            ended = bool(_SENTENCE_END.search(last)) and len(last) < 0.75 * width
            if kind == "list_item":
                breaks = indent < para_indent - 1 or (ended and indent <= para_indent + 1)
            else:
                deeper = indent > prev_indent + 1
                shallower = indent < prev_indent - 1 and len(para) > 1
                breaks = ended or deeper or shallower
            if breaks:
                flush()
        if is_item:
            flush()
            kind = "list_item"
            para_indent = indent
            para = [item_text]
        else:
            if not para:
                para_indent = indent
            para.append(text)
        prev_indent = indent
        i += 1
    flush()
