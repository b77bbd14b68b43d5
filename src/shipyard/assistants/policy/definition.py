"""The billing-policy-assistant service: what it is for, and the shape of its questions and answers."""

from __future__ import annotations

from typing import Any

SLUG = "billing-policy-assistant"

SERVICE: dict[str, str] = {
    "slug": SLUG,
    "name": "Billing policy assistant",
    "description": (
        "Answers billing staff's coverage questions (prior authorization, visit limits, codes, filing "
        "windows, appeals) from the insurers' policy documents in force, quoting and citing the passage "
        "it used, and says plainly when the active policies do not answer."
    ),
    "scope": (
        "Reference help for staff working on claims. It reports what the active policy documents say; it "
        "does not decide coverage, approve or deny a claim or an authorization, or give medical or legal "
        "advice. Answers carry their citations: check the cited passage before acting on it. Not for "
        "patients or for questions outside insurers' billing policies."
    ),
}

CITATION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["document_id", "doc_key", "version", "title", "page", "quote"],
    "properties": {
        "n": {"type": "integer", "minimum": 1},
        "passage_id": {"type": "string"},
        "document_id": {"type": "string"},
        "doc_key": {"type": "string"},
        "version": {"type": "string"},
        "title": {"type": "string"},
        "insurer": {"type": ["string", "null"]},
        "effective_date": {"type": ["string", "null"]},
        "page": {"type": "integer", "minimum": 1},
        "quote": {"type": "string"},
        "start": {"type": "integer", "minimum": 0},
        "end": {"type": "integer", "minimum": 0},
    },
}

INPUT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Coverage question",
    "type": "object",
    "required": ["question"],
    "additionalProperties": False,
    "properties": {
        "question": {
            "type": "string",
            "minLength": 3,
            "maxLength": 2000,
            "pattern": r"\S",
            "description": "The question as staff ask it, e.g. 'Does Northwind need prior auth for 72148?'",
        },
        "insurer": {
            "type": "string",
            "minLength": 1,
            "maxLength": 120,
            "description": "Answer from this insurer's policies only. Default: the one the question names.",
        },
    },
}

OUTPUT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Cited answer",
    "type": "object",
    "required": ["answered", "answer", "citations", "reason", "snapshot", "retrieved"],
    "properties": {
        "answered": {"type": "boolean", "description": "False: the assistant abstained."},
        "answer": {"type": "string"},
        "citations": {"type": "array", "items": CITATION_SCHEMA},
        "reason": {"type": "string", "description": "Why it answered or abstained."},
        "insurer": {"type": ["string", "null"]},
        "snapshot": {"type": "string", "description": "The corpus snapshot the answer came from."},
        "retrieved": {"type": "array", "items": {"type": "object"}},
        "closest": {"type": "array", "items": CITATION_SCHEMA},
        "superseded": {
            "type": ["object", "null"],
            "description": "The best-matching superseded or withdrawn version and how much better it "
            "matches than the active ones (evidence for abstaining; never cited).",
        },
        "generation": {"type": ["object", "null"]},
    },
}
