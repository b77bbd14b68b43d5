"""The evaluation's definitions, on hand-made results whose right scores are known."""

from __future__ import annotations

import math

import pytest

from shipyard.evaluation.qa import Cited, Example, Result, correct, score

PA = Example(
    "q1",
    "Prior auth for 72148 at Northwind?",
    True,
    evidence=("prior authorization is required",),
    doc_key="nwh-mri",
    version="2025.1",
    category="fact",
)
PT = Example(
    "q2", "PT visit limit?", True, evidence=("30 visits",), doc_key="nwh-pt", version="2", category="table"
)
NO1 = Example("q3", "Acupuncture?", False, category="missing-topic")
NO2 = Example("q4", "Old rule?", False, category="superseded-only")
RIGHT = Cited("nwh-mri", "2025.1", "Prior  Authorization is required for MRI of the lumbar spine.")


def test_an_answer_is_right_only_from_the_labelled_version_with_all_the_evidence() -> None:
    assert correct(PA, Result("q1", True, (RIGHT,)))
    assert not correct(PA, Result("q1", True, (Cited("nwh-mri", "2024.1", RIGHT.quote),)))  # old version
    assert not correct(
        PA, Result("q1", True, (Cited("nwh-mri", "2025.1", "MRI is covered."),))
    )  # no evidence
    assert not correct(PA, Result("q1", False))  # abstaining on an answerable question is wrong
    assert not correct(PA, Result("q1", True, (RIGHT,), error="timeout"))


def test_scores_and_failures() -> None:
    results = [
        Result("q1", True, (RIGHT,), latency_ms=10),
        Result("q2", False, latency_ms=20),  # wrongly abstained
        Result("q3", False, latency_ms=30),  # rightly abstained
        Result(
            "q4", True, (Cited("nwh-old", "1", "old rule"),), latency_ms=40
        ),  # answered from a superseded version
    ]
    report = score([PA, PT, NO1, NO2], results, in_force={("nwh-mri", "2025.1"), ("nwh-old", "2")})
    assert (report.questions, report.answerable, report.unanswerable) == (4, 2, 2)
    assert report.accuracy == 0.5
    assert report.abstention_precision == 0.5  # of q2, q3 only q3 was right to abstain
    assert report.abstention_recall == 0.5
    assert report.citation_correctness == 0.5  # q1 right; q4 should not have cited anything
    assert report.superseded_citations == 1
    assert report.latency_p50_ms == 25 and math.isclose(report.latency_p95_ms, 38.5)
    assert {f["id"]: f["why"] for f in report.failures} == {
        "q2": "abstained on an answerable question",
        "q4": "answered an unanswerable question",
    }
    assert report.by_category["superseded-only"] == {"questions": 1, "right": 0, "share": 0.0}


def test_every_question_needs_a_result() -> None:
    with pytest.raises(ValueError, match="no result for 1 questions"):
        score([PA, PT], [Result("q1", True, (RIGHT,))])


def test_missed_targets_are_named_for_strict_runs() -> None:
    from shipyard.cli.eval_cmds import missed_targets

    results = [Result("q1", True, (RIGHT,), latency_ms=900), Result("q3", False, latency_ms=10)]
    report = score([PA, NO1], results)
    assert missed_targets(report) == ["latency_p95_ms"]  # everything else is right
    nothing_unanswerable = score([PA], [Result("q1", True, (RIGHT,), latency_ms=5)])
    assert missed_targets(nothing_unanswerable) == []  # abstention not measurable: not a miss
