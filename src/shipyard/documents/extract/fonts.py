"""Which PDF lines are headings (larger or bold type) and which are bold, from pypdf's text visitor."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

from pypdf import PageObject

from shipyard.documents.extract.clean import clean_raw, collapse_spaces
from shipyard.documents.extract.lines import LineHints, squash

# Type this much larger than the body text marks a heading.
_HEADING_RATIO = 1.15
_HEADING_MAX_CHARS = 150
_BOLD_HEADING_MAX_CHARS = 80
_BOLD_WORDS = ("bold", "black", "heavy", "semibold", "demi")


@dataclass(frozen=True)
class FontLine:
    """One visual line of a PDF page: its text, largest type size and whether all of it is bold."""

    text: str
    size: float
    bold: bool


def _is_bold(font: Any) -> bool:
    try:
        name = str(font.get("/BaseFont", "")).lower()
        if any(word in name for word in _BOLD_WORDS):
            return True
        descriptor = font.get("/FontDescriptor")
        if descriptor is None and "/DescendantFonts" in font:
            descriptor = font["/DescendantFonts"][0].get_object().get("/FontDescriptor")
        if descriptor is not None:
            descriptor = descriptor.get_object()
            return float(descriptor.get("/FontWeight", 400)) >= 600 or bool(
                int(descriptor.get("/Flags", 0)) & 1 << 18
            )
    except (AttributeError, IndexError, KeyError, TypeError, ValueError):
        return False
    return False


def font_lines(page: PageObject) -> list[FontLine]:
    """The page's lines with type size and weight (empty when the page's fonts cannot be read)."""
    runs: list[tuple[float, float, str, float, bool]] = []
    bold_cache: dict[int, bool] = {}

    def visit(text: str, cm: list[float], tm: list[float], font: Any, size: float) -> None:
        if not text.strip():
            return
        scale = math.sqrt(abs((tm[0] * tm[3] - tm[1] * tm[2]) * (cm[0] * cm[3] - cm[1] * cm[2])))
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        if font is not None and id(font) not in bold_cache:
            bold_cache[id(font)] = _is_bold(font)
        runs.append((y, x, clean_raw(text), size * scale, bold_cache.get(id(font), False)))

    page.extract_text(visitor_text=visit)
    lines: list[list[tuple[float, float, str, float, bool]]] = []
    for run in sorted(runs, key=lambda r: (-r[0], r[1])):
        if lines and abs(lines[-1][0][0] - run[0]) <= 0.3 * max(run[3], 1.0):
            lines[-1].append(run)
        else:
            lines.append([run])
    out = []
    for line in lines:
        text = collapse_spaces(" ".join(r[2] for r in sorted(line, key=lambda r: r[1])))
        if text:
            # The type of the words, not of a bullet glyph or a symbol set in another font.
            wordy = [r for r in line if any(ch.isalpha() for ch in r[2])] or line
            main = max(wordy, key=lambda r: len(r[2].strip()))
            out.append(FontLine(text, main[3], all(r[4] for r in wordy)))
    return out


def line_hints(pages: list[list[FontLine]]) -> list[LineHints]:
    """Per page: headings by type size across the whole document, and the lines set in bold."""
    chars: Counter[float] = Counter()
    bold_chars = 0
    for line in (line for page in pages for line in page):
        chars[round(line.size * 2) / 2] += len(line.text)
        bold_chars += len(line.text) if line.bold else 0
    if not chars:
        return [LineHints() for _ in pages]
    body = chars.most_common(1)[0][0]
    # When most text is bold, bold says nothing about headings.
    bold_means_heading = bold_chars * 2 < sum(chars.values())
    sizes = sorted(
        {round(line.size * 2) / 2 for page in pages for line in page if line.size >= body * _HEADING_RATIO},
        reverse=True,
    )
    level = {size: i + 1 for i, size in enumerate(sizes)}
    hints = []
    for page in pages:
        headings: dict[str, int] = {}
        for line in page:
            size = round(line.size * 2) / 2
            if len(line.text) > _HEADING_MAX_CHARS or not any(ch.isalpha() for ch in line.text):
                continue
            if size in level:
                headings[squash(line.text)] = level[size]
            elif (
                bold_means_heading
                and line.bold
                and len(line.text) <= _BOLD_HEADING_MAX_CHARS
                and not line.text.endswith((".", ",", ";"))
            ):
                headings[squash(line.text)] = len(sizes) + 1
        bold = frozenset(squash(line.text) for line in page if line.bold)
        hints.append(LineHints(headings=headings, bold=bold))
    return hints
