"""Text PDFs: pages, printed labels, footers and headers removed, tables, gaps, damage and encryption."""

from __future__ import annotations

import io
import random

from pypdf import PdfWriter

from shipyard.documents.extract import Extracted, extract
from tests.documents.extract import files


def _codes(doc: Extracted) -> list[str]:
    return [p.code for p in doc.problems]


def _blocks(doc: Extracted, page: int, kind: str) -> list[str]:
    p = doc.pages[page - 1]
    return [p.text[b.start : b.end] for b in p.blocks if b.kind == kind]


def test_three_page_pdf_reads_pages_labels_and_title(text_pdf: Extracted) -> None:
    assert text_pdf.format == "pdf"
    assert text_pdf.title == "Imaging Prior Authorization Policy"
    assert text_pdf.problems == []
    assert [(p.number, p.label, p.source, p.ocr_confidence) for p in text_pdf.pages] == [
        (1, "1", "text", None),
        (2, "2", "text", None),
        (3, "3", "text", None),
    ]
    assert files.PAGE_ONE[0] in text_pdf.pages[0].text
    assert files.PAGE_THREE[0] in text_pdf.pages[2].text


def test_footers_and_running_headers_are_not_in_the_text(text_pdf: Extracted) -> None:
    for page in text_pdf.pages:
        assert "Page " not in page.text
        assert "Billing Policy BP-12" not in page.text


def test_soft_line_wraps_join_and_paragraph_breaks_stay(text_pdf: Extracted) -> None:
    page = text_pdf.pages[0]
    assert page.text.count("\n\n") >= 3
    assert f"{files.PAGE_ONE[0]}\n\n{files.PAGE_ONE[1]}" in page.text


def test_headings_come_from_type_size_and_weight(text_pdf: Extracted) -> None:
    assert _blocks(text_pdf, 1, "heading") == ["Imaging Prior Authorization Policy", "1. Scope"]
    assert _blocks(text_pdf, 2, "heading") == ["2. Requesting authorization"]
    levels = [b.level for b in text_pdf.pages[0].blocks if b.kind == "heading"]
    assert levels[0] < levels[1]


def test_table_rows_stand_on_their_own_lines_with_the_header_names(text_pdf: Extracted) -> None:
    rows = _blocks(text_pdf, 2, "table_row")
    assert rows == [
        "Code: 72148 | Service: MRI lumbar spine without contrast | Prior authorization: Required",
        "Code: 70450 | Service: CT head without contrast | Prior authorization: Not required",
        "Code: 78815 | Service: PET imaging skull base to mid-thigh | Prior authorization: Required",
    ]
    assert "\n".join(rows) in text_pdf.pages[1].text


def test_a_missing_printed_page_is_named() -> None:
    doc = extract(files.numbered_pdf([1, 2, 4], total=4), "dme.pdf")
    assert [p.label for p in doc.pages] == ["1", "2", "4"]
    (problem,) = doc.problems
    assert problem.code == "missing_pages" and not problem.fatal
    assert "printed page 3 is not in the file" in problem.message
    assert "count 4 pages" in problem.message


def test_a_missing_last_page_is_named() -> None:
    doc = extract(files.numbered_pdf([1, 2, 3], total=5), "dme.pdf")
    (problem,) = doc.problems
    assert problem.code == "missing_pages"
    assert "printed pages 4 and 5 are not in the file (it has 3 pages)" in problem.message


def test_complete_numbering_raises_nothing() -> None:
    doc = extract(files.numbered_pdf([1, 2, 3, 4], total=4), "dme.pdf")
    assert doc.problems == []
    assert files.SECTIONS[2] in doc.pages[2].text


def test_an_empty_page_is_reported_and_the_rest_is_kept() -> None:
    doc = extract(files.pdf_with_blank_page(), "policy.pdf")
    assert doc.usable
    assert [(p.code, p.page) for p in doc.problems] == [("empty_page", 2)]
    assert "Page 2 has no text" in doc.problems[0].message
    assert doc.pages[1].text == "" and doc.pages[1].blocks == ()
    assert files.PAGE_THREE[0] in doc.pages[2].text


def test_a_pdf_of_blank_pages_is_an_empty_document() -> None:
    writer = PdfWriter()
    writer.add_blank_page(612, 792)
    out = io.BytesIO()
    writer.write(out)
    doc = extract(out.getvalue(), "blank.pdf")
    assert not doc.usable
    assert _codes(doc) == ["empty_document", "empty_page"]
    assert doc.problems[0].fatal


def test_words_broken_at_line_ends_are_joined_but_real_hyphens_stay() -> None:
    doc = extract(files.pdf_with_hyphenation(), "dme.pdf")
    text = doc.pages[0].text
    assert "prior authorization from the plan." in text
    assert "Self-funded groups" in text
    assert "non-emergency rentals" in text


def test_a_password_protected_pdf_is_unreadable() -> None:
    doc = extract(files.encrypted_pdf("member-secret"), "locked.pdf")
    assert doc.pages == []
    (problem,) = doc.problems
    assert (problem.code, problem.fatal) == ("unreadable", True)
    assert "password-protected" in problem.message


def test_a_pdf_encrypted_without_a_user_password_opens() -> None:
    doc = extract(files.encrypted_pdf(""), "restricted.pdf")
    assert doc.usable
    assert files.PAGE_ONE[0] in doc.pages[0].text


def test_a_truncated_pdf_is_unreadable() -> None:
    data = files.text_pdf()
    doc = extract(data[: len(data) // 2], "cut.pdf")
    (problem,) = doc.problems
    assert (problem.code, problem.fatal) == ("unreadable", True)
    assert "cut short" in problem.message


def test_a_corrupt_pdf_is_unreadable_with_the_reason() -> None:
    rnd = random.Random(1)
    corrupt = b"%PDF-1.7\n" + bytes(rnd.randrange(256) for _ in range(3000)) + b"\n%%EOF\n"
    doc = extract(corrupt, "broken.pdf")
    (problem,) = doc.problems
    assert (problem.code, problem.fatal) == ("unreadable", True)
    assert problem.message == "The PDF is damaged and cannot be read (startxref not found)."


def test_pdf_header_after_junk_bytes_is_still_a_pdf() -> None:
    doc = extract(b"\r\n" + files.text_pdf(), "imaging.pdf")
    assert doc.format == "pdf" and doc.usable


def test_a_tool_written_title_gives_way_to_the_first_heading() -> None:
    data = files.pdf_of_paragraphs(
        "Sleep Studies", files.SLEEP_STUDY_POLICY, meta_title="Microsoft Word - sleep.docx"
    )
    assert extract(data, "sleep.pdf").title == "Sleep Studies"
