"""Printed page numbers and running lines, on laid-out page lines as the PDF and OCR readers give them."""

from __future__ import annotations

from shipyard.documents.extract.pagination import Label, find_labels, missing_pages, running_lines


def _page(body: str, footer: str | None = None, header: str | None = None) -> list[str]:
    lines = [header, ""] if header else []
    lines += [body, "more text of the body that goes on for a while", ""]
    return lines + ([footer] if footer else [])


def _labels(pages: list[list[str]]) -> list[Label | None]:
    return [hit[0] if hit else None for hit in find_labels(pages)]


def test_page_n_of_m_and_slash_footers_are_read() -> None:
    pages = [_page("a", "Page 1 of 3"), _page("b", "   2 / 3"), _page("c", "Acme Health  |  page 3 of 3")]
    assert _labels(pages) == [Label(1, 3), Label(2, 3), Label(3, 3)]
    assert [hit[1] if hit else None for hit in find_labels(pages)] == [3, 3, 3]


def test_a_sentence_that_mentions_a_page_is_not_a_footer() -> None:
    pages = [
        _page("a", "The schedule of benefits on page 2 of 5 of the member handbook lists every copay amount.")
    ]
    assert _labels(pages) == [None]


def test_gaps_in_page_n_footers_without_a_total_are_found() -> None:
    labels: list[Label | None] = [Label(1, None), Label(2, None), Label(5, None)]
    (problem,) = missing_pages(labels, 3)
    assert "printed pages 3 and 4 are not in the file" in problem.message


def test_an_unlabelled_page_in_a_gap_counts_as_that_page() -> None:
    # OCR could not read page 3's footer; its position says it is printed page 3.
    assert missing_pages([Label(1, 4), Label(2, 4), None, Label(4, 4)], 4) == []


def test_each_document_in_a_merged_file_is_checked_on_its_own() -> None:
    labels: list[Label | None] = [Label(1, 2), Label(2, 2), Label(1, 3), Label(3, 3)]
    (problem,) = missing_pages(labels, 4)
    assert "count 3 pages but printed page 2 is not in the file" in problem.message


def test_running_headers_and_footers_are_found_with_numbers_ignored() -> None:
    pages = [
        _page(f"Body {n} is different on every page.", footer=f"Policy BP-12 rev {n}", header="ACME HEALTH")
        for n in range(1, 5)
    ]
    assert running_lines(pages, [set() for _ in pages]) == [{0, 5}] * 4


def test_a_heading_that_opens_several_pages_is_not_a_running_header() -> None:
    bodies = ["Wheelchairs need an evaluation.", "Oxygen needs blood gas results.", "Beds are rented."]
    pages = [
        ["Coverage criteria", "", body, "and the rest of the section"[: 10 + i]]
        for i, body in enumerate(bodies)
    ]
    assert running_lines(pages, [{"coveragecriteria"}] * 3) == [set()] * 3
    assert running_lines(pages, [set()] * 3) == [{0}] * 3


def test_a_paragraph_line_that_recurs_above_the_footer_is_kept() -> None:
    pages = [
        ["Heading", "", f"Body {n} starts here and", "ends the same way.", "", "Page 1"] for n in range(3)
    ]
    dropped = running_lines(pages, [set()] * 3)
    assert all(3 not in found for found in dropped)
