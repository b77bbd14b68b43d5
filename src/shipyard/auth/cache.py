"""Credential -> principal, held in memory so authenticating a call costs a hash and a dict lookup."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from shipyard.auth.service import Resolved
from shipyard.core.clock import Clock, as_utc

NEGATIVE_TTL_S = 5.0  # a bad key is re-checked at most this often, so a new key works within seconds


class PrincipalCache:
    def __init__(self, clock: Clock, max_entries: int = 50_000) -> None:
        self._clock = clock
        self._max = max_entries
        self._items: OrderedDict[str, tuple[Resolved, float]] = OrderedDict()
        self._generation = 0
        self._lock = threading.Lock()

    def peek(self, digest: str) -> Resolved | None:
        item = self._items.get(digest)
        if item is None:
            return None
        resolved, stored = item
        principal = resolved.principal
        if principal is None:
            return resolved if time.monotonic() - stored < NEGATIVE_TTL_S else None
        if principal.expires_at is not None and as_utc(principal.expires_at) <= self._clock.now():
            return None  # expired: re-resolve so the caller gets the precise reason
        return resolved

    def fill(self, digest: str, loader: Callable[[], Resolved]) -> Resolved:
        generation = self._generation
        resolved = loader()
        with self._lock:
            if generation == self._generation:
                self._items[digest] = (resolved, time.monotonic())
                while len(self._items) > self._max:
                    self._items.popitem(last=False)
        return resolved

    def invalidate(self) -> None:
        with self._lock:
            self._generation += 1
            self._items = OrderedDict()
