"""DOCX, HTML, Markdown and plain text: structure, tables with header names, pages and encodings."""

from __future__ import annotations

import io

import docx
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_BREAK

from shipyard.documents.extract import Extracted, extract
from tests.documents.extract import files

ROWS = [
    "Code: 72148 | Service: MRI lumbar spine without contrast | Prior authorization: Required",
    "Code: 70450 | Service: CT head without contrast | Prior authorization: Not required",
    "Code: 78815 | Service: PET imaging skull base to mid-thigh | Prior authorization: Required",
]


def _blocks(doc: Extracted, page: int = 1) -> list[tuple[str, str]]:
    p = doc.pages[page - 1]
    return [(b.kind, p.text[b.start : b.end]) for b in p.blocks]


def test_docx_headings_lists_and_captioned_table(policy_docx: Extracted) -> None:
    assert policy_docx.format == "docx"
    assert policy_docx.title == "Imaging Prior Authorization Policy"
    assert policy_docx.problems == []
    blocks = _blocks(policy_docx)
    assert blocks[:2] == [("heading", "Imaging Prior Authorization Policy"), ("heading", "1. Scope")]
    assert ("list_item", "MRI of the spine and brain") in blocks
    assert [text for kind, text in blocks if kind == "table_row"] == ROWS
    captions = {b.caption for b in policy_docx.pages[0].blocks if b.kind == "table_row"}
    assert captions == {"Table 1: Codes that need authorization"}
    assert "\n".join(ROWS) in policy_docx.pages[0].text


def test_docx_page_break_starts_a_new_page(policy_docx: Extracted) -> None:
    first, second = policy_docx.pages
    assert first.text.endswith("Requests are reviewed within two business days.")
    assert second.number == 2 and second.label is None and second.source == "text"
    assert _blocks(policy_docx, 2)[0] == ("heading", "3. Retrospective requests")
    assert files.PAGE_THREE[0] in second.text


def test_docx_empty_page_between_breaks_is_reported() -> None:
    document = docx.Document()
    document.add_paragraph("Page one text.").add_run().add_break(WD_BREAK.PAGE)
    document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    document.add_paragraph("Page three text.")
    out = io.BytesIO()
    document.save(out)
    doc = extract(out.getvalue(), "gaps.docx")
    assert [p.text for p in doc.pages] == ["Page one text.", "", "Page three text."]
    assert [(p.code, p.page) for p in doc.problems] == [("empty_page", 2)]


def test_docx_custom_heading_style_is_known_by_its_outline_level() -> None:
    document = docx.Document()
    style = document.styles.add_style("Policy Section", WD_STYLE_TYPE.PARAGRAPH)
    style.base_style = document.styles["Heading 2"]
    document.add_paragraph("Coverage rules", style="Policy Section")
    document.add_paragraph("Beds are rented.")
    out = io.BytesIO()
    document.save(out)
    doc = extract(out.getvalue(), "custom.docx")
    assert _blocks(doc) == [("heading", "Coverage rules"), ("paragraph", "Beds are rented.")]
    assert doc.title == "Coverage rules"


