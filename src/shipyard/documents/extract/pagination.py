"""Printed page numbers and running headers/footers: read them, check them, take them out of the text."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from shipyard.documents.extract.clean import collapse_spaces
from shipyard.documents.extract.lines import squash
from shipyard.documents.extract.model import Problem

# Lines at a page's top and bottom that may hold a page number, or a running header or footer.
_LABEL_DEPTH = 3
_RUNNING_DEPTH = 2
_PAGE_OF = re.compile(r"\bpage\s+(\d{1,4})\s*(?:of|/)\s*(\d{1,4})\b", re.IGNORECASE)
_SLASH = re.compile(r"^\s*(\d{1,4})\s*/\s*(\d{1,4})\s*$")
_PAGE_ONLY = re.compile(r"^\s*page\s+(\d{1,4})\s*$", re.IGNORECASE)
_DIGITS = re.compile(r"\d+")
# A footer line is short; a sentence that mentions "page 2 of 5" is not a footer.
_FOOTER_MAX_WORDS = 12
_RUNNING_MAX_CHARS = 150


@dataclass(frozen=True)
class Label:
    """A printed page number, and the page count it gives when it says "of M"."""

    number: int
    total: int | None


def _edges(lines: list[str], depth: int) -> list[int]:
    """Indexes of the first and last `depth` non-blank lines, bottom ones first (footers win)."""
    filled = [i for i, line in enumerate(lines) if line.strip()]
    bottom = filled[-depth:][::-1]
    return bottom + [i for i in filled[:depth] if i not in bottom]


def _label(line: str) -> Label | None:
    text = collapse_spaces(line)
    if len(text.split()) > _FOOTER_MAX_WORDS:
        return None
    for pattern in (_PAGE_OF, _SLASH):
        match = pattern.search(text)
        if match and 0 < int(match.group(1)) <= int(match.group(2)):
            return Label(int(match.group(1)), int(match.group(2)))
    match = _PAGE_ONLY.match(text)
    return Label(int(match.group(1)), None) if match and int(match.group(1)) > 0 else None


def find_labels(pages: list[list[str]]) -> list[tuple[Label, int] | None]:
    """Each page's printed number, read from its footer or header, and the index of the line it is on."""
    found: list[tuple[Label, int] | None] = []
    for lines in pages:
        hit = None
        for i in _edges(lines, _LABEL_DEPTH):
            label = _label(lines[i])
            if label is not None:
                hit = (label, i)
                break
        found.append(hit)
    return found


def running_lines(pages: list[list[str]], headings: list[set[str]]) -> list[set[int]]:
    """Per page, the header and footer lines that repeat (numbers aside) at the edge of most pages.

    Lines known to be headings are not among them: a section title may well open several pages.
    """
    filled = [lines for lines in pages if any(line.strip() for line in lines)]
    if len(filled) < 2:
        return [set() for _ in pages]
    counts: dict[str, int] = {}
    for lines in filled:
        for key in {_running_key(lines[i]) for i in _set_apart(lines)}:
            counts[key] = counts.get(key, 0) + 1
    needed = max(2, math.ceil(0.5 * len(filled)))
    running = {key for key, n in counts.items() if n >= needed and 0 < len(key) <= _RUNNING_MAX_CHARS}
    return [
        {i for i in _set_apart(lines) if _running_key(lines[i]) in running and squash(lines[i]) not in keep}
        for lines, keep in zip(pages, headings, strict=True)
    ]


def _set_apart(lines: list[str]) -> list[int]:
    """Edge lines that stand apart from the body: outermost, or with a blank line on their inner side.

    A paragraph's last line that happens to recur at the foot of several pages is not a footer.
    """
    filled = [i for i, line in enumerate(lines) if line.strip()]
    if not filled:
        return []
    top, bottom = filled[:_RUNNING_DEPTH], filled[-_RUNNING_DEPTH:]
    out = [i for i in top if i == filled[0] or (i + 1 < len(lines) and not lines[i + 1].strip())]
    out += [i for i in bottom if i == filled[-1] or not lines[i - 1].strip()]
    return out


def _running_key(line: str) -> str:
    return _DIGITS.sub("#", collapse_spaces(line)).casefold()


def missing_pages(labels: list[Label | None], page_count: int) -> list[Problem]:
    """A problem for each run of printed page numbers whose footers count pages the file lacks."""
    problems = []
    for segment in _segments(labels):
        total = max((label.total or 0) for _, label in segment)
        first = 1 if total else segment[0][1].number  # "Page N" alone: only gaps between numbers show
        last = total or segment[-1][1].number
        covered = {label.number for _, label in segment} | _inferred(labels, segment)
        missing = [n for n in range(first, last + 1) if n not in covered]
        if missing:
            problems.append(Problem("missing_pages", _missing_message(missing, total, page_count)))
    return problems


def _segments(labels: list[Label | None]) -> list[list[tuple[int, Label]]]:
    """Runs of labelled pages that count up within one total (a merged file holds several)."""
    segments: list[list[tuple[int, Label]]] = []
    for index, label in enumerate(labels):
        if label is None:
            continue
        last = segments[-1][-1][1] if segments else None
        if last is None or label.total != last.total or label.number <= last.number:
            segments.append([])
        segments[-1].append((index, label))
    return segments


def _inferred(labels: list[Label | None], segment: list[tuple[int, Label]]) -> set[int]:
    """Numbers that unlabelled pages inside or next to the segment must carry, by their position."""
    first, last = segment[0][0], segment[-1][0]
    known = dict(segment)
    numbers = set()
    for index in range(max(0, first - 1), min(len(labels), last + 2)):
        if labels[index] is not None:
            continue
        before = [(i, lab) for i, lab in known.items() if i < index]
        after = [(i, lab) for i, lab in known.items() if i > index]
        if before:
            i, lab = max(before, key=lambda item: item[0])
            numbers.add(lab.number + (index - i))
        if after:
            i, lab = min(after, key=lambda item: item[0])
            numbers.add(lab.number - (i - index))
    return numbers


def _missing_message(missing: list[int], total: int, page_count: int) -> str:
    if len(missing) == 1:
        which = f"printed page {missing[0]} is"
    else:
        which = f"printed pages {', '.join(map(str, missing[:-1]))} and {missing[-1]} are"
    counted = f"count {total} pages" if total else "number the pages"
    return (
        f"The page footers {counted} but {which} not in the file (it has {page_count} pages); "
        "anything on the missing pages cannot be found or cited, so upload the complete document."
    )
