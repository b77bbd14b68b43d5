"""The document vault: uploaded files stored by the sha256 of their plaintext, encrypted with AES-256-GCM.

The key is derived from the instance's secret key (HKDF-SHA256), so a copied `documents/` folder or
database dump is unreadable without it — and rotating the secret makes stored documents unreadable
(the assistant then falls back for every question): keep the old secret, or withdraw the documents
and upload them again after a rotation. The sha256 is bound into each ciphertext as associated data, and the
plaintext is re-hashed on every read, so a swapped or corrupted blob is refused rather than served.
Passage text in the database is sealed with the same key, bound to the passage id.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from shipyard.core.errors import IntegrityFailure, NotFound

_MAGIC = b"SYD1"  # format version of a stored blob: magic, 12-byte nonce, ciphertext with tag
_NONCE = 12


def derive_key(secret: str) -> bytes:
    """The 256-bit document key for an instance secret."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"shipyard/documents/v1").derive(
        secret.encode()
    )


class DocumentVault:
    """Encrypted, content-addressed file store on the local filesystem (or a shared mount)."""

    def __init__(self, root: Path, secret: str) -> None:
        self.root = root
        self._aead = AESGCM(derive_key(secret))

    def _blob(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes) -> str:
        """Store `data` (once: the same bytes are stored once) and return its sha256."""
        digest = hashlib.sha256(data).hexdigest()
        path = self._blob(digest)
        if path.exists():
            return digest
        path.parent.mkdir(parents=True, exist_ok=True)
        sealed = _MAGIC + self._seal_bytes(data, digest.encode())
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(sealed)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)  # atomic: a reader never sees half a blob
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest

    def get(self, sha256: str) -> bytes:
        """The plaintext of a stored file, verified against its address."""
        path = self._blob(sha256)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise NotFound(
                f"document file {sha256} is not in the vault", code="document_file_missing"
            ) from None
        if not raw.startswith(_MAGIC):
            raise IntegrityFailure(f"document file {sha256} is not a vault blob")
        data = self._open_bytes(raw[len(_MAGIC) :], sha256.encode(), what=f"document file {sha256}")
        if hashlib.sha256(data).hexdigest() != sha256:
            raise IntegrityFailure(f"document file {sha256} does not match its address")
        return data

    def seal(self, text: str, bound_to: str) -> bytes:
        """Encrypt a piece of text for a database column; `bound_to` (the row's id) is authenticated."""
        return self._seal_bytes(text.encode(), bound_to.encode())

    def open(self, sealed: bytes, bound_to: str) -> str:
        """Decrypt what `seal` produced for the same `bound_to`."""
        return self._open_bytes(sealed, bound_to.encode(), what=f"passage {bound_to}").decode()

    def _seal_bytes(self, data: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._aead.encrypt(nonce, data, aad)

    def _open_bytes(self, sealed: bytes, aad: bytes, *, what: str) -> bytes:
        try:
            return self._aead.decrypt(sealed[:_NONCE], sealed[_NONCE:], aad)
        except InvalidTag:
            raise IntegrityFailure(
                f"{what} cannot be decrypted: it was altered, or the instance secret key has changed"
            ) from None
