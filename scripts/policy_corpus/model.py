"""The source model of the demo corpus: documents as pages of blocks, and labelled questions."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class H:
    """A section heading."""

    text: str


@dataclass(frozen=True)
class P:
    """A paragraph of prose."""

    text: str


@dataclass(frozen=True)
class Bullets:
    """A bulleted list; each item is one line of text."""

    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    """A table with a header row; `widths` are relative column widths."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    widths: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        for row in self.rows:
            if len(row) != len(self.header):
                raise ValueError(f"table row {row!r} has {len(row)} cells, header has {len(self.header)}")


Block = H | P | Bullets | Table
Page = tuple[Block, ...]

FORMATS = ("pdf", "docx", "html", "md", "txt")
ENGINES = {"pdf": ("fpdf", "reportlab", "scan", "scan-poor"), "docx": ("docx",), "html": ("html",)}


@dataclass(frozen=True)
class Doc:
    """One file of the corpus, in upload order."""

    file: str  # relative to documents/, e.g. "northwind-health/nwh-mri-2025.pdf"
    doc_key: str
    title: str
    insurer: str
    topic: str
    version: str
    effective_date: str  # ISO date
    format: str
    pages: tuple[Page, ...]
    engine: str = ""
    policy_number: str = ""
    supersedes: str | None = None
    withdrawn: bool = False
    out_of_scope: bool = False
    missing_pages: tuple[int, ...] = ()
    notes: str = ""
    meta: tuple[str, ...] | None = None  # front-matter lines; None means the standard ones
    copy_of: str | None = None  # exact duplicate: the same bytes as this file
    near_duplicate_of: str | None = None
    text_wrap: int = 78  # plain text and Markdown line width

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"{self.file}: unknown format {self.format!r}")
        if self.format != "pdf" and len(self.pages) != 1:
            raise ValueError(f"{self.file}: only PDFs have more than one page")
        date.fromisoformat(self.effective_date)

    @property
    def ref(self) -> str:
        """The policy version's identity, `doc_key@version`."""
        return f"{self.doc_key}@{self.version}"

    @property
    def scanned(self) -> bool:
        """Whether the file is a PDF of page images with no text layer."""
        return self.engine.startswith("scan")

    @property
    def printed_total(self) -> int:
        """The page count printed in the footers (more than the file holds when pages are missing)."""
        return len(self.pages) + len(self.missing_pages)

    def page_label(self, index: int) -> int:
        """The page number printed on the page at 0-based `index` of the file."""
        number = 0
        for _ in range(index + 1):
            number += 1
            while number in self.missing_pages:
                number += 1
        return number

    def front_matter(self) -> tuple[str, ...]:
        """The lines under the title on the first page."""
        if self.meta is not None:
            return self.meta
        lines = [f"{self.insurer} | Policy number {self.policy_number}", f"Version {self.version}"]
        lines.append(f"Effective date: {long_date(self.effective_date)}")
        if self.supersedes:
            lines.append(f"Supersedes version {self.supersedes.split('@')[1]}")
        return tuple(lines)


@dataclass(frozen=True)
class Q:
    """A labelled question as written in the source (ids and splits are assigned by the build)."""

    question: str
    insurer: str | None
    answer: str
    category: str
    ref: str | None = None
    page: int | None = None
    passage: str | None = None
    evidence: tuple[str, ...] = ()
    trap: str | None = None
    absent: tuple[str, ...] = ()  # lower-case terms no in-scope document (of `insurer`, if set) may contain
    note: str | None = None
    scope: str | None = None  # check `absent` only in this doc_key's active version
    group: str | None = None  # questions on the same fact share a group (and so a split)
    extra: dict[str, str] = field(default_factory=dict)


ABSTAIN = "The active policies do not answer this."


def A(  # noqa: N802 - a short constructor keeps the question tables readable
    question: str,
    insurer: str | None,
    ref: str,
    page: int,
    passage: str,
    evidence: tuple[str, ...] | str,
    answer: str,
    category: str = "direct",
    trap: str | None = None,
    group: str | None = None,
) -> Q:
    """An answerable question."""
    ev = (evidence,) if isinstance(evidence, str) else evidence
    return Q(question, insurer, answer, category, ref, page, passage, ev, trap, group=group)


def U(  # noqa: N802
    question: str,
    insurer: str | None,
    category: str,
    note: str,
    absent: tuple[str, ...] | str = (),
    trap: str | None = None,
    scope: str | None = None,
) -> Q:
    """An unanswerable question."""
    terms = (absent,) if isinstance(absent, str) else absent
    return Q(question, insurer, ABSTAIN, category, trap=trap, absent=terms, note=note, scope=scope)


_MONTHS = "January February March April May June July August September October November December".split()


def doc_maker(directory: str, insurer: str) -> Callable[..., Doc]:
    """A Doc constructor for one insurer's folder (each insurer's content file makes its own)."""

    def make(
        file: str,
        key: str,
        title: str,
        topic: str,
        version: str,
        eff: str,
        fmt: str,
        pages: tuple[Page, ...],
        **kw: object,
    ) -> Doc:
        return Doc(f"{directory}/{file}", key, title, insurer, topic, version, eff, fmt, pages, **kw)  # type: ignore[arg-type]

    return make


def long_date(iso: str) -> str:
    """'2025-03-01' as 'March 1, 2025'."""
    d = date.fromisoformat(iso)
    return f"{_MONTHS[d.month - 1]} {d.day}, {d.year}"


def normalise(text: str) -> str:
    """Collapse every run of whitespace to one space (how passages are compared with documents)."""
    return re.sub(r"\s+", " ", text).strip()


def block_text(block: Block) -> str:
    """The plain text of a block as a text extractor returns it (table rows: cells joined by spaces)."""
    if isinstance(block, H | P):
        return block.text
    if isinstance(block, Bullets):
        return "\n".join(block.items)
    lines = [" ".join(block.header)] + [" ".join(row) for row in block.rows]
    return "\n".join(lines)


def page_text(doc: Doc, index: int) -> str:
    """The intended text of one page (title and front matter on the first), before normalisation."""
    parts: list[str] = []
    if index == 0:
        parts.append(doc.title)
        parts.extend(doc.front_matter())
    parts.extend(block_text(b) for b in doc.pages[index])
    return "\n".join(parts)
