"""Extractive answers over the fixture passages: quotes, citations, table rows, yes/no, abstention."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shipyard.assistants.policy.answer import ABSTAIN_TEXT, FEATURES, Answer, answer_question
from shipyard.assistants.policy.calibration import Calibration, fit_calibration, reliability
from shipyard.assistants.policy.embedder import Embedder
from shipyard.assistants.policy.index import PolicyIndex
from shipyard.assistants.policy.insurers import detect_insurer
from shipyard.assistants.policy.pipeline import ask
from shipyard.assistants.policy.retrieve import retrieve
from shipyard.assistants.policy.verdict import yes_or_no
from tests.assistants.policy.fixtures import CONTOSO, NORTHWIND

# Confidence from how much of the question the quoted passage covers, and nothing else: enough to
# exercise the abstention logic without depending on the calibration fitted on the corpus.
COVERAGE_ONLY = Calibration(
    features=FEATURES,
    mean=tuple(0.0 for _ in FEATURES),
    scale=tuple(1.0 for _ in FEATURES),
    coef=tuple(8.0 if f == "context_coverage" else 0.0 for f in FEATURES),
    intercept=-4.0,
    threshold=0.5,
)


def _answer(
    index: PolicyIndex, embedder: Embedder, question: str, *, filtered: bool = True, threshold: float = 0.0
) -> Answer:
    insurer = detect_insurer(question, index.insurers) if filtered else None
    hits = retrieve(index, question, embedder.encode([question])[0], insurer=insurer)
    return answer_question(question, hits, threshold=threshold, calibration=COVERAGE_ONLY)


def _passage_text(index: PolicyIndex, passage_id: str) -> str:
    return next(p.text for p in index.passages if p.passage_id == passage_id)


def test_answer_quotes_the_passage_verbatim_with_citations(index: PolicyIndex, embedder: Embedder) -> None:
    answer = _answer(index, embedder, "Does Northwind require prior authorization for a lumbar spine MRI?")
    assert answer.answered
    first = answer.citations[0]
    assert (first.passage_id, first.doc_key, first.version, first.page) == (
        "nw-imaging-1",
        "northwind-medical-policy",
        "2024.2",
        3,
    )
    assert "Prior authorization is required for MRI of the lumbar spine" in first.quote
    assert answer.text.startswith("Yes. ")
    assert "[1]" in answer.text
    assert "version 2024.2, page 3" in answer.text
    assert answer.closest[0].passage.passage_id == "nw-imaging-1"


@pytest.mark.parametrize(
    "question",
    [
        "Does Northwind cover CPAP machines?",
        "How long is the timely filing limit for Northwind claims?",
        "Is bariatric surgery covered by Contoso?",
        "How many speech therapy visits does Northwind allow?",
    ],
)
def test_citation_quote_is_the_passage_slice(index: PolicyIndex, embedder: Embedder, question: str) -> None:
    answer = _answer(index, embedder, question)
    assert answer.citations
    for citation in answer.citations:
        assert citation.quote == _passage_text(index, citation.passage_id)[citation.start : citation.end]
        assert citation.quote == citation.quote.strip()


def test_table_row_answer_quotes_the_row_and_its_header(index: PolicyIndex, embedder: Embedder) -> None:
    question = "How many physical therapy visits per calendar year does Northwind allow?"
    answer = _answer(index, embedder, question)
    quotes = [c.quote for c in answer.citations]
    assert "Physical therapy | 20 | Required after visit 12" in quotes
    assert "Service | Visits per calendar year | Authorization" in quotes
    assert not any("Occupational" in q or "Speech" in q for q in quotes)


def test_code_row_answer(index: PolicyIndex, embedder: Embedder) -> None:
    answer = _answer(index, embedder, "Does Contoso need prior authorization for a full face mask, A7030?")
    assert "A7030 | Full face mask | Not required" in [c.quote for c in answer.citations]
    assert {c.doc_key for c in answer.citations} == {"contoso-benefit-guide"}


@pytest.mark.parametrize(
    ("question", "insurer"),
    [
        ("Does Contoso require prior authorization for a lumbar MRI?", CONTOSO),
        ("Does Northwind require prior authorization for a lumbar MRI?", NORTHWIND),
        ("What is Contoso's timely filing limit?", CONTOSO),
        ("What is NWH's timely filing limit?", NORTHWIND),
    ],
)
def test_answers_never_mix_insurers(
    index: PolicyIndex, embedder: Embedder, question: str, insurer: str
) -> None:
    # retrieval unfiltered on purpose: the hits hold both insurers, the answer must keep to the named one
    answer = _answer(index, embedder, question, filtered=False)
    assert {h.passage.insurer for h in answer.closest} == {CONTOSO, NORTHWIND}
    insurers = {p.insurer for p in index.passages if p.passage_id in {c.passage_id for c in answer.citations}}
    assert insurers == {insurer}


def test_unnamed_insurer_answer_still_quotes_one_insurer(index: PolicyIndex, embedder: Embedder) -> None:
    answer = _answer(index, embedder, "Is prior authorization required for a lumbar MRI?")
    assert len({c.doc_key for c in answer.citations}) == 1


def test_yes_no_answers_follow_the_quote(index: PolicyIndex, embedder: Embedder) -> None:
    # "does not require ... when it is ordered by an orthopedic surgeon" is a condition, not a plain no
    contoso = _answer(index, embedder, "Does Contoso require prior authorization for a lumbar MRI?")
    assert contoso.text.startswith("\u201cContoso Care does not require prior authorization")
    excluded = _answer(index, embedder, "Does Contoso cover acupuncture?")
    assert excluded.text.startswith("No. ")


def test_no_verdict_when_the_passage_misses_part_of_the_question(
    index: PolicyIndex, embedder: Embedder
) -> None:
    # the CPAP passage says "requires" about adherence; it never mentions a nutrition consult
    answer = _answer(index, embedder, "Does Northwind require a nutrition consult before CPAP?")
    assert not answer.text.startswith(("Yes.", "No."))
    assert "nutrition" in answer.reason


def test_a_question_naming_an_unknown_insurer_abstains(index: PolicyIndex, embedder: Embedder) -> None:
    answer = _answer(index, embedder, "Does Meadowbrook Care require prior authorization for a lumbar MRI?")
    assert not answer.answered and answer.text == ABSTAIN_TEXT
    assert "Meadowbrook" in answer.reason
    assert answer.closest, "the closest passages are still shown"


def test_duration_questions_prefer_the_sentence_with_a_duration(
    index: PolicyIndex, embedder: Embedder
) -> None:
    answer = _answer(index, embedder, "Northwind deadline for corrected claims?")
    assert any("180 days" in c.quote for c in answer.citations)


def test_yes_or_no_only_when_plain() -> None:
    assert yes_or_no("Is a referral needed?", "No referral is required for in-network care.") == "No."
    assert yes_or_no("Does it need prior auth?", "Prior authorization is required.") == "Yes."
    assert yes_or_no("Is CPAP covered?", "CPAP is covered; masks are not covered.") is None
    assert yes_or_no("What is the limit?", "Prior authorization is required.") is None
    assert yes_or_no("Is CPAP covered?", "Claims must be filed within 90 days.") is None
    assert yes_or_no("Does 70450 still need auth?", "70450 no longer requires prior authorization.") == "No."
    assert yes_or_no("Is 72148 PA?", "CPT code: 72148 | Prior authorization required: Yes") == "Yes."
    assert yes_or_no("Is 70450 PA?", "CPT code: 70450 | Prior authorization required: No") == "No."
    assert yes_or_no("Is PT covered?", "PT is covered after visit 12 only with a referral.") is None
    assert yes_or_no("Is acupuncture covered?", "Acupuncture is not covered.") == "No."


def test_off_topic_question_abstains(index: PolicyIndex, embedder: Embedder) -> None:
    answer = _answer(index, embedder, "What is on the cafeteria menu on Friday?", threshold=0.5)
    assert not answer.answered
    assert answer.text == ABSTAIN_TEXT
    assert answer.citations == []
    assert answer.closest, "an abstention still shows the closest passages"
    assert answer.confidence < 0.5
    assert "< threshold 0.50" in answer.reason and "cafeteria" in answer.reason


def test_shipped_calibration_abstains_off_topic_and_answers_on_topic(
    index: PolicyIndex, embedder: Embedder
) -> None:
    shipped = Calibration.load()
    off = ask("What is on the cafeteria menu on Friday?", index, embedder, shipped)
    assert not off.answered and off.text == ABSTAIN_TEXT
    on = ask("What is the timely filing limit for Contoso Care claims?", index, embedder, shipped)
    assert on.answered, on.reason
    assert on.citations[0].passage_id == "cc-benefits-3"
    assert 0.0 <= off.confidence < shipped.threshold <= on.confidence <= 1.0


def test_no_hits_abstain() -> None:
    answer = answer_question("anything", [], threshold=0.5, calibration=COVERAGE_ONLY)
    assert not answer.answered and answer.confidence == 0.0 and answer.closest == []


def test_threshold_outside_zero_one_is_refused() -> None:
    with pytest.raises(ValueError, match="threshold must lie in"):
        answer_question("anything", [], threshold=1.5, calibration=COVERAGE_ONLY)


def test_calibration_round_trips_through_json(tmp_path: Path) -> None:
    rows = [{"a": float(i), "b": float(i % 3)} for i in range(20)]
    labels = [1 if i >= 10 else 0 for i in range(20)]
    fitted = fit_calibration(rows, labels, features=["a", "b"], threshold=0.4, meta={"fitted_on": "test"})
    path = tmp_path / "calibration.json"
    fitted.save(path)
    loaded = Calibration.load(path)
    assert loaded == fitted
    assert loaded.probability({"a": 18.0, "b": 0.0}) == fitted.probability({"a": 18.0, "b": 0.0})
    assert loaded.probability({"a": 18.0, "b": 0.0}) > 0.5 > loaded.probability({"a": 1.0, "b": 0.0})
    assert json.loads(path.read_text())["meta"] == {"fitted_on": "test"}


def test_bad_calibrations_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "calibration.json"
    path.write_text('{"features": ["a"], "mean": [0], "scale": [1], "coef": [1], "intercept": 0}')
    with pytest.raises(ValueError, match="missing the field 'threshold'"):
        Calibration.load(path)
    path.write_text("not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        Calibration.load(path)
    with pytest.raises(ValueError, match="no calibration file"):
        Calibration.load(tmp_path / "absent.json")
    with pytest.raises(ValueError, match="features missing for the calibration: top_bm25, top_coverage"):
        COVERAGE_ONLY.probability({"top_dense": 0.5})


def test_reliability_bins_compare_predicted_and_observed() -> None:
    table = reliability([0.1, 0.15, 0.9, 0.95, 1.0], [0, 1, 1, 1, 1], bins=5)
    assert [(b["count"], b["observed"]) for b in table] == [(2.0, 0.5), (3.0, 1.0)]
    assert table[0]["predicted"] == pytest.approx(0.125)
