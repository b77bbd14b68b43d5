"""Extracted documents shared by several tests; OCR'd ones are read once per session (each takes seconds)."""

from __future__ import annotations

import pytest

from shipyard.documents.extract import Extracted, extract
from tests.documents.extract import files


@pytest.fixture(scope="session")
def text_pdf() -> Extracted:
    return extract(files.text_pdf(), "imaging-policy.pdf")


@pytest.fixture(scope="session")
def scanned_pdf() -> Extracted:
    return extract(files.scanned_pdf(2), "scanned-policy.pdf")


@pytest.fixture(scope="session")
def low_resolution_scan() -> Extracted:
    return extract(files.low_resolution_scan(), "fax.pdf")


@pytest.fixture(scope="session")
def policy_docx() -> Extracted:
    return extract(files.policy_docx(), "imaging-policy.docx")


@pytest.fixture(scope="session")
def policy_html() -> Extracted:
    return extract(files.POLICY_HTML.encode(), "imaging-policy.html")


@pytest.fixture(scope="session")
def policy_markdown() -> Extracted:
    return extract(files.POLICY_MARKDOWN.encode(), "imaging-policy.md")
