"""Seeded synthetic insurance claims and the JSON Schemas of the claims-triage service.

The labels come from a latent rule set (fraud signals, then complexity, then simplicity) applied to
noisy scores, plus a few percent of flipped labels, so a model can learn the task but not perfectly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

QUEUES: tuple[str, ...] = ("fast-track", "standard", "specialist", "fraud-review")

CLAIM_TYPES: tuple[str, ...] = ("auto", "property", "health", "liability", "travel")
REGIONS: tuple[str, ...] = ("north", "south", "east", "west", "central")
CHANNELS: tuple[str, ...] = ("agent", "online", "phone", "broker")
DEDUCTIBLES: tuple[float, ...] = (0.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0)

MAX_AMOUNT = 500_000.0
MAX_TENURE_MONTHS = 600
MAX_REPORT_DAYS = 365
MAX_PRIOR_CLAIMS = 20
MAX_DOCUMENTS = 30

INPUT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Insurance claim",
    "description": "One insurance claim at first notice of loss, to be routed to a handling queue.",
    "type": "object",
    "properties": {
        "claim_amount": {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": MAX_AMOUNT,
            "description": "Amount claimed, in the policy currency.",
        },
        "claim_type": {
            "type": "string",
            "enum": list(CLAIM_TYPES),
            "description": "Line of business the claim falls under.",
        },
        "policy_tenure_months": {
            "type": "integer",
            "minimum": 0,
            "maximum": MAX_TENURE_MONTHS,
            "description": "Whole months the policy had been in force when the incident happened.",
        },
        "claimant_age": {
            "type": "integer",
            "minimum": 18,
            "maximum": 100,
            "description": "Age of the claimant in years.",
        },
        "incident_to_report_days": {
            "type": "integer",
            "minimum": 0,
            "maximum": MAX_REPORT_DAYS,
            "description": "Days between the incident and the claim being reported.",
        },
        "prior_claims_12m": {
            "type": "integer",
            "minimum": 0,
            "maximum": MAX_PRIOR_CLAIMS,
            "description": "Claims the policyholder made in the previous 12 months.",
        },
        "has_police_report": {
            "type": "boolean",
            "description": "Whether a police report was filed for the incident.",
        },
        "injury_involved": {
            "type": "boolean",
            "description": "Whether anyone was injured in the incident.",
        },
        "num_documents": {
            "type": "integer",
            "minimum": 0,
            "maximum": MAX_DOCUMENTS,
            "description": "Supporting documents attached (photos, invoices, reports).",
        },
        "policy_deductible": {
            "type": "number",
            "minimum": 0,
            "maximum": 10_000,
            "description": "Deductible of the policy, in the policy currency.",
        },
        "region": {
            "type": "string",
            "enum": list(REGIONS),
            "description": "Region where the incident happened.",
        },
        "channel": {
            "type": "string",
            "enum": list(CHANNELS),
            "description": "Channel through which the claim was submitted.",
        },
    },
    "required": [
        "claim_amount",
        "claim_type",
        "policy_tenure_months",
        "claimant_age",
        "incident_to_report_days",
        "prior_claims_12m",
        "has_police_report",
        "injury_involved",
        "num_documents",
        "policy_deductible",
        "region",
        "channel",
    ],
    "additionalProperties": False,
}

OUTPUT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Claim queue",
    "description": "Handling queue the claim is routed to.",
    "type": "string",
    "enum": list(QUEUES),
}

FIELDS: tuple[str, ...] = tuple(INPUT_SCHEMA["properties"])
LABEL = "queue"

# Per claim type: median amount, lognormal sigma, P(police report), P(injury), type mix.
_TYPE_PROFILE: dict[str, tuple[float, float, float, float, float]] = {
    "auto": (4_000.0, 1.0, 0.60, 0.22, 0.34),
    "property": (8_000.0, 1.1, 0.45, 0.04, 0.24),
    "health": (3_000.0, 1.0, 0.05, 0.35, 0.18),
    "liability": (12_000.0, 1.2, 0.30, 0.40, 0.10),
    "travel": (900.0, 0.9, 0.20, 0.08, 0.14),
}
_REGION_P = (0.22, 0.24, 0.18, 0.20, 0.16)
_CHANNEL_P = (0.30, 0.36, 0.20, 0.14)
_DEDUCTIBLE_P = (0.08, 0.22, 0.30, 0.24, 0.11, 0.05)
_LABEL_NOISE = 0.05


def generate_claims(n: int, seed: int = 7) -> list[dict[str, Any]]:
    """Return ``n`` synthetic claims, each with the INPUT_SCHEMA fields and a ``"queue"`` label.

    Deterministic for a given ``seed``; values are plain Python types so records are JSON-ready.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    rng = np.random.default_rng(seed)
    types = np.array(CLAIM_TYPES)
    type_p = np.array([_TYPE_PROFILE[t][4] for t in CLAIM_TYPES])
    claim_type = rng.choice(types, size=n, p=type_p / type_p.sum())
    median, sigma, p_police, p_injury = (
        np.array([_TYPE_PROFILE[str(t)][i] for t in claim_type]) for i in range(4)
    )

    amount = np.clip(np.round(rng.lognormal(np.log(median), sigma), 2), 25.0, MAX_AMOUNT)
    tenure = np.clip(np.rint(rng.gamma(1.4, 34.0, size=n)), 0, MAX_TENURE_MONTHS).astype(int)
    age = np.clip(np.rint(rng.normal(46.0, 15.0, size=n)), 18, 100).astype(int)
    # Most claims are reported within days; a minority much later (the long tail fraud hides in).
    late = rng.random(n) < 0.18
    delay = np.where(late, rng.exponential(45.0, size=n), rng.exponential(4.0, size=n))
    delay = np.clip(np.rint(delay), 0, MAX_REPORT_DAYS).astype(int)
    # A small group of frequent claimants on top of the usual rare ones.
    frequent = rng.random(n) < 0.05
    prior = np.clip(rng.poisson(0.45, size=n) + frequent * rng.poisson(3.0, size=n), 0, MAX_PRIOR_CLAIMS)
    police = rng.random(n) < p_police
    injury = rng.random(n) < p_injury
    region = rng.choice(np.array(REGIONS), size=n, p=_REGION_P)
    channel = rng.choice(np.array(CHANNELS), size=n, p=_CHANNEL_P)
    # Online submissions tend to carry fewer attachments than agent- or broker-assisted ones.
    doc_mean = np.where(channel == "online", 2.2, 3.6)
    docs = np.clip(rng.poisson(doc_mean), 0, MAX_DOCUMENTS).astype(int)
    deductible = rng.choice(np.array(DEDUCTIBLES), size=n, p=_DEDUCTIBLE_P)

    labels = _latent_queue(
        rng,
        claim_type=claim_type,
        amount=amount,
        median=median,
        tenure=tenure,
        delay=delay,
        prior=prior,
        police=police,
        injury=injury,
        docs=docs,
        channel=channel,
        region=region,
    )

    records: list[dict[str, Any]] = []
    for i in range(n):
        records.append(
            {
                "claim_amount": float(amount[i]),
                "claim_type": str(claim_type[i]),
                "policy_tenure_months": int(tenure[i]),
                "claimant_age": int(age[i]),
                "incident_to_report_days": int(delay[i]),
                "prior_claims_12m": int(prior[i]),
                "has_police_report": bool(police[i]),
                "injury_involved": bool(injury[i]),
                "num_documents": int(docs[i]),
                "policy_deductible": float(deductible[i]),
                "region": str(region[i]),
                "channel": str(channel[i]),
                LABEL: labels[i],
            }
        )
    return records


