"""Scoring a question-answering service against labelled questions.

The definitions, used by `shipyard eval` and the assistant's tuning script alike:
- accuracy (answerable questions): the service answered, one of its citations is the labelled document
  and version, and the cited quotes together contain every evidence phrase; abstaining is wrong.
- abstention precision: of the questions it abstained on, the share that really cannot be answered;
  recall: of those that cannot be answered, the share it abstained on.
- citation correctness: of the answers given, the share whose every citation names the labelled
  document and version (for an unanswerable question, any citation is wrong).
- superseded citations: answers citing a version that is not in force while one is.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

_SPACE = re.compile(r"\s+")


def flat(text: str) -> str:
    """Case- and whitespace-insensitive form for evidence matching."""
    return _SPACE.sub(" ", text).strip().casefold()


@dataclass(frozen=True)
class Example:
    """One labelled question."""

    id: str
    question: str
    answerable: bool
    insurer: str | None = None
    evidence: tuple[str, ...] = ()
    doc_key: str | None = None
    version: str | None = None
    category: str = ""
    split: str = ""


@dataclass(frozen=True)
class Cited:
    doc_key: str
    version: str
    quote: str


@dataclass(frozen=True)
class Result:
    """What the service did with one question."""

    id: str
    answered: bool
    citations: tuple[Cited, ...] = ()
    latency_ms: float = 0.0
    outcome: str = ""
    request_id: str | None = None
    error: str | None = None  # the call failed: counted as wrong, never as an abstention


def correct(example: Example, result: Result) -> bool:
    """An answerable question answered from the right document and version, with all the evidence."""
    if not (example.answerable and result.answered and result.error is None):
        return False
    right = [c for c in result.citations if (c.doc_key, c.version) == (example.doc_key, example.version)]
    if not right:
        return False
    quoted = flat(" ".join(c.quote for c in result.citations))
    return all(flat(phrase) in quoted for phrase in example.evidence)


@dataclass
class Report:
    questions: int
    answerable: int
    unanswerable: int
    accuracy: float
    abstention_precision: float
    abstention_recall: float
    citation_correctness: float
    superseded_citations: int
    errors: int
    latency_p50_ms: float
    latency_p95_ms: float
    by_category: dict[str, dict[str, float]] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _share(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else float("nan")


def score(
    examples: Sequence[Example],
    results: Iterable[Result],
    *,
    in_force: set[tuple[str, str]] | None = None,
) -> Report:
    """Score results against their examples; `in_force` holds the (doc_key, version) pairs now active."""
    by_id = {r.id: r for r in results}
    missing = [e.id for e in examples if e.id not in by_id]
    if missing:
        raise ValueError(f"no result for {len(missing)} questions, e.g. {', '.join(missing[:5])}")
    answerable = [e for e in examples if e.answerable]
    unanswerable = [e for e in examples if not e.answerable]
    abstained = [e for e in examples if not by_id[e.id].answered and by_id[e.id].error is None]
    answered = [e for e in examples if by_id[e.id].answered]
    keys_in_force = {key for key, _ in in_force} if in_force is not None else set()
    superseded = 0
    for e in answered:
        for c in by_id[e.id].citations:
            if in_force is not None and (c.doc_key, c.version) not in in_force and c.doc_key in keys_in_force:
                superseded += 1
                break
    right_citations = sum(
        1
        for e in answered
        if e.answerable
        and by_id[e.id].citations
        and all((c.doc_key, c.version) == (e.doc_key, e.version) for c in by_id[e.id].citations)
    )
    latencies = np.array([by_id[e.id].latency_ms for e in examples], dtype=float)
    failures = [
        _failure(e, by_id[e.id])
        for e in examples
        if (e.answerable and not correct(e, by_id[e.id])) or (not e.answerable and by_id[e.id].answered)
    ]
    return Report(
        questions=len(examples),
        answerable=len(answerable),
        unanswerable=len(unanswerable),
        accuracy=_share(sum(correct(e, by_id[e.id]) for e in answerable), len(answerable)),
        abstention_precision=_share(sum(not e.answerable for e in abstained), len(abstained)),
        abstention_recall=_share(sum(1 for e in unanswerable if e in abstained), len(unanswerable)),
        citation_correctness=_share(right_citations, len(answered)),
        superseded_citations=superseded,
        errors=sum(1 for e in examples if by_id[e.id].error is not None),
        latency_p50_ms=float(np.percentile(latencies, 50)) if len(latencies) else float("nan"),
        latency_p95_ms=float(np.percentile(latencies, 95)) if len(latencies) else float("nan"),
        by_category=_by_category(examples, by_id),
        failures=failures,
    )


def _by_category(examples: Sequence[Example], by_id: Mapping[str, Result]) -> dict[str, dict[str, float]]:
    counts: Counter[str] = Counter(e.category or "-" for e in examples)
    good: Counter[str] = Counter()
    for e in examples:
        r = by_id[e.id]
        ok = correct(e, r) if e.answerable else (not r.answered and r.error is None)
        good[e.category or "-"] += ok
    return {c: {"questions": n, "right": good[c], "share": good[c] / n} for c, n in sorted(counts.items())}


def _failure(e: Example, r: Result) -> dict[str, Any]:
    if r.error is not None:
        why = f"error: {r.error}"
    elif e.answerable and not r.answered:
        why = "abstained on an answerable question"
    elif not e.answerable:
        why = "answered an unanswerable question"
    elif not any((c.doc_key, c.version) == (e.doc_key, e.version) for c in r.citations):
        why = "cited another document or version"
    else:
        why = "the quotes miss some evidence"
    return {
        "id": e.id,
        "question": e.question,
        "category": e.category,
        "why": why,
        "expected": f"{e.doc_key}@{e.version}" if e.answerable else None,
        "cited": [f"{c.doc_key}@{c.version}" for c in r.citations],
        "request_id": r.request_id,
    }
