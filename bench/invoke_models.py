"""The models of bench/invoke_overhead.py, and the one predict call the bare and BentoML servers make.

Imported by three interpreters: the benchmark driver (which builds and pickles the models), the bare
FastAPI app and the BentoML service (which unpickle them), and Shipyard's joblib loader (which unpickles
them too, so bench/ is on PYTHONPATH for every server). Only numpy is imported at module level: the
BentoML virtualenv has no Shipyard.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np


class NoopModel:
    """A classifier that ignores its input and returns a constant: what is left is pure serving overhead."""

    def __init__(self, classes: Sequence[str]) -> None:
        self.classes_ = np.asarray(list(classes))
        self._row = np.zeros((1, len(classes)))
        self._row[0, 0] = 1.0

    def predict_proba(self, rows: Sequence[Any]) -> np.ndarray[Any, Any]:
        return self._row if len(rows) == 1 else np.repeat(self._row, len(rows), axis=0)

    def predict(self, rows: Sequence[Any]) -> np.ndarray[Any, Any]:
        return np.repeat(self.classes_[:1], len(rows))


def predict_one(model: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    """What Shipyard's joblib runtime does for one row: predict_proba, then the top class and its probability.

    Used by the bare endpoint and the BentoML service, so all three targets do the same model work.
    """
    proba = model.predict_proba([inputs])[0]
    best = int(np.argmax(proba))
    return {"output": str(model.classes_[best]), "confidence": float(proba[best])}


def per_row_cost_ms(model: Any, row: dict[str, Any], calls: int = 200, repeats: int = 5) -> float:
    """CPU milliseconds of one single-row predict_proba: the best of `repeats` averages, on thread CPU
    time, so other processes on a busy machine do not inflate it."""
    for _ in range(20):
        model.predict_proba([row])
    best = float("inf")
    for _ in range(repeats):
        start = time.thread_time()
        for _ in range(calls):
            model.predict_proba([row])
        best = min(best, (time.thread_time() - start) / calls * 1e3)
    return best


def build_real_model(
    features: list[dict[str, Any]], labels: list[str], target_ms: float, *, tolerance: float = 0.1
) -> tuple[Any, int, float]:
    """A DictVectorizer + StandardScaler + RandomForest pipeline whose single-row predict_proba costs
    about `target_ms` of CPU: the tree count is calibrated here (the cost is about linear in it).

    Returns (pipeline, number of trees, measured ms per row).
    """
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    def fit(trees: int) -> Any:
        return Pipeline(
            [
                ("vectorize", DictVectorizer(sparse=False)),
                ("scale", StandardScaler()),
                (
                    "classify",
                    RandomForestClassifier(n_estimators=trees, max_depth=12, random_state=0, n_jobs=1),
                ),
            ]
        ).fit(features, labels)

    row = features[0]
    low, high = 2, 40
    cost_low, cost_high = per_row_cost_ms(fit(low), row), per_row_cost_ms(fit(high), row)
    per_tree = max((cost_high - cost_low) / (high - low), 1e-3)
    trees = max(1, round(low + (target_ms - cost_low) / per_tree))
    model, cost = None, 0.0
    for _ in range(4):
        model = fit(trees)
        cost = per_row_cost_ms(model, row)
        if abs(cost - target_ms) <= tolerance * target_ms:
            break
        trees = max(1, round(trees + (target_ms - cost) / per_tree))
    return model, trees, cost
