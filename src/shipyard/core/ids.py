"""Identifiers: time-ordered, URL-safe, and hard to guess where they act as secrets."""

from __future__ import annotations

import base64
import os
import random
import secrets
import time

# Crockford's base32 alphabet (no i, l, o, u), lower case; b32encode's alphabet maps onto it.
_CROCKFORD = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", b"0123456789abcdefghjkmnpqrstvwxyz")


# Ids need uniqueness, not secrecy: a PRNG seeded from the OS (and reseeded in forked children) is
# much cheaper per call than os.urandom on busy virtual machines.
_rng = random.Random(os.urandom(32))
os.register_at_fork(after_in_child=lambda: _rng.seed(os.urandom(32)))


def new_id() -> str:
    """A 26-char id that sorts by creation time: 48-bit ms timestamp then 80 random bits."""
    raw = (int(time.time() * 1000) & 0xFFFF_FFFF_FFFF).to_bytes(6, "big") + _rng.getrandbits(80).to_bytes(
        10, "big"
    )
    return base64.b32encode(raw)[:26].translate(_CROCKFORD).decode()


def new_request_id() -> str:
    return "req_" + new_id()


def new_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)
