"""Duplicates: one fingerprint for the same text in any format; an edited re-issue near, others far."""

from __future__ import annotations

import pytest

from shipyard.core.errors import InvalidInput
from shipyard.documents.extract import (
    NEAR_DUPLICATE_THRESHOLD,
    Extracted,
    Signature,
    content_fingerprint,
    extract,
    near_duplicate_signature,
    normalise_text,
)
from tests.documents.extract import files

TITLE = "Advanced Imaging Payment Policy"


def _markdown(title: str, paragraphs: list[str]) -> bytes:
    return (f"# {title}\n\n" + "\n\n".join(paragraphs)).encode()


@pytest.fixture(scope="module")
def imaging_pdf() -> Extracted:
    return extract(files.pdf_of_paragraphs(TITLE, files.IMAGING_POLICY), "imaging.pdf")


@pytest.fixture(scope="module")
def imaging_docx() -> Extracted:
    return extract(files.docx_of_paragraphs(TITLE, files.IMAGING_POLICY), "imaging.docx")


def test_the_same_text_as_pdf_docx_markdown_and_text_has_one_fingerprint(
    imaging_pdf: Extracted, imaging_docx: Extracted
) -> None:
    assert len(imaging_pdf.pages) == 3  # footers "Page N of 3" are not part of the text
    markdown = extract(_markdown(TITLE, files.IMAGING_POLICY), "imaging.md")
    wrapped = "\n".join(files.IMAGING_POLICY).replace(". ", ".\n  ")  # hard-wrapped, odd spacing
    text = extract(f"{TITLE}\n\n{wrapped}".upper().encode(), "imaging.txt")
    prints = {content_fingerprint(doc) for doc in (imaging_pdf, imaging_docx, markdown, text)}
    assert len(prints) == 1
    (fingerprint,) = prints
    assert len(fingerprint) == 64 and int(fingerprint, 16) >= 0


def test_a_changed_word_changes_the_fingerprint(imaging_docx: Extracted) -> None:
    edited = extract(files.docx_of_paragraphs(TITLE, files.IMAGING_POLICY_EDITED), "imaging-2025.docx")
    assert content_fingerprint(edited) != content_fingerprint(imaging_docx)


def test_a_lightly_edited_reissue_is_a_near_duplicate_across_formats(imaging_pdf: Extracted) -> None:
    edited = extract(files.docx_of_paragraphs(TITLE, files.IMAGING_POLICY_EDITED), "imaging-2025.docx")
    score = near_duplicate_signature(imaging_pdf).similarity(near_duplicate_signature(edited))
    assert NEAR_DUPLICATE_THRESHOLD < score < 1.0


def test_another_policy_of_the_same_insurer_is_far_below_the_threshold(imaging_pdf: Extracted) -> None:
    sleep = extract(_markdown("Sleep Study Payment Policy", files.SLEEP_STUDY_POLICY), "sleep.md")
    score = near_duplicate_signature(imaging_pdf).similarity(near_duplicate_signature(sleep))
    assert 0.05 < score < 0.5  # the shared boilerplate shows, but nowhere near a duplicate


def test_identical_text_scores_one(imaging_pdf: Extracted, imaging_docx: Extracted) -> None:
    assert near_duplicate_signature(imaging_pdf).similarity(near_duplicate_signature(imaging_docx)) == 1.0


def test_signatures_survive_storage(imaging_pdf: Extracted) -> None:
    signature = near_duplicate_signature(imaging_pdf)
    stored = signature.to_bytes()
    assert len(stored) == 11 + 8 * 256
    assert Signature.from_bytes(stored) == signature


@pytest.mark.parametrize(
    "data", [b"", b"SYMH1", b"XXXXX\x01\x00\x00\x00\x00\x01" + b"\x00" * 256, b"\x00" * 2059]
)
def test_bytes_that_are_not_a_signature_are_refused(data: bytes) -> None:
    with pytest.raises(InvalidInput) as raised:
        Signature.from_bytes(data)
    assert raised.value.code == "invalid_signature"


def test_signatures_of_different_settings_do_not_compare() -> None:
    with pytest.raises(InvalidInput) as raised:
        Signature((1, 2, 3)).similarity(Signature((1, 2, 3, 4)))
    assert raised.value.code == "incompatible_signatures"


def test_normalise_text_unifies_case_spacing_quotes_dashes_and_ligatures() -> None:
    assert normalise_text("  The \u201cﬁrst\u201d visit \u2013 it\u2019s   covered\n\n• Yes ") == (
        'the "first" visit - it\'s covered yes'
    )
