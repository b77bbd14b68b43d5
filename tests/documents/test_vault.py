"""The vault keeps documents encrypted at rest, addressed by content, and refuses what was tampered with."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from shipyard.core.errors import IntegrityFailure, NotFound
from shipyard.documents.vault import DocumentVault

SECRET = "a-long-enough-instance-secret-for-the-vault-0123456789"
TEXT = b"Prior authorization is required for MRI of the lumbar spine (CPT 72148)."


def test_stored_once_by_content_and_encrypted_at_rest(tmp_path: Path) -> None:
    vault = DocumentVault(tmp_path, SECRET)
    digest = vault.put(TEXT)
    assert digest == hashlib.sha256(TEXT).hexdigest()
    assert vault.put(TEXT) == digest  # the same bytes are stored once
    blobs = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(blobs) == 1
    assert b"authorization" not in blobs[0].read_bytes()  # nothing readable at rest
    assert vault.get(digest) == TEXT


def test_a_tampered_blob_or_another_key_is_refused(tmp_path: Path) -> None:
    vault = DocumentVault(tmp_path, SECRET)
    digest = vault.put(TEXT)
    with pytest.raises(IntegrityFailure, match="secret key has changed"):
        DocumentVault(tmp_path, SECRET + "-rotated").get(digest)
    blob = next(p for p in tmp_path.rglob("*") if p.is_file())
    raw = bytearray(blob.read_bytes())
    raw[-1] ^= 1
    blob.write_bytes(bytes(raw))
    with pytest.raises(IntegrityFailure):
        vault.get(digest)
    with pytest.raises(NotFound):
        vault.get("0" * 64)


def test_sealed_text_is_bound_to_its_row(tmp_path: Path) -> None:
    vault = DocumentVault(tmp_path, SECRET)
    sealed = vault.seal("visit limit: 30 per year", "doc_1:0")
    assert b"visit" not in sealed
    assert vault.open(sealed, "doc_1:0") == "visit limit: 30 per year"
    with pytest.raises(IntegrityFailure):  # moved to another row: refused
        vault.open(sealed, "doc_1:1")
