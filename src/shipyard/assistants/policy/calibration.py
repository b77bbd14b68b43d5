"""Calibrated confidence: a logistic regression over answer features, fitted on the dev questions."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SHIPPED_PATH = Path(__file__).with_name("calibration.json")


@dataclass(frozen=True)
class Calibration:
    """Standardise each feature, then a logistic function: P(the answer is right)."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.features)
        if not n:
            raise ValueError("a calibration needs at least one feature")
        if not (len(self.mean) == len(self.scale) == len(self.coef) == n):
            raise ValueError(
                f"calibration has {n} features but {len(self.mean)} means, "
                f"{len(self.scale)} scales and {len(self.coef)} coefficients"
            )
        if any(s <= 0 or not math.isfinite(s) for s in self.scale):
            raise ValueError("calibration scales must be positive and finite")
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"calibration threshold must lie in [0, 1], got {self.threshold}")

    def probability(self, values: Mapping[str, float]) -> float:
        """The calibrated probability for one answer's features (every named feature must be given)."""
        missing = [f for f in self.features if f not in values]
        if missing:
            raise ValueError(f"features missing for the calibration: {', '.join(missing)}")
        z = self.intercept
        for name, mu, sigma, w in zip(self.features, self.mean, self.scale, self.coef, strict=True):
            z += w * (float(values[name]) - mu) / sigma
        # numerically stable logistic
        if z >= 0:
            return 1.0 / (1.0 + math.exp(-z))
        e = math.exp(z)
        return e / (1.0 + e)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "features": list(self.features),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "coef": list(self.coef),
            "intercept": self.intercept,
            "threshold": self.threshold,
            "meta": dict(self.meta),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibration:
        """Read what `to_dict` wrote; a missing or mistyped field is an error that names it."""
        try:
            return cls(
                features=tuple(str(f) for f in data["features"]),
                mean=tuple(float(v) for v in data["mean"]),
                scale=tuple(float(v) for v in data["scale"]),
                coef=tuple(float(v) for v in data["coef"]),
                intercept=float(data["intercept"]),
                threshold=float(data["threshold"]),
                meta=dict(data.get("meta", {})),
            )
        except KeyError as exc:
            raise ValueError(f"calibration is missing the field {exc.args[0]!r}") from exc
        except (TypeError, ValueError) as exc:
            raise ValueError(f"calibration has a malformed field: {exc}") from exc

    def save(self, path: Path) -> None:
        """Write as indented JSON."""
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path = SHIPPED_PATH) -> Calibration:
        """Read a calibration file (by default the one fitted on the dev questions and shipped)."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ValueError(f"no calibration file at {path}") from exc
        except json.JSONDecodeError as exc:
            raise ValueError(f"calibration file {path} is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ValueError(f"calibration file {path} must hold a JSON object")
        return cls.from_dict(data)


def fit_calibration(
    rows: Sequence[Mapping[str, float]],
    labels: Sequence[int],
    *,
    features: Sequence[str],
    threshold: float = 0.5,
    c: float = 1.0,
    meta: Mapping[str, Any] | None = None,
) -> Calibration:
    """Fit the logistic regression (scikit-learn) on feature rows and 0/1 labels "the answer was right"."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    if len(rows) != len(labels):
        raise ValueError(f"{len(rows)} feature rows but {len(labels)} labels")
    if len(set(labels)) < 2:
        raise ValueError("fitting a calibration needs both right and wrong answers among the labels")
    x = np.array([[float(r[f]) for f in features] for r in rows], dtype=np.float64)
    y = np.array(labels, dtype=np.int64)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    model = LogisticRegression(C=c, max_iter=1000)
    model.fit((x - mean) / scale, y)
    return Calibration(
        features=tuple(features),
        mean=tuple(float(v) for v in mean),
        scale=tuple(float(v) for v in scale),
        coef=tuple(float(v) for v in model.coef_[0]),
        intercept=float(model.intercept_[0]),
        threshold=threshold,
        meta=dict(meta or {}),
    )


def reliability(
    probabilities: Sequence[float], labels: Sequence[int], *, bins: int = 5
) -> list[dict[str, float]]:
    """Predicted against observed in equal-width bins: the reliability table of a calibration."""
    if len(probabilities) != len(labels):
        raise ValueError(f"{len(probabilities)} probabilities but {len(labels)} labels")
    table: list[dict[str, float]] = []
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        members = [
            (p, y)
            for p, y in zip(probabilities, labels, strict=True)
            if low <= p < high or (b == bins - 1 and p == 1.0)
        ]
        if not members:
            continue
        table.append(
            {
                "low": low,
                "high": high,
                "count": float(len(members)),
                "predicted": sum(p for p, _ in members) / len(members),
                "observed": sum(y for _, y in members) / len(members),
            }
        )
    return table