def test_a_damaged_docx_is_unreadable() -> None:
    data = files.policy_docx()
    doc = extract(data[: len(data) // 3], "policy.docx")
    (problem,) = doc.problems
    assert (problem.code, problem.fatal, doc.format) == ("unreadable", True, "docx")
    assert "Word file is damaged" in problem.message


def test_html_drops_script_style_and_nav(policy_html: Extracted) -> None:
    text = policy_html.pages[0].text
    assert "tracking" not in text and "injected" not in text and "font-family" not in text
    assert "All policies" not in text and "Home" not in text
    assert policy_html.title == "Imaging Prior Authorization Policy"


def test_html_headings_paragraphs_lists_and_table(policy_html: Extracted) -> None:
    blocks = _blocks(policy_html)
    assert blocks[:3] == [
        ("heading", "Imaging Prior Authorization Policy"),
        ("heading", "1. Scope"),
        ("paragraph", files.PAGE_ONE[0]),
    ]
    assert ("list_item", "CT of the head, chest and abdomen") in blocks
    assert [text for kind, text in blocks if kind == "table_row"] == ROWS
    levels = [b.level for b in policy_html.pages[0].blocks if b.kind == "heading"]
    assert levels == [1, 2, 2]
    assert {b.caption for b in policy_html.pages[0].blocks if b.kind == "table_row"} == {
        "Codes that need authorization"
    }


def test_html_table_without_header_cells_keeps_plain_cells() -> None:
    html = b"<table><tr><td>Deductible</td><td>$500</td></tr><tr><td>Copay</td><td>$20</td></tr></table>"
    doc = extract(html, "benefits.html")
    assert doc.pages[0].text == "Deductible | $500\nCopay | $20"


def test_markdown_headings_lists_pipe_table_and_inline_markup(policy_markdown: Extracted) -> None:
    assert policy_markdown.format == "markdown"
    assert policy_markdown.title == "Imaging Prior Authorization Policy"
    blocks = _blocks(policy_markdown)
    assert ("list_item", "MRI of the spine and brain") in blocks
    assert [text for kind, text in blocks if kind == "table_row"] == ROWS
    assert blocks[-1] == ("paragraph", "See the provider manual for appeal rules.")
    assert "**" not in policy_markdown.pages[0].text and "](" not in policy_markdown.pages[0].text


def test_markdown_front_matter_title_and_setext_heading() -> None:
    text = "---\ntitle: DME Rental Policy\n---\nRentals\n=======\n\nBeds are rented for 13 months.\n"
    doc = extract(text.encode(), "dme.md")
    assert doc.title == "DME Rental Policy"
    assert _blocks(doc) == [("heading", "Rentals"), ("paragraph", "Beds are rented for 13 months.")]


def test_plain_text_utf8_paragraphs_lists_and_guessed_headings() -> None:
    text = (
        "Hospital Beds\n\nBeds are rented, never bought. The rental stops\nafter thirteen months.\n\n"
        "• Semi-electric beds need a positioning need.\n• Full-electric beds are not covered.\n"
    )
    doc = extract(text.encode(), "beds.txt")
    assert doc.problems == []
    assert doc.title == "Hospital Beds"
    assert _blocks(doc) == [
        ("heading", "Hospital Beds"),
        ("paragraph", "Beds are rented, never bought. The rental stops after thirteen months."),
        ("list_item", "Semi-electric beds need a positioning need."),
        ("list_item", "Full-electric beds are not covered."),
    ]


def test_cp1252_text_is_read_and_the_guess_is_reported() -> None:
    data = "Members pay a \u201ccopay\u201d of $20 \u2013 see the caf\u00e9 benefit.".encode("cp1252")
    doc = extract(data, "copay.txt")
    assert doc.pages[0].text == "Members pay a \u201ccopay\u201d of $20 \u2013 see the caf\u00e9 benefit."
    (problem,) = doc.problems
    assert (problem.code, problem.fatal) == ("encoding_replaced", False)
    assert "Windows-1252" in problem.message


def test_html_declared_charset_is_honoured_without_a_problem() -> None:
    html = '<html><head><meta charset="iso-8859-1"></head><body><p>Caf\u00e9 rules</p></body></html>'
    doc = extract(html.encode("latin-1"), "cafe.html")
    assert doc.pages[0].text == "Caf\u00e9 rules"
    assert doc.problems == []


def test_normalisation_is_nfkc_and_collapses_spaces_but_never_rewords() -> None:
    text = "The \ufb01rst   visit\u00a0is covered\u200b.\n\nSecond\tparagraph."
    doc = extract(text.encode(), "note.txt")
    assert doc.pages[0].text == "The first visit is covered.\n\nSecond paragraph."


def test_plain_text_pipe_table_becomes_rows() -> None:
    text = "Code | Service\n72148 | MRI lumbar spine\n70450 | CT head\n"
    doc = extract(text.encode(), "codes.txt")
    assert _blocks(doc) == [
        ("table_row", "Code | Service"),
        ("table_row", "72148 | MRI lumbar spine"),
        ("table_row", "70450 | CT head"),
    ]


def test_whitespace_only_file_is_an_empty_document() -> None:
    doc = extract(b"  \n\n ", "empty.md")
    assert doc.format == "markdown" and not doc.usable
    assert [p.code for p in doc.problems] == ["empty_document"]


def test_html_with_no_text_is_an_empty_document() -> None:
    doc = extract(b"<html><body><script>x()</script></body></html>", "blank.html")
    assert [(p.code, p.fatal) for p in doc.problems] == [("empty_document", True)]


def test_plain_text_underlined_headings_and_short_lines_kept_apart() -> None:
    text = (
        "Ambulance Transport\n===================\n\n"
        "Northwind Health | Policy number NWH-MP-701\nVersion 2024.1\nEffective date: January 1, 2024\n\n"
        "Emergency transport\n-------------------\n\n"
        "Emergency ground ambulance transport (A0427 advanced life support, A0429 basic\n"
        "life support) does not require prior authorization.\n"
    )
    doc = extract(text.encode(), "ambulance.txt")
    assert doc.title == "Ambulance Transport"
    assert _blocks(doc) == [
        ("heading", "Ambulance Transport"),
        ("paragraph", "Northwind Health | Policy number NWH-MP-701"),
        ("paragraph", "Version 2024.1"),
        ("paragraph", "Effective date: January 1, 2024"),
        ("heading", "Emergency transport"),
        (
            "paragraph",
            "Emergency ground ambulance transport (A0427 advanced life support, A0429 basic life support) "
            "does not require prior authorization.",
        ),
    ]
    assert [b.level for b in doc.pages[0].blocks if b.kind == "heading"] == [1, 2]
