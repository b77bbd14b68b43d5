"""MiniLM vectors of the quotable units (sentences, rows) of passages, made on first use and kept."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np

# about 1.5 KB a vector: 20,000 units is 30 MB, several times the demo corpus's units
MAX_UNITS = 20_000


class SentenceVectors:
    """Unit-length vectors of unit texts, by text, least recently used dropped past `max_units`.

    A passage's units are embedded the first time the passage is a candidate for a quote, so the first
    questions on a topic pay a few tens of milliseconds and later ones nothing.
    """

    def __init__(self, encode: Callable[[Sequence[str]], np.ndarray], *, max_units: int = MAX_UNITS) -> None:
        if max_units < 1:
            raise ValueError(f"max_units must be at least 1, got {max_units}")
        self._encode = encode
        self._max = max_units
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._vectors)

    def similarity(self, query: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        """Cosine similarity of the query vector with each text's vector."""
        if not texts:
            return np.zeros(0, dtype=np.float64)
        with self._lock:
            known = {t: self._vectors[t] for t in texts if t in self._vectors}
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        if missing:
            # encoded outside the lock (the embedder has its own); two threads racing on one new text
            # only embed it twice
            fresh = np.asarray(self._encode(missing), dtype=np.float32)
            norms = np.linalg.norm(fresh, axis=1, keepdims=True)
            known.update(zip(missing, fresh / np.where(norms > 0, norms, 1.0), strict=True))
        with self._lock:
            for text in texts:
                self._vectors[text] = known[text]
                self._vectors.move_to_end(text)
            while len(self._vectors) > self._max:
                self._vectors.popitem(last=False)
        matrix = np.vstack([known[t] for t in texts])
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        norm = float(np.linalg.norm(q))
        scores: np.ndarray = (matrix @ (q / norm if norm > 0 else q)).astype(np.float64)
        return scores
