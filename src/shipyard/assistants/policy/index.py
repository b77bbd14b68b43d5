"""An immutable, in-memory snapshot of the active policy passages: BM25 postings and MiniLM embeddings."""

from __future__ import annotations

import bisect
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Protocol

import bm25s
import numpy as np

from shipyard.assistants.policy.terms import CodeRange, code_ranges, tokenize

if TYPE_CHECKING:
    from shipyard.assistants.policy.embedder import Embedder

# bm25s sets its own logger to DEBUG; the service decides what is logged
logging.getLogger("bm25s").setLevel(logging.WARNING)

BM25_K1 = 1.2
BM25_B = 0.75


@dataclass(frozen=True)
class IndexedPassage:
    """One passage of an active policy version, with where it came from."""

    passage_id: str
    document_id: str
    doc_key: str
    version: str
    title: str
    insurer: str
    topic: str
    effective_date: date
    page: int
    text: str
    heading: str | None = None
    kind: str = "text"


class Headed(Protocol):
    """Anything with a passage's text and heading: an `IndexedPassage` or an extractor `Passage`."""

    @property
    def text(self) -> str: ...

    @property
    def heading(self) -> str | None: ...


def search_text(passage: Headed) -> str:
    """The text BM25 indexes and the embedder should encode: the heading, then the text.

    Embed passages at ingestion from this text (or with `embed_passages`): the calibration was fitted
    on such embeddings, and on the dev questions they retrieve better than the bare text.
    """
    if passage.heading and passage.heading not in passage.text:
        return f"{passage.heading}\n{passage.text}"
    return passage.text


def embed_passages(embedder: Embedder, passages: Sequence[Headed], *, batch_size: int = 64) -> np.ndarray:
    """Passage embeddings for `PolicyIndex.build`, computed from the same text BM25 sees."""
    return embedder.encode([search_text(p) for p in passages], batch_size=batch_size)


@dataclass(frozen=True, eq=False)
class PolicyIndex:
    """The active passages, their BM25 postings, their embeddings and the code ranges they mention."""

    passages: tuple[IndexedPassage, ...]
    embeddings: np.ndarray
    bm25: bm25s.BM25 = field(repr=False)
    vocabulary: dict[str, int] = field(repr=False)
    document_frequency: np.ndarray = field(repr=False)
    ranges: tuple[CodeRange, ...] = field(repr=False)
    range_starts: tuple[str, ...] = field(repr=False)
    insurer_rows: dict[str, np.ndarray] = field(repr=False)

    @classmethod
    def build(cls, passages: Sequence[IndexedPassage], embeddings: np.ndarray) -> PolicyIndex:
        """Index passages whose embeddings (one unit-length row per passage) the caller computed."""
        if len(passages) == 0:
            raise ValueError("cannot build a policy index from no passages")
        matrix = np.asarray(embeddings, dtype=np.float32)
        if matrix.ndim != 2 or matrix.shape[0] != len(passages):
            raise ValueError(
                f"embeddings must have one row per passage: "
                f"got shape {matrix.shape} for {len(passages)} passages"
            )
        if not np.all(np.isfinite(matrix)):
            raise ValueError("embeddings contain NaN or infinite values")
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        if np.any(norms == 0):
            raise ValueError("embeddings contain an all-zero row")
        matrix = np.ascontiguousarray(matrix / norms)
        ids = [p.passage_id for p in passages]
        if len(set(ids)) != len(ids):
            duplicate = next(i for i in ids if ids.count(i) > 1)
            raise ValueError(f"passage ids must be unique; {duplicate!r} appears more than once")

        texts = [search_text(p) for p in passages]
        corpus_tokens = [tokenize(t) or [""] for t in texts]
        retriever = bm25s.BM25(k1=BM25_K1, b=BM25_B, method="lucene")
        retriever.index(corpus_tokens, show_progress=False)
        vocabulary: dict[str, int] = dict(retriever.vocab_dict)
        indptr = retriever.scores["indptr"]
        document_frequency = np.diff(indptr).astype(np.float64)

        spans = sorted({r for text in texts for r in code_ranges(text)}, key=lambda r: (r.first, r.last))

        insurer_rows: dict[str, list[int]] = {}
        for row, passage in enumerate(passages):
            insurer_rows.setdefault(passage.insurer, []).append(row)
        matrix.setflags(write=False)
        return cls(
            passages=tuple(passages),
            embeddings=matrix,
            bm25=retriever,
            vocabulary=vocabulary,
            document_frequency=document_frequency,
            ranges=tuple(spans),
            range_starts=tuple(r.first for r in spans),
            insurer_rows={k: np.asarray(v, dtype=np.int64) for k, v in insurer_rows.items()},
        )

    @property
    def insurers(self) -> frozenset[str]:
        """The insurers that have at least one active passage."""
        return frozenset(self.insurer_rows)

    def __len__(self) -> int:
        return len(self.passages)

    def idf(self, token: str) -> float:
        """Inverse document frequency; a token no passage contains weighs as much as the rarest one."""
        n = len(self.passages)
        row = self.vocabulary.get(token)
        df = (
            float(self.document_frequency[row])
            if row is not None and row < len(self.document_frequency)
            else 0.0
        )
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))

    def postings(self, token: str) -> np.ndarray:
        """Rows of the passages that contain a token."""
        row = self.vocabulary.get(token)
        if row is None or row >= len(self.document_frequency):
            return np.zeros(0, dtype=np.int64)
        indptr = self.bm25.scores["indptr"]
        return np.asarray(self.bm25.scores["indices"][indptr[row] : indptr[row + 1]], dtype=np.int64)

    def bm25_scores(self, tokens: Sequence[str]) -> np.ndarray:
        """BM25 score of every passage for a bag of query tokens (unknown tokens are ignored)."""
        ids = [self.vocabulary[t] for t in tokens if t in self.vocabulary and t != ""]
        if not ids:
            return np.zeros(len(self.passages), dtype=np.float32)
        return np.asarray(self.bm25.get_scores_from_ids(ids), dtype=np.float32)

    def range_endpoints(self, code: str) -> list[str]:
        """Endpoint tokens of the indexed code ranges that contain a code, so "72148" finds "72141-72158"."""
        out: set[str] = set()
        # sorted by first code; a range can only contain codes that sort at or after its first one
        for r in self.ranges[: bisect.bisect_right(self.range_starts, code)]:
            if r.contains(code):
                out.update((r.first, r.last))
        return sorted(out)
