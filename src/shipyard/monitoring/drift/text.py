"""Text fields in embedding space: a cheap, deterministic embedding fitted once on the reference.

Each text is hashed into a bag of words and word pairs (scikit-learn's HashingVectorizer: no vocabulary
to store, the same vector in every process), then projected on the reference's top principal
directions (TruncatedSVD fitted on up to `FIT_ROWS` reference texts; the directions are stored with the
reference). Each of those few components is then an ordinary numeric feature: its reference values are
profiled and every live window is compared with the exact two-sample KS test and PSI, like any number.

Why this way: the top directions are where the reference's texts differ most from one another (their
topics and phrasing), so a change of what users write moves mass along them; comparing a handful of
components keeps the test exact and cheap, needs nothing beyond scikit-learn, and reads the same
thresholds as the other features. A change orthogonal to every stored direction (new words the
reference never used) shows instead as a drop in the share of each text the directions explain, which
is the `coverage` component: the norm of the projection over the norm of the hashed vector.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from shipyard.core.errors import InvalidInput

N_FEATURES = 2**12
FIT_ROWS = 5_000
_FORMAT = "hashing-svd-1"


def _vectorizer() -> Any:
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(
        n_features=N_FEATURES, ngram_range=(1, 2), alternate_sign=False, norm="l2", lowercase=True
    )


@dataclass(frozen=True, eq=False)
class TextEmbedder:
    """Fixed projection directions (components x N_FEATURES) of one text field."""

    components: np.ndarray

    @property
    def names(self) -> list[str]:
        """The embedding's columns: one per direction, then the coverage share."""
        return [f"c{i + 1}" for i in range(self.components.shape[0])] + ["coverage"]

    def embed(self, texts: Sequence[str | None]) -> np.ndarray:
        """Rows x (components + 1) floats; a missing text gives a row of NaN."""
        present = [i for i, t in enumerate(texts) if isinstance(t, str)]
        out = np.full((len(texts), self.components.shape[0] + 1), np.nan)
        if not present:
            return out
        hashed = _vectorizer().transform([texts[i] for i in present])
        projected = np.asarray(hashed @ self.components.T, dtype=np.float64)
        norms = np.sqrt(np.asarray(hashed.multiply(hashed).sum(axis=1), dtype=np.float64)).ravel()
        explained = np.linalg.norm(projected, axis=1)
        coverage = np.divide(explained, norms, out=np.zeros_like(explained), where=norms > 0)
        out[present, :-1] = projected
        out[present, -1] = coverage
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; directions as base64 of little-endian float32 (4 bytes a weight)."""
        return {
            "format": _FORMAT,
            "shape": list(self.components.shape),
            "base64": base64.b64encode(self.components.astype("<f4").tobytes()).decode("ascii"),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TextEmbedder:
        """The inverse of `to_dict`."""
        if data.get("format") != _FORMAT:
            raise InvalidInput(f"unknown text embedding format {data.get('format')!r}")
        rows, cols = (int(v) for v in data["shape"])
        flat = np.frombuffer(base64.b64decode(data["base64"]), dtype="<f4").astype(np.float64)
        if flat.size != rows * cols:
            raise InvalidInput("a stored text embedding does not have the size it declares")
        return cls(flat.reshape(rows, cols))


def fit(texts: Sequence[str | None], components: int, name: str) -> TextEmbedder:
    """Fit the directions on the reference's texts (deterministically: a fixed sample and seed)."""
    from sklearn.decomposition import TruncatedSVD

    present = [t for t in texts if isinstance(t, str) and t.strip()]
    if len(present) < 3:
        raise InvalidInput(f"text field {name!r} needs at least 3 non-empty texts in the reference")
    if len(present) > FIT_ROWS:
        picks = np.round(np.linspace(0, len(present) - 1, FIT_ROWS)).astype(np.int64)
        present = [present[i] for i in picks]
    hashed = _vectorizer().transform(present)
    k = max(1, min(components, len(present) - 1, hashed.shape[1] - 1))
    svd = TruncatedSVD(n_components=k, algorithm="randomized", n_iter=7, random_state=0)
    svd.fit(hashed)
    directions = np.asarray(svd.components_, dtype=np.float64)
    # A direction's sign is arbitrary; fix it so refitting the same texts stores the same numbers.
    signs = np.sign(directions[np.arange(k), np.abs(directions).argmax(axis=1)])
    # Stored as float32: embed the reference through the stored form, so both sides use the same numbers.
    return TextEmbedder.from_dict(TextEmbedder(directions * signs[:, None]).to_dict())
