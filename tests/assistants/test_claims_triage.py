"""Claims-triage example service: synthetic data generator and the trained classifier."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import joblib
import jsonschema
import numpy as np
import pytest

from shipyard.assistants.claims_triage import (
    CLAIMS_TRIAGE,
    INPUT_SCHEMA,
    OUTPUT_SCHEMA,
    QUEUES,
    evaluate,
    generate_claims,
    split_features,
    train,
)


@pytest.fixture(scope="module")
def pipeline() -> Any:
    return train()


@pytest.fixture(scope="module")
def claims() -> list[dict[str, Any]]:
    return generate_claims(3000, seed=7)


def test_generator_is_deterministic_per_seed() -> None:
    assert generate_claims(200, seed=11) == generate_claims(200, seed=11)
    assert generate_claims(200, seed=11) != generate_claims(200, seed=12)
    assert generate_claims(0) == []


def test_records_have_exactly_the_schema_fields_and_validate(claims: list[dict[str, Any]]) -> None:
    jsonschema.Draft202012Validator.check_schema(INPUT_SCHEMA)
    jsonschema.Draft202012Validator.check_schema(OUTPUT_SCHEMA)
    validator = jsonschema.Draft202012Validator(INPUT_SCHEMA)
    output_validator = jsonschema.Draft202012Validator(OUTPUT_SCHEMA)
    fields = set(INPUT_SCHEMA["properties"])
    assert set(INPUT_SCHEMA["required"]) == fields
    assert INPUT_SCHEMA["additionalProperties"] is False
    assert all("description" in spec for spec in INPUT_SCHEMA["properties"].values())
    features, labels = split_features(claims)
    for record, label in zip(features, labels, strict=True):
        assert set(record) == fields
        errors = [e.message for e in validator.iter_errors(record)]
        assert errors == [], (record, errors)
        output_validator.validate(label)
    assert "queue" in claims[0] and "queue" not in features[0]


def test_schema_rejects_bad_claims(claims: list[dict[str, Any]]) -> None:
    validator = jsonschema.Draft202012Validator(INPUT_SCHEMA)
    good, _ = split_features(claims[:1])
    assert validator.is_valid(good[0])
    assert not validator.is_valid({**good[0], "claim_amount": 0})
    assert not validator.is_valid({**good[0], "claimant_age": 12})
    assert not validator.is_valid({**good[0], "claim_type": "pet"})
    assert not validator.is_valid({**good[0], "unexpected": 1})
    missing = dict(good[0])
    del missing["region"]
    assert not validator.is_valid(missing)


def test_class_balance_is_roughly_as_designed(claims: list[dict[str, Any]]) -> None:
    counts = Counter(record["queue"] for record in claims)
    assert set(counts) == set(QUEUES)
    share = {queue: counts[queue] / len(claims) for queue in QUEUES}
    target = {"standard": 0.35, "fast-track": 0.30, "specialist": 0.20, "fraud-review": 0.15}
    for queue, expected in target.items():
        assert abs(share[queue] - expected) < 0.05, share


def test_value_ranges_are_realistic(claims: list[dict[str, Any]]) -> None:
    amounts = np.array([c["claim_amount"] for c in claims])
    by_type = {
        t: np.median([c["claim_amount"] for c in claims if c["claim_type"] == t])
        for t in ("travel", "liability")
    }
    assert by_type["travel"] < by_type["liability"]
    assert amounts.min() > 0 and amounts.max() <= 500_000
    assert len({c["claim_type"] for c in claims}) == len(INPUT_SCHEMA["properties"]["claim_type"]["enum"])
    assert len({c["channel"] for c in claims}) == len(INPUT_SCHEMA["properties"]["channel"]["enum"])


def test_model_beats_majority_baseline_on_held_out_data(pipeline: Any) -> None:
    report = evaluate(pipeline)
    assert report["accuracy"] >= 0.78, report
    assert report["accuracy"] >= report["baseline_accuracy"] + 0.3, report
    assert set(report["per_queue"]) == set(QUEUES)
    for queue, recall in report["per_queue"].items():
        assert recall >= 0.55, (queue, report)


def test_pipeline_takes_plain_dicts_and_returns_probabilities(pipeline: Any) -> None:
    assert type(pipeline.steps[0][1]).__name__ == "DictVectorizer"
    assert set(pipeline.classes_) == set(QUEUES)
    claim, _ = split_features(generate_claims(1, seed=123))
    proba = pipeline.predict_proba([claim[0]])
    assert proba.shape == (1, len(QUEUES))
    assert proba.sum() == pytest.approx(1.0)
    assert (proba >= 0).all()
    assert pipeline.predict([claim[0]])[0] in QUEUES


def test_obvious_claims_route_as_expected(pipeline: Any) -> None:
    base = {
        "claim_amount": 900.0,
        "claim_type": "travel",
        "policy_tenure_months": 60,
        "claimant_age": 40,
        "incident_to_report_days": 1,
        "prior_claims_12m": 0,
        "has_police_report": False,
        "injury_involved": False,
        "num_documents": 5,
        "policy_deductible": 250.0,
        "region": "north",
        "channel": "agent",
    }
    suspicious = {
        **base,
        "claim_amount": 60_000.0,
        "claim_type": "property",
        "policy_tenure_months": 2,
        "incident_to_report_days": 90,
        "prior_claims_12m": 4,
        "num_documents": 0,
        "channel": "online",
    }
    injury = {**base, "claim_amount": 30_000.0, "claim_type": "liability", "injury_involved": True}
    assert list(pipeline.predict([base, suspicious, injury])) == ["fast-track", "fraud-review", "specialist"]


def test_pipeline_round_trips_through_joblib(pipeline: Any, tmp_path: Path) -> None:
    path = tmp_path / "claims-triage.joblib"
    joblib.dump(pipeline, path)
    loaded = joblib.load(path)
    features, _ = split_features(generate_claims(50, seed=5))
    np.testing.assert_array_equal(loaded.predict_proba(features), pipeline.predict_proba(features))
    assert list(loaded.classes_) == list(pipeline.classes_)


def test_training_is_reproducible() -> None:
    features, _ = split_features(generate_claims(30, seed=8))
    first = train(n=1500, seed=3).predict_proba(features)
    second = train(n=1500, seed=3).predict_proba(features)
    np.testing.assert_array_equal(first, second)


def test_service_metadata() -> None:
    assert CLAIMS_TRIAGE["slug"] == "claims-triage"
    assert CLAIMS_TRIAGE["name"] == "Claims triage"
    assert CLAIMS_TRIAGE["description"] and CLAIMS_TRIAGE["scope"]
    assert "never" in CLAIMS_TRIAGE["scope"].lower()
    assert OUTPUT_SCHEMA["enum"] == list(QUEUES)
