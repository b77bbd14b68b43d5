"""Scanned PDFs through real pdftoppm and tesseract: text, confidence, footers, and OCR going wrong."""

from __future__ import annotations

import pytest

from shipyard.core.errors import InvalidInput
from shipyard.documents.extract import Extracted, OcrOptions, extract
from shipyard.documents.extract.ocr import read_tsv
from tests.documents.extract import files

ocr = pytest.mark.slow


@ocr
def test_a_scan_is_read_back_with_its_key_sentence(scanned_pdf: Extracted) -> None:
    assert scanned_pdf.problems == []
    first, second = scanned_pdf.pages
    assert (first.source, second.source) == ("ocr", "ocr")
    assert files.KEY_SENTENCE in first.text
    assert "emergency room" in second.text
    for page in scanned_pdf.pages:
        assert page.ocr_confidence is not None and page.ocr_confidence > 0.8


@ocr
def test_a_scan_keeps_its_printed_numbers_and_loses_its_footers(scanned_pdf: Extracted) -> None:
    assert [p.label for p in scanned_pdf.pages] == ["1", "2"]
    assert all("Page" not in p.text for p in scanned_pdf.pages)


@ocr
def test_a_scan_has_paragraphs_and_a_heading_by_letter_height(scanned_pdf: Extracted) -> None:
    page = scanned_pdf.pages[0]
    kinds = [(b.kind, page.text[b.start : b.end][:20]) for b in page.blocks]
    assert kinds == [
        ("heading", "Imaging Policy"),
        ("paragraph", "Prior authorization "),
        ("paragraph", "Claims submitted wit"),
    ]
    assert scanned_pdf.title == "Imaging Policy"


@ocr
def test_a_low_resolution_scan_is_flagged_as_doubtful(low_resolution_scan: Extracted) -> None:
    assert low_resolution_scan.usable
    (page,) = low_resolution_scan.pages
    assert page.source == "ocr" and page.ocr_confidence is not None and page.ocr_confidence < 0.75
    (problem,) = low_resolution_scan.problems
    assert (problem.code, problem.page, problem.fatal) == ("low_ocr_confidence", 1, False)
    assert f"{page.ocr_confidence:.0%} confidence" in problem.message


def test_missing_ocr_programs_leave_the_page_empty_and_say_why() -> None:
    options = OcrOptions(tesseract_cmd="/nonexistent/tesseract")
    doc = extract(files.scanned_pdf(2), "scan.pdf", ocr=options)
    assert [(p.code, p.page, p.fatal) for p in doc.problems] == [
        ("empty_document", None, True),
        ("ocr_unavailable", 1, False),
        ("ocr_unavailable", 2, False),
    ]
    assert "/nonexistent/tesseract is not installed" in doc.problems[1].message
    assert "needs OCR" in doc.problems[0].message
    assert all(page.text == "" for page in doc.pages)


def test_ocr_turned_off_is_said_so() -> None:
    doc = extract(files.scanned_pdf(2), "scan.pdf", ocr=OcrOptions(enabled=False))
    assert [p.code for p in doc.problems] == ["empty_document", "ocr_unavailable", "ocr_unavailable"]
    assert "OCR is turned off" in doc.problems[1].message


@ocr
def test_ocr_past_its_time_limit_is_stopped_and_reported() -> None:
    doc = extract(files.scanned_pdf(2), "scan.pdf", ocr=OcrOptions(timeout_s=0.001))
    codes = {(p.code, p.page) for p in doc.problems}
    assert {("ocr_failed", 1), ("ocr_failed", 2)} <= codes
    assert "took longer than 0.001 s" in next(p.message for p in doc.problems if p.code == "ocr_failed")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"dpi": 20}, "dpi must be between 50 and 600"),
        ({"min_confidence": 1.5}, "min_confidence must be between 0 and 1"),
        ({"workers": 0}, "workers must be at least 1"),
        ({"timeout_s": 0}, "timeout_s must be positive"),
        ({"language": "-psm 0"}, "language must be tesseract codes"),
    ],
)
def test_bad_ocr_options_are_refused(options: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as raised:
        OcrOptions(**options)  # type: ignore[arg-type]
    assert raised.value.code == "invalid_ocr_options"


def test_tesseract_tsv_gives_lines_paragraphs_columns_and_confidence() -> None:
    header = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"
    rows = [
        (1, 1, 1, 100, 40, 90.0, "Coverage"),
        (1, 1, 2, 220, 40, 80.0, "rules"),
        (2, 1, 1, 100, 20, 70.0, "72148"),
        (2, 1, 2, 400, 20, 60.0, "Required"),
        (2, 1, 3, 520, 20, -1.0, " "),
    ]
    tsv = "\n".join(
        [header, "1\t1\t0\t0\t0\t0\t0\t0\t1700\t2200\t-1\t"]
        + [
            f"5\t1\t{b}\t1\t1\t{w}\t{left}\t10\t{len(t) * 20}\t{h}\t{c}\t{t}"
            for b, _, w, left, h, c, t in rows
        ]
    )
    page = read_tsv(tsv)
    assert page.confidence == 0.75  # mean of 90, 80, 70, 60; the -1 blank word is left out
    # Words keep their columns: 72148 at x=100 and Required at x=400 are 15 character widths apart.
    assert page.lines == ["     Coverage rules", "", "     72148" + " " * 10 + "Required"]
    assert page.headings == {"coveragerules": 1}
