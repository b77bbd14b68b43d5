"""Does a version no longer in force answer the question better than the active ones?

The store keeps the passages of superseded and withdrawn versions. They are indexed apart (the
"retired" index, same BM25 postings and MiniLM vectors) and only ever compared with the question:
nothing in them is quoted or cited. When the best retired passage holds the question's concepts, or
its meaning, much better than any active passage of the same insurer, the rule the question asks about
was dropped or changed, and the confidence model learns to abstain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from shipyard.assistants.policy.index import IndexedPassage, PolicyIndex
from shipyard.assistants.policy.retrieve import WeightedTerm, coverage_scores

# One feature: how much more of the question's weighted concepts the best retired passage holds than
# the best active one, and 0 when it holds no more. On the dev questions, adding the MiniLM gap or the
# share of concepts only old versions state did no better (out of fold, within the noise).
SUPERSEDED_FEATURES: tuple[str, ...] = ("superseded_gap",)
# a gap at least this large is named in the answer's reason
REASON_GAP = 0.15


@dataclass(frozen=True)
class SupersededSignal:
    """The best retired passage against the best active one of the same insurer.

    `coverage_gap` and `dense_gap` are the differences of the best coverage (IDF-weighted share of the
    question's concepts) and of the best MiniLM cosine, retired minus active. `passage` is the best
    matching retired passage, for the recorded evidence only: never cite it.
    """

    coverage_gap: float = 0.0
    dense_gap: float = 0.0
    passage: IndexedPassage | None = None

    @property
    def features(self) -> dict[str, float]:
        """The confidence model's inputs."""
        return {"superseded_gap": max(self.coverage_gap, 0.0)}

    @property
    def notable(self) -> bool:
        """True when a retired version holds clearly more of the question than the active ones."""
        return self.passage is not None and self.coverage_gap >= REASON_GAP

    def describe(self) -> str:
        """A clause for the answer's reason, naming the retired version that matches better."""
        if self.passage is None:
            return ""
        p = self.passage
        return (
            f"a version no longer in force ({p.doc_key} v{p.version} p. {p.page}) covers "
            f"{self.coverage_gap:.0%} more of the question's terms"
        )


NO_SIGNAL = SupersededSignal()


def _rows(index: PolicyIndex, insurer: str | None) -> np.ndarray | None:
    """The rows of one insurer's passages (all rows when None); None when the insurer has none."""
    if insurer is None:
        return np.arange(len(index))
    return index.insurer_rows.get(insurer)


def superseded_signal(
    active: PolicyIndex,
    retired: PolicyIndex | None,
    terms: Sequence[WeightedTerm],
    query_embedding: np.ndarray,
    *,
    insurer: str | None = None,
) -> SupersededSignal:
    """Compare the question with the retired passages and the active ones, of `insurer` (or all).

    `terms` are the question's concepts weighted against the active index (`Hit.query_terms`), so both
    coverages use the same weights.
    """
    if retired is None or not terms:
        return NO_SIGNAL
    old_rows, new_rows = _rows(retired, insurer), _rows(active, insurer)
    if old_rows is None or new_rows is None or len(old_rows) == 0 or len(new_rows) == 0:
        return NO_SIGNAL
    query = np.asarray(query_embedding, dtype=np.float32).reshape(-1)
    query = query / max(float(np.linalg.norm(query)), 1e-12)
    old_cov = coverage_scores(retired, terms)[old_rows]
    new_cov = coverage_scores(active, terms)[new_rows]
    old_dense = retired.embeddings[old_rows] @ query
    new_dense = active.embeddings[new_rows] @ query
    best = int(np.argmax(old_cov + old_dense))
    return SupersededSignal(
        coverage_gap=float(old_cov.max() - new_cov.max()),
        dense_gap=float(old_dense.max() - new_dense.max()),
        passage=retired.passages[int(old_rows[best])],
    )
