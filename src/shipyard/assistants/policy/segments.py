"""Splitting a passage into quotable units (sentences, list items, table rows) with their offsets."""

from __future__ import annotations

import re
from dataclasses import dataclass

# A full stop after these does not end a sentence.
_ABBREVIATIONS = frozenset(
    """
    e.g i.e etc vs no nos dr mr mrs ms inc corp co ltd approx min max fig sec art jan feb mar apr jun jul
    aug sep sept oct nov dec st u.s p pp ch cf al
    """.split()
)
_BOUNDARY_RE = re.compile(r"([.!?][\"')\]]*)\s+(?=[\"'(\[]?[A-Z0-9•])")
_BULLET_RE = re.compile(r"^\s*(?:[-*•▪◦‣–]|\(?[0-9]{1,2}[.)]|\(?[a-z][.)]|\([ivx]+\))\s+")
_ROW_RE = re.compile(r"\S(?:\t| {2,}|\s\|\s)\S")
_WORD_BEFORE_RE = re.compile(r"([A-Za-z][A-Za-z.]*)$")


@dataclass(frozen=True)
class Unit:
    """A quotable stretch of a passage: text[start:end], already stripped of surrounding space."""

    start: int
    end: int
    row: bool = False


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _lines(text: str) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    position = 0
    for line in text.split("\n"):
        out.append((position, position + len(line)))
        position += len(line) + 1
    return out


def _blocks(text: str, table: bool) -> list[tuple[int, int, bool]]:
    """Lines that stand alone (rows, bullets, headings) and runs of wrapped lines joined into blocks."""
    blocks: list[tuple[int, int, bool]] = []
    current: tuple[int, int] | None = None
    for start, end in _lines(text):
        line = text[start:end]
        if not line.strip():
            if current is not None:
                blocks.append((current[0], current[1], False))
                current = None
            continue
        is_row = table or _ROW_RE.search(line) is not None or "|" in line
        if is_row or _BULLET_RE.match(line):
            if current is not None:
                blocks.append((current[0], current[1], False))
                current = None
            blocks.append((start, end, is_row))
            continue
        if current is None:
            current = (start, end)
        else:
            previous = text[current[0] : current[1]].rstrip()
            if previous.endswith(":"):
                # a lead-in line ends a block: what follows is its list
                blocks.append((current[0], current[1], False))
                current = (start, end)
            else:
                current = (current[0], end)
    if current is not None:
        blocks.append((current[0], current[1], False))
    return blocks


def _sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    cursor = start
    for match in _BOUNDARY_RE.finditer(text, start, end):
        if text[match.start()] == ".":
            before = _WORD_BEFORE_RE.search(text, cursor, match.start())
            if before is not None and before.group(1).lower().rstrip(".") in _ABBREVIATIONS:
                continue
            if before is not None and len(before.group(1)) == 1 and before.group(1).isupper():
                continue  # an initial, "J. Smith"
        out.append((cursor, match.end(1)))
        cursor = match.end()
    out.append((cursor, end))
    return out


def split_units(text: str, *, kind: str = "text") -> list[Unit]:
    """Sentences of prose, each bullet, each table row; offsets index into `text`."""
    units: list[Unit] = []
    for block_start, block_end, row in _blocks(text, kind == "table"):
        pieces = [(block_start, block_end)] if row else _sentences(text, block_start, block_end)
        for a, b in pieces:
            a, b = _strip(text, a, b)
            if b > a and any(ch.isalnum() for ch in text[a:b]):
                units.append(Unit(a, b, row))
    return units
