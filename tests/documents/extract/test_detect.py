"""Format detection: the bytes decide for binary formats, the name or content type for text ones."""

from __future__ import annotations

import gzip

import pytest

from shipyard.core.errors import InvalidInput
from shipyard.documents.extract import UnsupportedFormat, detect_format, extract
from tests.documents.extract import files


def test_pdf_and_docx_are_known_by_their_bytes_whatever_the_name() -> None:
    assert detect_format(files.text_pdf(), "policy.pdf") == "pdf"
    assert detect_format(files.text_pdf(), "policy.docx") == "pdf"
    assert detect_format(files.policy_docx(), "policy.pdf") == "docx"
    assert detect_format(files.policy_docx(), "upload", "application/octet-stream") == "docx"


def test_a_pdf_named_docx_is_read_as_a_pdf() -> None:
    doc = extract(files.text_pdf(), "imaging-policy.docx")
    assert doc.format == "pdf" and doc.usable


@pytest.mark.parametrize(
    ("filename", "content_type", "expected"),
    [
        ("policy.html", None, "html"),
        ("policy.HTM", None, "html"),
        ("policy.md", None, "markdown"),
        ("policy.markdown", None, "markdown"),
        ("policy.txt", None, "text"),
        ("upload", "text/html; charset=utf-8", "html"),
        ("upload", "text/markdown", "markdown"),
        ("upload", "text/plain", "text"),
        ("README", None, "text"),
    ],
)
def test_text_formats_by_extension_or_content_type(
    filename: str, content_type: str | None, expected: str
) -> None:
    assert detect_format(b"Coverage rules for imaging.\n", filename, content_type) == expected


def test_html_without_a_name_is_sniffed() -> None:
    assert detect_format(b"<!DOCTYPE html><html><body>x</body></html>", "upload") == "html"


def test_text_starting_with_bm_is_not_a_bitmap() -> None:
    assert detect_format(b"BMI over 40 qualifies for bariatric surgery review.", "bmi.txt") == "text"


@pytest.mark.parametrize(
    ("data", "filename", "seen"),
    [
        (files.png_image(), "scan.pdf", "a PNG image"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 100, "scan.jpg", "a JPEG image"),
        (files.xlsx_like(), "codes.xlsx", "an Excel workbook (.xlsx)"),
        (gzip.compress(b"policy text", mtime=0), "policy.txt.gz", "a gzip archive"),
        (bytes(range(256)) * 8, "policy.txt", "binary data of an unknown kind"),
        (b"<html>Access denied</html>", "policy.pdf", "text, not the .pdf its name or type claims"),
        (b"name,code\nMRI,72148\n", "codes.csv", "a .csv file"),
    ],
)
def test_anything_else_is_unsupported_and_says_what_it_is(data: bytes, filename: str, seen: str) -> None:
    with pytest.raises(UnsupportedFormat) as raised:
        extract(data, filename)
    error = raised.value
    assert isinstance(error, InvalidInput)
    assert error.code == "unsupported_format"
    assert error.seen == seen
    assert str(error).startswith(f"{filename} is {seen}; upload a PDF, Word (.docx), HTML, Markdown")
    assert (error.problem.code, error.problem.fatal) == ("unsupported_format", True)
