"""One question end to end: find the insurer it names, embed, retrieve, answer."""

from __future__ import annotations

from functools import partial

from shipyard.assistants.policy.answer import Answer, answer_question
from shipyard.assistants.policy.calibration import Calibration
from shipyard.assistants.policy.embedder import Embedder
from shipyard.assistants.policy.index import PolicyIndex
from shipyard.assistants.policy.insurers import detect_insurer
from shipyard.assistants.policy.retrieve import DEFAULT_FUSION, Fusion, retrieve
from shipyard.assistants.policy.sentences import SentenceVectors
from shipyard.assistants.policy.superseded import NO_SIGNAL, superseded_signal

DEFAULT_K = 8


def ask(
    question: str,
    index: PolicyIndex,
    embedder: Embedder,
    calibration: Calibration,
    *,
    threshold: float | None = None,
    k: int = DEFAULT_K,
    fusion: Fusion = DEFAULT_FUSION,
    sentences: SentenceVectors | None = None,
    retired: PolicyIndex | None = None,
) -> Answer:
    """Answer a billing question from the index, restricted to the insurer it names (if any).

    Pass the same `sentences` on every call to keep the quotable units' vectors between questions.
    `retired` indexes the superseded and withdrawn versions: compared with the question, never cited.
    """
    question = question.strip()
    if not question:
        raise ValueError("the question is empty")
    insurer = detect_insurer(question, index.insurers)
    embedding = embedder.encode([question])[0]
    hits = retrieve(index, question, embedding, insurer=insurer, k=k, fusion=fusion)
    signal = (
        superseded_signal(index, retired, hits[0].query_terms, embedding, insurer=insurer)
        if hits
        else NO_SIGNAL
    )
    return answer_question(
        question,
        hits,
        threshold=calibration.threshold if threshold is None else threshold,
        calibration=calibration,
        similarity=partial((sentences or SentenceVectors(embedder.encode)).similarity, embedding),
        superseded=signal,
    )