def _latent_queue(rng: np.random.Generator, **f: Any) -> list[str]:
    n = len(f["amount"])
    relative = f["amount"] / f["median"]

    fraud = (
        2.0 * (f["tenure"] < 6)
        + 1.0 * ((f["tenure"] >= 6) & (f["tenure"] < 12))
        + 1.0 * (f["prior"] >= 2)
        + 1.5 * (f["prior"] >= 3)
        + 1.0 * (f["delay"] > 14)
        + 1.0 * (f["delay"] > 45)
        + 1.0 * (~f["police"] & np.isin(f["claim_type"], ("auto", "property")))
        + 1.0 * (relative > 3.0)
        + 0.5 * (f["docs"] <= 1)
        + 0.5 * (f["channel"] == "online")
        + 0.3 * (f["region"] == "south")
    )
    fraud = fraud + rng.normal(0.0, 0.3, size=n)

    complexity = (
        2.0 * f["injury"]
        + 1.5 * (f["claim_type"] == "liability")
        + 1.0 * (f["amount"] > 40_000)
        + 2.0 * (f["amount"] > 100_000)
    )
    complexity = complexity + rng.normal(0.0, 0.3, size=n)

    simple = (
        1.5 * (f["amount"] < 2_500)
        + 1.0 * (f["amount"] < 6_000)
        + 1.0 * (f["docs"] >= 3)
        + 1.0 * (f["prior"] == 0)
        + 0.5 * (f["delay"] <= 7)
    )
    simple = simple + rng.normal(0.0, 0.3, size=n)

    queue = np.full(n, "standard", dtype=object)
    queue[simple >= 3.0] = "fast-track"
    queue[complexity >= 1.6] = "specialist"
    queue[fraud >= 2.7] = "fraud-review"

    # Label noise: a few claims land in a different queue than the rules say, as in real triage logs.
    flip = rng.random(n) < _LABEL_NOISE
    shift = rng.integers(1, len(QUEUES), size=n)
    index = {q: i for i, q in enumerate(QUEUES)}
    out: list[str] = []
    for i in range(n):
        q = str(queue[i])
        if flip[i]:
            q = QUEUES[(index[q] + int(shift[i])) % len(QUEUES)]
        out.append(q)
    return out


def split_features(records: Iterable[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """Split labelled records into (feature dicts without the label, labels)."""
    features: list[dict[str, Any]] = []
    labels: list[str] = []
    for record in records:
        features.append({k: v for k, v in record.items() if k != LABEL})
        labels.append(str(record[LABEL]))
    return features, labels


CLAIMS_TRIAGE: dict[str, str] = {
    "slug": "claims-triage",
    "name": "Claims triage",
    "description": (
        "Routes a newly reported insurance claim to a handling queue (fast-track, standard, specialist "
        "or fraud-review) from the facts known at first notice of loss."
    ),
    "scope": (
        "Routing only: it decides which team looks at a claim first. It must never approve, deny or "
        "reduce a claim, set a payout, or label a person as a fraudster; a fraud-review route only asks "
        "a human investigator to look, and a person makes every coverage and fraud decision. Not for "
        "claims outside the listed claim types or for underwriting, pricing or employment decisions."
    ),
}
