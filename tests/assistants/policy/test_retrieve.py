"""Hybrid retrieval over a dozen real passages from two fictional insurers, through the real embedder."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from shipyard.assistants.policy.embedder import Embedder
from shipyard.assistants.policy.index import PolicyIndex
from shipyard.assistants.policy.insurers import detect_insurer, insurer_like_names
from shipyard.assistants.policy.retrieve import Fusion, Hit, retrieve, weighted_terms
from shipyard.assistants.policy.terms import code_ranges, stem, tokenize
from tests.assistants.policy.fixtures import CONTOSO, NORTHWIND, PASSAGES


def _search(index: PolicyIndex, embedder: Embedder, question: str, *, named: bool = True) -> list[Hit]:
    insurer = detect_insurer(question, index.insurers) if named else None
    return retrieve(index, question, embedder.encode([question])[0], insurer=insurer)


def test_embedder_returns_unit_float32_rows(embedder: Embedder) -> None:
    vectors = embedder.encode(["prior authorization for MRI", "timely filing"])
    assert vectors.dtype == np.float32
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.encode([]).shape == (0, 384)


def test_embedder_gives_the_same_vectors_from_many_threads(embedder: Embedder) -> None:
    texts = [f"prior authorization for CPT 7214{i}" for i in range(8)]
    serial = embedder.encode(texts, batch_size=3)
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(lambda t: embedder.encode([t])[0], texts))
    assert np.allclose(np.stack(parallel), serial, atol=1e-5)


def test_embedder_refuses_a_bare_string(embedder: Embedder) -> None:
    with pytest.raises(TypeError, match="sequence of texts"):
        embedder.encode("one string")  # type: ignore[arg-type]


def test_paraphrased_question_ranks_the_right_passage_first(index: PolicyIndex, embedder: Embedder) -> None:
    hits = _search(index, embedder, "Does Northwind need pre-approval before a low back MRI?")
    assert hits[0].passage.passage_id == "nw-imaging-1"
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    assert hits[0].coverage == pytest.approx(1.0)


def test_insurer_filter_keeps_to_the_named_insurer(index: PolicyIndex, embedder: Embedder) -> None:
    question = "Does Contoso require prior authorization for a lumbar MRI?"
    hits = _search(index, embedder, question)
    assert {h.passage.insurer for h in hits} == {CONTOSO}
    assert hits[0].passage.passage_id == "cc-benefits-1"
    unfiltered = _search(index, embedder, question, named=False)
    assert {h.passage.insurer for h in unfiltered} == {CONTOSO, NORTHWIND}


def test_hits_carry_version_and_effective_date(index: PolicyIndex, embedder: Embedder) -> None:
    hit = _search(index, embedder, "What is the timely filing limit at Contoso Care?")[0]
    assert hit.passage.passage_id == "cc-benefits-3"
    assert (hit.passage.version, hit.passage.effective_date.isoformat()) == ("3", "2025-01-01")


def test_code_lookup_finds_the_passage_listing_the_code(index: PolicyIndex, embedder: Embedder) -> None:
    hits = _search(index, embedder, "What does Northwind say about 72148?")
    assert hits[0].passage.passage_id == "nw-imaging-1"
    assert hits[0].bm25 > 0


def test_code_inside_a_range_finds_the_range(index: PolicyIndex, embedder: Embedder) -> None:
    hits = _search(index, embedder, "Northwind rules for CPT 72146?")
    assert hits[0].passage.passage_id == "nw-imaging-5"


def test_hcpcs_code_finds_the_table_row_passage(index: PolicyIndex, embedder: Embedder) -> None:
    hits = _search(index, embedder, "Contoso A7030 authorization")
    assert hits[0].passage.passage_id == "cc-benefits-4"


def test_unknown_insurer_and_bad_embedding_are_refused(index: PolicyIndex) -> None:
    vector = np.ones(384, dtype=np.float32)
    with pytest.raises(ValueError, match="no active policies for insurer 'Fabrikam'"):
        retrieve(index, "anything", vector, insurer="Fabrikam")
    with pytest.raises(ValueError, match="383 dimensions"):
        retrieve(index, "anything", vector[:383])
    with pytest.raises(ValueError, match="zero"):
        retrieve(index, "anything", np.zeros(384, dtype=np.float32))
    with pytest.raises(ValueError, match="k must be at least 1"):
        retrieve(index, "anything", vector, k=0)


def test_both_fusion_methods_rank_the_lumbar_passage_first(index: PolicyIndex, embedder: Embedder) -> None:
    question = "Does Northwind require prior authorization for a lumbar MRI?"
    vector = embedder.encode([question])[0]
    for fusion in (Fusion("rrf"), Fusion("linear", bm25=0.4, dense=0.6, coverage=0.5)):
        hits = retrieve(index, question, vector, insurer=NORTHWIND, fusion=fusion)
        assert hits[0].passage.passage_id == "nw-imaging-1", fusion
    with pytest.raises(ValueError, match="unknown fusion method"):
        Fusion("sum")  # type: ignore[arg-type]


def test_terms_no_passage_contains_are_marked(index: PolicyIndex) -> None:
    terms = {
        t.term.token: t.in_index
        for t in weighted_terms(index, "Does Contoso cover upright MRI?", insurer=CONTOSO)
    }
    assert terms == {"upright": False, "mri": True, "cover": True}


def test_build_checks_its_inputs() -> None:
    with pytest.raises(ValueError, match="one row per passage"):
        PolicyIndex.build(PASSAGES, np.ones((3, 384), dtype=np.float32))
    with pytest.raises(ValueError, match="no passages"):
        PolicyIndex.build([], np.ones((0, 384), dtype=np.float32))
    twice = [PASSAGES[0], PASSAGES[0]]
    with pytest.raises(ValueError, match="appears more than once"):
        PolicyIndex.build(twice, np.ones((2, 384), dtype=np.float32))


def test_index_knows_its_insurers(index: PolicyIndex) -> None:
    assert index.insurers == frozenset({NORTHWIND, CONTOSO})
    assert len(index) == len(PASSAGES)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Does Northwind Health require PA for MRI?", NORTHWIND),
        ("does NWH cover PT?", NORTHWIND),
        ("Northwnd lumbar MRI rules", NORTHWIND),
        ("Does North Wind cover CPAP?", NORTHWIND),
        ("Does Contosso cover DME?", CONTOSO),
        ("Is a lumbar MRI covered?", None),
        ("How do I submit corrected claims?", None),
    ],
)
def test_detect_insurer(question: str, expected: str | None) -> None:
    assert detect_insurer(question, [NORTHWIND, CONTOSO]) == expected


def test_insurer_like_names_outside_the_corpus() -> None:
    assert insurer_like_names("Does Meadowbrook Care cover PT?", [NORTHWIND, CONTOSO]) == [["meadowbrook"]]
    assert insurer_like_names("Does Contoso Care cover PT?", [NORTHWIND, CONTOSO]) == []
    assert insurer_like_names("Is lumbar MRI covered?", [NORTHWIND, CONTOSO]) == []


def test_tokens_keep_codes_and_meet_across_word_forms() -> None:
    assert tokenize("CPT 72148 and E0601, ICD M54.5") == ["cpt", "72148", "e0601", "icd", "m54.5"]
    assert stem("authorization") == stem("authorized") == stem("authorizes")
    assert stem("coverage") == stem("covered")
    ranges = code_ranges("codes 72141-72158, E0601 through E0604 and 2024-01-01")
    assert [(r.first, r.last) for r in ranges] == [("72141", "72158"), ("e0601", "e0604")]
    assert ranges[0].contains("72150") and not ranges[0].contains("72160")
