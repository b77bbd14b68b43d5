"""Markdown: headings, paragraphs, list items and pipe tables, with inline markup taken off the text."""

from __future__ import annotations

import re

from shipyard.documents.extract.builder import PageBuilder, first_heading, format_row
from shipyard.documents.extract.clean import clean_raw, join_lines
from shipyard.documents.extract.model import Extracted
from shipyard.documents.extract.text import decode

_ATX = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)\s*$")
_BULLET = re.compile(r"^(\s*)[-*+]\s+(.*)$")
_NUMBERED = re.compile(r"^(\s*)(\d{1,9}[.)]\s+.*)$")
_RULE = re.compile(r"^ {0,3}([-*_])(\s*\1){2,}\s*$")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_QUOTE = re.compile(r"^ {0,3}>\s?")
_INLINE = [
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # images: their alt text
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # links: their text
    (re.compile(r"<(https?://[^>]+)>"), r"\1"),
    (re.compile(r"`([^`]+)`"), r"\1"),
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),
    (re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?!\w)"), r"\1"),
    (re.compile(r"(?<!\w)_(?=\S)(.+?)(?<=\S)_(?!\w)"), r"\1"),
    (re.compile(r"~~(.+?)~~"), r"\1"),
    (re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~])"), r"\1"),
]


def plain(text: str) -> str:
    """Inline Markdown taken off: emphasis, code marks, links and images keep only their words."""
    for pattern, repl in _INLINE:
        text = pattern.sub(repl, text)
    return text


def _cells(line: str) -> list[str]:
    line = line.strip()
    line = line[1:] if line.startswith("|") else line
    line = line[:-1] if line.endswith("|") and not line.endswith("\\|") else line
    return [plain(cell.strip()) for cell in re.split(r"(?<!\\)\|", line)]


class _Reader:
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.out = PageBuilder()
        self.para: list[str] = []
        self.kind = "paragraph"

    def flush(self) -> None:
        if self.para:
            self.out.add(
                "list_item" if self.kind == "list_item" else "paragraph", plain(join_lines(self.para))
            )
        self.para = []
        self.kind = "paragraph"

    def read(self) -> PageBuilder:
        i = 0
        while i < len(self.lines):
            i = self.step(i)
        self.flush()
        return self.out

    def step(self, i: int) -> int:
        line = _QUOTE.sub("", self.lines[i])
        nxt = _QUOTE.sub("", self.lines[i + 1]) if i + 1 < len(self.lines) else ""
        if _FENCE.match(line):
            return self.fence(i)
        rule = _RULE.match(line) and not (self.para and _SETEXT.match(line))
        if not line.strip() or rule:
            self.flush()
            return i + 1
        atx = _ATX.match(line)
        if atx:
            self.flush()
            self.out.add("heading", plain(atx.group(2)), level=len(atx.group(1)))
            return i + 1
        if self.para and self.kind == "paragraph" and _SETEXT.match(line):
            text, self.para = join_lines(self.para), []
            self.out.add("heading", plain(text), level=1 if line.strip().startswith("=") else 2)
            return i + 1
        if "|" in line and _TABLE_RULE.match(nxt) and "-" in nxt:
            return self.table(i)
        bullet, numbered = _BULLET.match(line), _NUMBERED.match(line)
        if bullet or numbered:
            self.flush()
            self.kind = "list_item"
            self.para = [bullet.group(2) if bullet else numbered.group(2) if numbered else line]
            return i + 1
        if self.kind == "list_item" and not line.startswith((" ", "\t")):
            self.flush()  # an unindented line after a list item starts a paragraph
        self.para.append(line)
        return i + 1

    def fence(self, i: int) -> int:
        self.flush()
        marker = _FENCE.match(self.lines[i])
        j = i + 1
        while j < len(self.lines) and not (marker and self.lines[j].strip().startswith(marker.group(1))):
            j += 1
        self.out.add("paragraph", " ".join(self.lines[i + 1 : j]))
        return j + 1

    def table(self, i: int) -> int:
        self.flush()
        header = _cells(self.lines[i])
        j = i + 2
        while j < len(self.lines) and "|" in self.lines[j] and self.lines[j].strip():
            self.out.add("table_row", format_row(_cells(self.lines[j]), header))
            j += 1
        return j


def _front_matter(lines: list[str]) -> tuple[str | None, list[str]]:
    """A YAML front-matter block's title, and the lines after it."""
    if not lines or lines[0].strip() != "---":
        return None, lines
    for end in range(1, min(len(lines), 60)):
        if lines[end].strip() in ("---", "..."):
            title = next(
                (ln.split(":", 1)[1].strip().strip("'\"") for ln in lines[1:end] if ln.startswith("title:")),
                None,
            )
            return title or None, lines[end + 1 :]
    return None, lines


def read_markdown(data: bytes) -> Extracted:
    """A Markdown file as one page of text."""
    text, problem = decode(data)
    title, lines = _front_matter(clean_raw(text).split("\n"))
    out = _Reader(lines).read()
    pages = [out.page(1)]
    return Extracted("markdown", title or first_heading(pages), pages, [problem] if problem else [])
