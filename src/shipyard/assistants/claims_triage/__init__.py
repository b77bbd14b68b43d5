"""Claims triage: route an insurance claim to a handling queue (example service).

A seeded synthetic claims generator, the service's JSON Schemas and metadata, and a scikit-learn
pipeline trained on the synthetic data.
"""

from .data import CLAIMS_TRIAGE, INPUT_SCHEMA, OUTPUT_SCHEMA, QUEUES, generate_claims, split_features
from .model import build_pipeline, evaluate, train

__all__ = [
    "CLAIMS_TRIAGE",
    "INPUT_SCHEMA",
    "OUTPUT_SCHEMA",
    "QUEUES",
    "build_pipeline",
    "evaluate",
    "generate_claims",
    "split_features",
    "train",
]
