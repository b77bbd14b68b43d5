"""Splitting passages into quotable sentences, list items and table rows."""

from __future__ import annotations

from shipyard.assistants.policy.segments import split_units

TEXT = """Prior authorization is required for MRI of the lumbar spine (e.g. CPT 72148). Requests must document
six weeks of conservative therapy. See Sec. 4 for details.

The following need review:
- Repeat imaging within 12 months.
- Imaging for J. Smith's protocol (E0601).
Service | Visits | Authorization
Physical therapy | 20 | Required after visit 12"""


def _quotes(text: str, kind: str = "text") -> list[str]:
    return [text[u.start : u.end] for u in split_units(text, kind=kind)]


def test_sentences_bullets_and_rows_are_separate_units() -> None:
    assert _quotes(TEXT) == [
        "Prior authorization is required for MRI of the lumbar spine (e.g. CPT 72148).",
        "Requests must document\nsix weeks of conservative therapy.",
        "See Sec. 4 for details.",
        "The following need review:",
        "- Repeat imaging within 12 months.",
        "- Imaging for J. Smith's protocol (E0601).",
        "Service | Visits | Authorization",
        "Physical therapy | 20 | Required after visit 12",
    ]


def test_row_units_are_marked_and_offsets_slice_the_text() -> None:
    units = split_units(TEXT)
    assert [u.row for u in units][-2:] == [True, True]
    assert not any(u.row for u in units[:-2])
    for u in units:
        assert TEXT[u.start : u.end] == TEXT[u.start : u.end].strip()


def test_table_passages_split_by_line() -> None:
    table = "CPT code: 72148 | Prior authorization: Yes\nCPT code: 70450 | Prior authorization: No"
    assert _quotes(table, kind="table") == table.split("\n")


def test_blank_and_punctuation_only_text_has_no_units() -> None:
    assert split_units("") == []
    assert split_units(" \n -- \n") == []
