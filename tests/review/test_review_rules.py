"""Which calls the review policy sends to a person (pure: no database, no server)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shipyard.review.queue.rules import decide, restricted_term
from shipyard.serving.policy import ReviewPolicy, RuntimePolicy


def policy(**fields: object) -> ReviewPolicy:
    return ReviewPolicy.model_validate(fields)


def test_an_empty_policy_sends_nothing() -> None:
    assert not ReviewPolicy().active
    assert decide(ReviewPolicy(), {"q": "lawsuit"}, 0.01, "served") is None


def test_low_confidence_holds_or_queues_and_ignores_calls_without_confidence() -> None:
    low = policy(low_confidence=0.6)
    found = decide(low, {}, 0.42, "served")
    assert found is not None and found.as_record() == {
        "action": "hold",
        "rule": "low_confidence",
        "reason": "confidence 0.42 < 0.6",
    }
    assert decide(low, {}, 0.6, "served") is None  # at the threshold is enough
    assert decide(low, {}, None, "served") is None  # a model without confidence cannot be judged on it
    queued = decide(policy(low_confidence=0.6, action="queue"), {}, 0.1, "fallback")
    assert queued is not None and (queued.action, queued.rule) == ("queue", "low_confidence")


def test_failed_rejected_and_shed_calls_never_go_to_review() -> None:
    strict = policy(low_confidence=1.0, sample_rate=1.0, restricted_terms=["x y"])
    for outcome in ("failed", "rejected", "shed"):
        assert decide(strict, {"q": "x y"}, 0.0, outcome) is None


def test_restricted_terms_are_whole_words_in_any_text_of_the_input() -> None:
    terms = policy(restricted_terms=["appeal", "Legal Hold", "c++"])
    assert restricted_term(terms, {"a": [{"b": "File the APPEAL today"}]}) == "appeal"
    assert restricted_term(terms, {"note": "under a legal\n  hold"}) == "legal hold"  # wrapped text too
    assert restricted_term(terms, {"note": "a legal-hold"}) is None
    assert restricted_term(terms, {"note": "appeals and appealing"}) is None
    assert restricted_term(terms, {"lang": "written in C++"}) == "c++"  # escaped, not a regex
    assert restricted_term(terms, {"appeal": 1}) is None  # keys are field names, not text
    found = decide(terms, ["an appeal"], 0.99, "served")
    assert found is not None and found.reason == "the input mentions 'appeal'"


def test_deep_or_huge_input_cannot_make_the_check_expensive() -> None:
    terms = policy(restricted_terms=["needle"])
    deep: object = "needle"
    for _ in range(50):
        deep = [deep]
    assert restricted_term(terms, deep) is None  # past the depth walked
    assert restricted_term(terms, {"a": "x" * 300_000 + " needle"}) is None  # past the text walked
    assert restricted_term(terms, {"a": "x " * 10 + "needle"}) == "needle"


def test_abstentions_are_queued_only_when_asked_and_samples_only_queue() -> None:
    assert decide(policy(low_confidence=0.9), {}, 0.1, "abstained") is None
    found = decide(policy(queue_abstentions=True), {}, 0.1, "abstained")
    assert found is not None and (found.action, found.rule) == ("queue", "abstained")
    sample = policy(sample_rate=0.25)
    assert decide(sample, {}, 0.9, "served", draw=0.3) is None
    found = decide(sample, {}, 0.9, "served", draw=0.2)
    assert found is not None and found.as_record() == {
        "action": "queue",
        "rule": "sample",
        "reason": "sampled for a quality check (25%)",
    }


def test_a_bad_review_policy_is_refused_with_the_field_named() -> None:
    for review, where in (
        ({"low_confidence": 1.5}, "low_confidence"),
        ({"sample_rate": -0.1}, "sample_rate"),
        ({"action": "drop"}, "action"),
        ({"restricted_terms": ["x"]}, "restricted_terms"),
        ({"hold_below": 0.3}, "hold_below"),
    ):
        with pytest.raises(ValidationError) as err:
            RuntimePolicy.model_validate({"review": review})
        assert where in str(err.value), review


def test_a_held_chat_answer_says_a_person_will_answer() -> None:
    from shipyard.serving.chat import render
    from shipyard.serving.service import InvokeResult

    held = InvokeResult(None, None, "held_for_review", 1, "req_1", review={"action": "hold"})
    assert render(held) == (
        "This question was sent to a person for review; the answer will follow once they have "
        "checked it. Reference: req_1."
    )
    assert held.as_dict("svc")["review"] == {"action": "hold"}
