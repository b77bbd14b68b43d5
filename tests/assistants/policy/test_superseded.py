"""The superseded-version signal: an old version that answers a question better lowers the confidence,
and nothing from an old version is ever quoted or cited."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from shipyard.assistants.policy.calibration import Calibration
from shipyard.assistants.policy.embedder import Embedder
from shipyard.assistants.policy.index import IndexedPassage, PolicyIndex, embed_passages
from shipyard.assistants.policy.insurers import detect_insurer
from shipyard.assistants.policy.pipeline import ask
from shipyard.assistants.policy.retrieve import retrieve
from shipyard.assistants.policy.superseded import (
    NO_SIGNAL,
    REASON_GAP,
    SupersededSignal,
    superseded_signal,
)
from tests.assistants.policy.fixtures import PASSAGES

LUMBAR = PASSAGES[0]
# The 2023 manual: the same lumbar MRI rule, and a chiropractic limit the 2024 manual dropped.
OLD: list[IndexedPassage] = [
    replace(
        LUMBAR,
        passage_id="nw-imaging-2023-1",
        document_id="doc-nw-imaging-2023",
        version="2023.1",
        effective_date=date(2023, 1, 1),
    ),
    replace(
        LUMBAR,
        passage_id="nw-imaging-2023-9",
        document_id="doc-nw-imaging-2023",
        version="2023.1",
        effective_date=date(2023, 1, 1),
        page=11,
        heading="Chiropractic care",
        text="Chiropractic spinal manipulation (CPT 98940-98942) is covered for up to 12 visits per "
        "calendar year. Maintenance chiropractic care is not covered.",
    ),
]
DROPPED = "How many chiropractic manipulation visits per year does Northwind Health cover?"


@pytest.fixture(scope="module")
def retired(embedder: Embedder) -> PolicyIndex:
    return PolicyIndex.build(OLD, embed_passages(embedder, OLD))


def _signal(index: PolicyIndex, retired: PolicyIndex, embedder: Embedder, question: str) -> SupersededSignal:
    insurer = detect_insurer(question, index.insurers)
    vector = embedder.encode([question])[0]
    hits = retrieve(index, question, vector, insurer=insurer)
    return superseded_signal(index, retired, hits[0].query_terms, vector, insurer=insurer)


def test_a_rule_only_an_old_version_states_gets_the_signal(
    index: PolicyIndex, retired: PolicyIndex, embedder: Embedder
) -> None:
    signal = _signal(index, retired, embedder, DROPPED)
    assert signal.passage is not None and signal.passage.passage_id == "nw-imaging-2023-9"
    assert signal.coverage_gap >= REASON_GAP and signal.dense_gap > 0
    assert signal.features == {"superseded_gap": signal.coverage_gap}
    assert signal.notable and "northwind-medical-policy v2023.1 p. 11" in signal.describe()


def test_a_rule_the_active_version_still_states_gets_none(
    index: PolicyIndex, retired: PolicyIndex, embedder: Embedder
) -> None:
    signal = _signal(
        index, retired, embedder, "Does Northwind Health need prior authorization for CPT 72148?"
    )
    assert signal.coverage_gap <= 0.0 and signal.features == {"superseded_gap": 0.0}
    assert not signal.notable


def test_another_insurers_old_versions_do_not_count(
    index: PolicyIndex, retired: PolicyIndex, embedder: Embedder
) -> None:
    question = "How many chiropractic manipulation visits per year does Contoso Care cover?"
    assert _signal(index, retired, embedder, question) is NO_SIGNAL
    vector = embedder.encode([question])[0]
    hits = retrieve(index, question, vector)
    assert superseded_signal(index, None, hits[0].query_terms, vector) is NO_SIGNAL


def test_the_signal_lowers_confidence_and_old_passages_are_never_cited(
    index: PolicyIndex, retired: PolicyIndex, embedder: Embedder
) -> None:
    shipped = Calibration.load()
    assert "superseded_gap" in shipped.features
    without = ask(DROPPED, index, embedder, shipped, threshold=0.0)
    with_old = ask(DROPPED, index, embedder, shipped, threshold=0.0, retired=retired)
    assert with_old.confidence < without.confidence
    assert with_old.features["superseded_gap"] > 0 and without.features["superseded_gap"] == 0.0
    # forced to answer (threshold 0), it still quotes only active passages
    active_ids = {p.passage_id for p in PASSAGES}
    assert with_old.citations and {c.passage_id for c in with_old.citations} <= active_ids
    assert all(c.version != "2023.1" for c in with_old.citations)
    assert all(h.passage.passage_id in active_ids for h in with_old.closest)
    # at the shipped threshold it abstains and says which old version matched
    abstained = ask(DROPPED, index, embedder, shipped, retired=retired)
    assert not abstained.answered and abstained.citations == []
    assert "no longer in force (northwind-medical-policy v2023.1" in abstained.reason
