"""Hashing helpers: passwords with argon2id, high-entropy tokens with sha256, canonical JSON."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import orjson
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2id with the library's recommended parameters


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def password_needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


# A valid hash used to spend the same time when the user does not exist (no user enumeration).
DUMMY_PASSWORD_HASH = _hasher.hash("not-a-real-password")


def token_digest(token: str) -> str:
    """API keys and session tokens carry 256 bits of entropy, so a fast hash is enough."""
    return hashlib.sha256(token.encode()).hexdigest()


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON (sorted keys, no spaces) for hashing."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
