"""OCR of scanned PDF pages: pdftoppm renders a page, tesseract reads it, several pages at a time.

The output is laid out like pypdf's layout mode (words placed at their column, paragraphs apart), so
the same line reader finds paragraphs, headings and table columns in scans.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from shipyard.documents.extract.clean import clean_raw
from shipyard.documents.extract.lines import squash
from shipyard.documents.extract.model import OcrOptions

log = logging.getLogger(__name__)

# A heading line's letters stand this much taller than the page's usual line.
_HEADING_HEIGHT = 1.3
# A page is rendered no larger than this many pixels on its long side (a poster-sized page at 200 dpi
# would take gigabytes).
_MAX_PIXELS_LONG_SIDE = 8000


@dataclass(frozen=True)
class OcrPage:
    """What tesseract read on one page."""

    lines: list[str]
    headings: dict[str, int] = field(default_factory=dict)
    confidence: float | None = None


class OcrError(Exception):
    """OCR of one page failed; the message says why in words."""


@dataclass(frozen=True)
class _Word:
    block: tuple[int, int, int]  # (block, paragraph, line)
    left: int
    height: int
    width: int
    text: str
    conf: float


def missing_tools(options: OcrOptions) -> list[str]:
    """The OCR programs that are not installed (empty when OCR can run)."""
    return [cmd for cmd in (options.pdftoppm_cmd, options.tesseract_cmd) if shutil.which(cmd) is None]


def page_dpi(options: OcrOptions, width_pt: float, height_pt: float) -> int:
    """The rendering resolution for a page: the asked dpi, lowered for very large pages."""
    long_side_in = max(width_pt, height_pt, 1.0) / 72
    return max(50, min(options.dpi, int(_MAX_PIXELS_LONG_SIDE / long_side_in)))


def ocr_pages(pdf: bytes, pages: dict[int, int], options: OcrOptions) -> dict[int, OcrPage | OcrError]:
    """OCR each page number in `pages` (mapped to its dpi), `options.workers` at a time."""
    with tempfile.TemporaryDirectory(prefix="shipyard-ocr-") as tmp:
        path = Path(tmp) / "document.pdf"
        path.write_bytes(pdf)

        def one(number: int) -> OcrPage | OcrError:
            try:
                return _ocr_page(path, number, pages[number], options)
            except OcrError as exc:
                return exc

        with ThreadPoolExecutor(max_workers=options.workers, thread_name_prefix="ocr") as pool:
            return dict(zip(pages, pool.map(one, pages), strict=True))


def _run(args: list[str], deadline: float, what: str, number: int, options: OcrOptions) -> bytes:
    left = deadline - time.monotonic()
    if left <= 0:
        raise OcrError(f"OCR of page {number} took longer than {options.timeout_s:g} s and was stopped")
    # One thread per tesseract: the pages already run in parallel and would fight over the cores.
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    try:
        done = subprocess.run(args, capture_output=True, timeout=left, env=env, check=False)
    except subprocess.TimeoutExpired:
        raise OcrError(
            f"OCR of page {number} took longer than {options.timeout_s:g} s and was stopped"
        ) from None
    except OSError as exc:
        raise OcrError(f"{what} could not be started for page {number}: {exc.strerror or exc}") from exc
    if done.returncode != 0:
        err = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise OcrError(
            f"{what} failed on page {number}: {err[-1] if err else f'exit status {done.returncode}'}"
        )
    return done.stdout


def _ocr_page(pdf: Path, number: int, dpi: int, options: OcrOptions) -> OcrPage:
    deadline = time.monotonic() + options.timeout_s
    image = pdf.with_name(f"page-{number}")
    # Raw PGM, not PNG: compressing a noisy scan to PNG took 4 s a page, writing PGM 0.2 s; tesseract
    # reads the same pixels either way.
    render = [options.pdftoppm_cmd, "-r", str(dpi), "-f", str(number), "-l", str(number), "-gray"]
    _run([*render, "-singlefile", str(pdf), str(image)], deadline, "pdftoppm", number, options)
    pgm = image.with_suffix(".pgm")
    try:
        args = [options.tesseract_cmd, str(pgm), "-", "--dpi", str(dpi), "-l", options.language, "tsv"]
        tsv = _run(args, deadline, "tesseract", number, options)
    finally:
        pgm.unlink(missing_ok=True)
    return read_tsv(tsv.decode("utf-8", "replace"))


def _words(tsv: str) -> list[_Word]:
    words = []
    for row in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        text = clean_raw(row.get("text") or "").strip()
        if row.get("level") != "5" or not text:
            continue
        try:
            key = (int(row["block_num"]), int(row["par_num"]), int(row["line_num"]))
            word = _Word(
                key, int(row["left"]), int(row["height"]), int(row["width"]), text, float(row["conf"])
            )
        except (KeyError, TypeError, ValueError):
            continue
        words.append(word)
    return words


def read_tsv(tsv: str) -> OcrPage:
    """Lines, heading lines and mean word confidence from tesseract's TSV output."""
    words = _words(tsv)
    if not words:
        return OcrPage([])
    confidences = [w.conf for w in words if w.conf >= 0]
    confidence = round(statistics.fmean(confidences) / 100, 4) if confidences else None
    char_width = statistics.median(w.width / len(w.text) for w in words) or 1.0
    grouped: dict[tuple[int, int, int], list[_Word]] = {}
    for word in words:
        grouped.setdefault(word.block, []).append(word)
    lines: list[str] = []
    heights: dict[str, float] = {}
    previous: tuple[int, int] | None = None
    for key, line_words in grouped.items():
        if previous is not None and key[:2] != previous:
            lines.append("")  # a new tesseract paragraph
        previous = key[:2]
        text = _place(line_words, char_width)
        lines.append(text)
        heights[squash(text)] = statistics.median(w.height for w in line_words)
    usual = statistics.median(heights.values())
    headings = {
        key: 1
        for key, line in ((squash(t), t) for t in lines if t)
        if heights[key] >= _HEADING_HEIGHT * usual and len(line.split()) <= 12
    }
    return OcrPage(lines, headings, confidence)


def _place(words: Iterable[_Word], char_width: float) -> str:
    """Words at the column their position gives, so indentation and table gaps survive."""
    line = ""
    right = 0
    for word in sorted(words, key=lambda w: w.left):
        gap = (word.left - right) / char_width
        if not line:
            line = " " * round(word.left / char_width)
        elif gap < 2.5:
            line += " "  # an ordinary space between words
        else:
            line += " " * max(3, round(word.left / char_width) - len(line))
        line += word.text
        right = word.left + word.width
    return line
