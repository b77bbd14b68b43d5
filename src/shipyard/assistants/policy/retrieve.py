"""Hybrid retrieval: BM25 and MiniLM cosine over the active passages, fused, optionally for one insurer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from shipyard.assistants.policy.index import IndexedPassage, PolicyIndex
from shipyard.assistants.policy.insurers import insurer_mentions
from shipyard.assistants.policy.terms import QueryTerm, is_code, query_terms, tokenize

RRF_K = 60.0


@dataclass(frozen=True)
class Fusion:
    """How the three signals combine: reciprocal ranks ("rrf") or min-max scaled scores ("linear").

    The signals are BM25, the MiniLM cosine, and coverage: the IDF-weighted share of the question's
    concepts a passage contains, which BM25 alone underrates when one common term repeats.
    """

    method: Literal["rrf", "linear"] = "rrf"
    bm25: float = 1.0
    dense: float = 1.0
    coverage: float = 1.0

    def __post_init__(self) -> None:
        if self.method not in ("rrf", "linear"):
            raise ValueError(f"unknown fusion method {self.method!r}; use 'rrf' or 'linear'")
        if min(self.bm25, self.dense, self.coverage) < 0:
            raise ValueError("fusion weights must not be negative")


DEFAULT_FUSION = Fusion("linear", bm25=0.4, dense=0.6, coverage=0.5)


@dataclass(frozen=True)
class WeightedTerm:
    """A question concept and its weight (the IDF of its rarest spelling in the index)."""

    term: QueryTerm
    weight: float
    in_index: bool = True  # some spelling of it occurs in at least one passage


@dataclass(frozen=True)
class Hit:
    """One retrieved passage: fused score, its BM25 and cosine parts, rank from 1, query-term coverage."""

    passage: IndexedPassage
    score: float
    bm25: float
    dense: float
    rank: int
    coverage: float = 0.0
    query_terms: tuple[WeightedTerm, ...] = ()


def weighted_terms(index: PolicyIndex, question: str, *, insurer: str | None = None) -> list[WeightedTerm]:
    """The question's concepts weighted by IDF, without the words that name the insurer."""
    drop: set[str] = set()
    if insurer is not None:
        for word in insurer_mentions(question, insurer):
            drop.update(tokenize(word))
    out: list[WeightedTerm] = []
    for term in query_terms(question, drop=drop):
        alternatives = list(term.alternatives)
        if is_code(term.token):
            # a code inside an indexed range ("72148" in "72141-72158") is found through the endpoints
            endpoints = index.range_endpoints(term.token)
            alternatives.extend((e,) for e in endpoints)
        known = [alt for alt in alternatives if all(t in index.vocabulary for t in alt)]
        if known:
            weight = max(float(np.mean([index.idf(t) for t in alt])) for alt in known)
        else:
            weight = index.idf(term.token)
        out.append(WeightedTerm(QueryTerm(term.token, tuple(alternatives), term.word), weight, bool(known)))
    return out


def coverage_scores(index: PolicyIndex, terms: Sequence[WeightedTerm]) -> np.ndarray:
    """For every passage, the weighted share of the question's concepts it contains."""
    covered = np.zeros(len(index), dtype=np.float64)
    total = sum(t.weight for t in terms)
    if total == 0.0:
        return covered
    for weighted in terms:
        satisfied = np.zeros(len(index), dtype=bool)
        for alternative in weighted.term.alternatives:
            rows = index.postings(alternative[0])
            for token in alternative[1:]:
                rows = np.intersect1d(rows, index.postings(token), assume_unique=True)
            satisfied[rows] = True
        covered += weighted.weight * satisfied
    return covered / total


def retrieve(
    index: PolicyIndex,
    question: str,
    query_embedding: np.ndarray,
    *,
    insurer: str | None = None,
    k: int = 8,
    fusion: Fusion = DEFAULT_FUSION,
) -> list[Hit]:
    """The k best passages for a question, from one insurer's passages when `insurer` is given."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    query = np.asarray(query_embedding, dtype=np.float32).reshape(-1)
    if query.shape[0] != index.embeddings.shape[1]:
        raise ValueError(
            f"query embedding has {query.shape[0]} dimensions, the index has {index.embeddings.shape[1]}"
        )
    norm = float(np.linalg.norm(query))
    if not np.isfinite(norm) or norm == 0.0:
        raise ValueError("query embedding is zero or not finite")
    if insurer is not None and insurer not in index.insurer_rows:
        raise ValueError(f"no active policies for insurer {insurer!r}; known: {sorted(index.insurers)}")

    terms = tuple(weighted_terms(index, question, insurer=insurer))
    tokens = sorted({t for w in terms for t in w.term.tokens()})
    rows = index.insurer_rows[insurer] if insurer is not None else np.arange(len(index))
    bm25 = index.bm25_scores(tokens)[rows]
    dense = index.embeddings[rows] @ (query / norm)
    coverage = coverage_scores(index, terms)[rows]

    if fusion.method == "rrf":
        # a passage sharing no term with the question gets nothing from BM25 or coverage, not the rank
        # after the matching ones
        fused = (
            fusion.bm25 * np.where(bm25 > 0, _rrf(bm25), 0.0)
            + fusion.dense * _rrf(dense)
            + fusion.coverage * np.where(coverage > 0, _rrf(coverage), 0.0)
        )
    else:
        fused = fusion.bm25 * _minmax(bm25) + fusion.dense * _minmax(dense) + fusion.coverage * coverage

    top = np.argsort(-fused, kind="stable")[:k]
    return [
        Hit(
            passage=index.passages[int(rows[i])],
            score=float(fused[i]),
            bm25=float(bm25[i]),
            dense=float(dense[i]),
            rank=rank,
            coverage=float(coverage[i]),
            query_terms=terms,
        )
        for rank, i in enumerate(top, 1)
    ]


def _rrf(scores: np.ndarray) -> np.ndarray:
    """Reciprocal-rank-fusion contribution: 1 / (60 + rank), ties sharing the better rank."""
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(len(scores), dtype=np.float64)
    ranks[order] = np.arange(1, len(scores) + 1)
    # equal scores (notably the many zero BM25 scores) get the same rank, so no arbitrary order leaks in
    sorted_scores = scores[order]
    first = np.concatenate(([True], sorted_scores[1:] != sorted_scores[:-1]))
    ranks[order] = np.maximum.accumulate(np.where(first, np.arange(1, len(scores) + 1), 0))
    return 1.0 / (RRF_K + ranks)


def _minmax(scores: np.ndarray) -> np.ndarray:
    low, high = float(scores.min()), float(scores.max())
    if high - low <= 1e-12:
        return np.zeros(len(scores), dtype=np.float64)
    return (scores.astype(np.float64) - low) / (high - low)
