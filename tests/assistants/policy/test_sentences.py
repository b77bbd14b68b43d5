"""Unit vectors for choosing the answering sentence: cached MiniLM cosines, and their use in the draft."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import pytest

from shipyard.assistants.policy.answer import FEATURES, draft_answer
from shipyard.assistants.policy.embedder import Embedder
from shipyard.assistants.policy.index import IndexedPassage
from shipyard.assistants.policy.retrieve import Hit, WeightedTerm
from shipyard.assistants.policy.sentences import SentenceVectors
from shipyard.assistants.policy.terms import query_terms


class Counting:
    """The real embedder, counting the texts it is asked to embed."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self.texts: list[str] = []

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        self.texts.extend(texts)
        return self.embedder.encode(texts)


def test_similarity_is_the_cosine_and_each_text_is_embedded_once(embedder: Embedder) -> None:
    encode = Counting(embedder)
    vectors = SentenceVectors(encode)
    query = embedder.encode(["How long do we have to file an appeal?"])[0]
    texts = ["Appeals must be filed within 60 days.", "Wheelchair vans are not covered."]
    first = vectors.similarity(query, texts)
    again = vectors.similarity(query, [texts[1], texts[0], texts[0]])
    direct = embedder.encode(texts) @ (query / np.linalg.norm(query))
    assert first == pytest.approx(direct, abs=1e-5)
    assert again == pytest.approx([first[1], first[0], first[0]])
    assert first[0] > first[1]
    assert encode.texts == texts  # the second call embedded nothing
    assert vectors.similarity(query, []).shape == (0,)


def test_the_least_recently_used_vectors_are_dropped(embedder: Embedder) -> None:
    encode = Counting(embedder)
    vectors = SentenceVectors(encode, max_units=2)
    query = embedder.encode(["prior authorization"])[0]
    vectors.similarity(query, ["one", "two"])
    vectors.similarity(query, ["one"])  # "two" is now the least recently used
    vectors.similarity(query, ["three"])
    assert len(vectors) == 2
    vectors.similarity(query, ["one", "two"])
    assert encode.texts == ["one", "two", "three", "two"]
    with pytest.raises(ValueError, match="max_units must be at least 1"):
        SentenceVectors(encode, max_units=0)


def _hit(text: str, question: str) -> Hit:
    passage = IndexedPassage(
        passage_id="p1",
        document_id="d1",
        doc_key="bpa-appeals",
        version="2025.1",
        title="Provider Claim Appeals",
        insurer="Bluepeak Assurance",
        topic="admin/appeals",
        effective_date=date(2025, 4, 1),
        page=1,
        text=text,
    )
    terms = tuple(WeightedTerm(t, 1.0) for t in query_terms(question))
    return Hit(passage, score=1.0, bm25=1.0, dense=0.4, rank=1, coverage=1.0, query_terms=terms)


def test_the_unit_similarity_chooses_between_sentences_that_share_the_question_terms() -> None:
    question = "Who looks at an appeal?"
    hit = _hit("Appeals go through the Provider Center. Appeals are reviewed by a physician.", question)
    plain = draft_answer(question, [hit])
    assert plain is not None and plain.citations[0].quote == "Appeals go through the Provider Center."
    assert plain.features["answer_dense"] == 0.4  # no unit vectors: the passage's cosine stands in

    def similarity(texts: Sequence[str]) -> np.ndarray:
        return np.array([0.9 if "physician" in t else 0.1 for t in texts])

    chosen = draft_answer(question, [hit], similarity=similarity)
    assert chosen is not None and chosen.citations[0].quote == "Appeals are reviewed by a physician."
    assert chosen.features["answer_dense"] == pytest.approx(0.9)
    assert set(chosen.features) == set(FEATURES)
