"""Passages: exact substrings of one page, packed and split to size, with their heading and kind."""

from __future__ import annotations

import pytest

from shipyard.core.errors import InvalidInput
from shipyard.documents.extract import Extracted, Page, extract, split_passages

DOCS = ["text_pdf", "policy_docx", "policy_html", "policy_markdown"]

SENTENCES = [
    f"Rule {n} says that a claim for item {n} needs the ordering provider's signature and date."
    for n in range(1, 41)
]


def _check(doc: Extracted, max_chars: int = 900) -> None:
    passages = split_passages(doc, max_chars=max_chars)
    assert passages
    pages = {page.number: page for page in doc.pages}
    assert [p.index for p in passages] == list(range(len(passages)))
    for passage in passages:
        page = pages[passage.page]
        assert page.text[passage.start : passage.end] == passage.text
        assert passage.text == passage.text.strip() and passage.text
        assert len(passage.text) <= max_chars


@pytest.mark.parametrize("name", DOCS)
def test_every_passage_is_the_exact_text_of_one_page(name: str, request: pytest.FixtureRequest) -> None:
    _check(request.getfixturevalue(name))


@pytest.mark.slow
def test_scanned_passages_keep_the_same_invariants(scanned_pdf: Extracted) -> None:
    _check(scanned_pdf)
    assert {p.page for p in split_passages(scanned_pdf)} == {1, 2}


def test_table_rows_are_passages_of_their_own_under_the_caption(policy_docx: Extracted) -> None:
    rows = [p for p in split_passages(policy_docx) if p.kind == "table_row"]
    assert [p.text.split(" | ")[0] for p in rows] == ["Code: 72148", "Code: 70450", "Code: 78815"]
    assert {p.heading for p in rows} == {"Table 1: Codes that need authorization"}


def test_table_rows_without_a_caption_take_the_section_heading(policy_markdown: Extracted) -> None:
    rows = [p for p in split_passages(policy_markdown) if p.kind == "table_row"]
    assert len(rows) == 3 and {p.heading for p in rows} == {"2. Codes"}


def test_a_list_keeps_the_sentence_that_introduces_it(policy_docx: Extracted) -> None:
    (items,) = [p for p in split_passages(policy_docx) if p.kind == "list_item"]
    assert items.text == (
        "The following services are covered:\n\nMRI of the spine and brain\nCT of the head, chest and abdomen"
    )
    assert items.heading == "1. Scope"


def test_headings_carry_over_to_the_next_page_and_passages_never_cross_one(text_pdf: Extracted) -> None:
    passages = split_passages(text_pdf)
    assert [(p.page, p.kind, p.heading) for p in passages] == [
        (1, "prose", "1. Scope"),
        (2, "prose", "2. Requesting authorization"),
        (2, "table_row", "2. Requesting authorization"),
        (2, "table_row", "2. Requesting authorization"),
        (2, "table_row", "2. Requesting authorization"),
        (3, "prose", "3. Retrospective requests"),
    ]


def test_short_paragraphs_are_packed_up_to_the_target() -> None:
    text = "\n\n".join(SENTENCES[:12])
    doc = extract(text.encode(), "rules.txt")
    passages = split_passages(doc, target_chars=300, max_chars=600)
    assert all(len(p.text) <= 300 for p in passages)
    assert all(p.text.count("\n\n") >= 2 for p in passages[:-1])  # three or more paragraphs each
    assert sum(p.text.count("Rule ") for p in passages) == 12


def test_a_long_paragraph_is_cut_at_sentence_ends_below_the_maximum() -> None:
    text = " ".join(SENTENCES)
    doc = extract(text.encode(), "rules.txt")
    passages = split_passages(doc, target_chars=500, max_chars=900)
    assert len(passages) > 3
    for passage in passages:
        assert len(passage.text) <= 900
        assert passage.text.startswith("Rule ") and passage.text.endswith("signature and date.")
    assert " ".join(p.text for p in passages) == doc.pages[0].text


def test_a_sentence_longer_than_the_maximum_is_cut_at_clauses() -> None:
    clause = "the member pays the copay for the visit, "
    text = "Under this plan " + clause * 40 + "and nothing else."
    doc = extract(text.encode(), "long.txt")
    passages = split_passages(doc, target_chars=200, max_chars=300)
    assert all(len(p.text) <= 300 for p in passages)
    assert all(p.text.endswith(",") for p in passages[:-1])


def test_abbreviations_do_not_end_a_sentence() -> None:
    text = ("Devices, e.g. CPAP machines, are rented. " * 30).strip()
    doc = extract(text.encode(), "devices.txt")
    for passage in split_passages(doc, target_chars=100, max_chars=200):
        assert passage.text.startswith("Devices, e.g. CPAP")


def test_pages_without_blocks_are_split_from_their_text() -> None:
    text = "Intro paragraph one.\n\nCode: 1 | Name: A\nCode: 2 | Name: B\n\n• first item\n• second item"
    doc = Extracted("text", None, [Page(1, None, text, "text", None)], [])
    passages = split_passages(doc)
    assert [(p.kind, p.text) for p in passages] == [
        ("prose", "Intro paragraph one."),
        ("table_row", "Code: 1 | Name: A"),
        ("table_row", "Code: 2 | Name: B"),
        ("list_item", "• first item\n• second item"),
    ]


def test_passages_of_untidy_text_are_trimmed_and_still_exact() -> None:
    text = "  Lead line.  \n \n\n   Second para  \n"
    doc = Extracted("text", None, [Page(1, None, text, "text", None)], [])
    passages = split_passages(doc, target_chars=20, max_chars=40)
    assert [p.text for p in passages] == ["Lead line.", "Second para"]
    assert all(text[p.start : p.end] == p.text for p in passages)


@pytest.mark.parametrize(("target", "maximum"), [(10, 100), (500, 400)])
def test_bad_passage_sizes_are_refused(target: int, maximum: int) -> None:
    doc = extract(b"Some text.", "a.txt")
    with pytest.raises(InvalidInput) as raised:
        split_passages(doc, target_chars=target, max_chars=maximum)
    assert raised.value.code == "invalid_passage_size"
