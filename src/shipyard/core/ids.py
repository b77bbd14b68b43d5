"""Identifiers: time-ordered, URL-safe, and hard to guess where they act as secrets."""

from __future__ import annotations

import os
import secrets
import time


def new_id() -> str:
    """A 26-char time-ordered id (48-bit ms timestamp + 80 random bits, Crockford base32)."""
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
    out = []
    for _ in range(26):
        value, rem = divmod(value, 32)
        out.append(alphabet[rem])
    return "".join(reversed(out))


def new_request_id() -> str:
    return "req_" + new_id()


def new_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)
