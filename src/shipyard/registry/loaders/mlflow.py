"""The `mlflow` loader: an MLflow model directory (an MLmodel file inside), loaded as a pyfunc.

Needs mlflow (mlflow-skinny is enough) and pandas: pip install 'shipyard[mlflow]'. Any flavour that
MLflow can load as a pyfunc works, provided that flavour's own library is installed.

The model is fed a pandas DataFrame with one row per input. Its result is split back into rows: the
output is the row's value (a record when the result has several columns). When the result is a
DataFrame or dict with an `output` column or key, that is the output, and a `confidence` column or
key is the confidence.

Config keys:
    features (list[str]): the column order; default: the input schema's properties in order. Input
        fields outside it come after, as they are.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from shipyard.core.errors import InvalidInput, ModelFailed
from shipyard.registry.loaders.base import (
    LoadSpec,
    ModelOutput,
    Runtime,
    as_rows,
    check_batch_length,
    feature_order,
    make_output,
    model_errors,
)

_INSTALL_HINT = "the mlflow loader needs mlflow and pandas: pip install 'shipyard[mlflow]'"


class MlflowRuntime:
    """A loaded pyfunc; a batch is one DataFrame and one predict call."""

    def __init__(self, model: Any, pandas: Any, *, columns: list[str], returns_confidence: bool) -> None:
        self._model = model
        self._pd = pandas
        self._columns = columns
        self._returns_confidence = returns_confidence

    def predict(self, inputs: dict[str, Any]) -> ModelOutput:
        return self.predict_batch([inputs])[0]

    def predict_batch(self, batch: list[dict[str, Any]]) -> list[ModelOutput]:
        if not batch:
            return []
        frame = self._pd.DataFrame(batch)
        known = [c for c in self._columns if c in frame.columns]
        frame = frame[known + [c for c in frame.columns if c not in known]]
        with model_errors():
            raw = self._model.predict(frame)
        outputs, confidences = self._split(raw, len(batch))
        return [
            make_output(output, confidence, returns_confidence=self._returns_confidence)
            for output, confidence in zip(outputs, confidences, strict=True)
        ]

    def _split(self, raw: Any, n: int) -> tuple[list[Any], list[Any]]:
        none: list[Any] = [None] * n
        if isinstance(raw, self._pd.DataFrame):
            if "output" in raw.columns:
                confidences = raw["confidence"].tolist() if "confidence" in raw.columns else none
                return _rows(raw["output"].tolist(), n), _rows(confidences, n)
            if len(raw.columns) == 1:
                return _rows(raw.iloc[:, 0].tolist(), n), none
            return _rows(raw.to_dict(orient="records"), n), none
        if isinstance(raw, Mapping):
            if "output" in raw:
                return _column(raw["output"], n), _column(raw.get("confidence"), n)
            if n == 1:
                return [dict(raw)], none
            columns = {key: _column(value, n) for key, value in raw.items()}
            return [{key: values[i] for key, values in columns.items()} for i in range(n)], none
        if n == 1 and not isinstance(raw, list | tuple) and np.ndim(raw) == 0:
            return [raw], none
        return _rows(as_rows(raw), n), none

    def close(self) -> None:
        self._model = None


class MlflowLoader:
    """Loads MLflow model directories as pyfuncs; see the module docstring for the config keys."""

    name = "mlflow"

    def validate(self, spec: LoadSpec) -> None:
        path = spec.artifact_path
        if path is None or not path.is_dir():
            raise InvalidInput("the mlflow loader needs an artifact that is an MLflow model directory")
        if not (path / "MLmodel").is_file():
            raise InvalidInput("the artifact directory has no MLmodel file; is it an MLflow model?")
        if "features" in spec.config:
            feature_order(spec)

    def load(self, spec: LoadSpec) -> Runtime:
        self.validate(spec)
        assert spec.artifact_path is not None  # checked by validate
        pyfunc, pandas = _import_mlflow()
        try:
            model = pyfunc.load_model(str(spec.artifact_path))
        except Exception as exc:
            raise InvalidInput(f"cannot load the MLflow model: {type(exc).__name__}: {exc}") from exc
        try:
            columns = feature_order(spec)
        except InvalidInput:
            columns = []  # no declared order: the input's own field order
        return MlflowRuntime(model, pandas, columns=columns, returns_confidence=spec.returns_confidence)


def _import_mlflow() -> tuple[Any, Any]:
    try:
        with warnings.catch_warnings():
            # mlflow 3 warns about its own bundled agent types on import; it says nothing about ours
            warnings.filterwarnings("ignore", message=r".*Any type hint is inferred", category=UserWarning)
            import mlflow.pyfunc
            import pandas
    except ImportError as exc:
        raise InvalidInput(_INSTALL_HINT) from exc
    return mlflow.pyfunc, pandas


def _rows(values: list[Any], n: int) -> list[Any]:
    check_batch_length(values, n)
    return values


def _column(value: Any, n: int) -> list[Any]:
    """One value per row from a dict entry: a list-like of n items, or a single value for one row."""
    if value is None:
        return [None] * n
    try:
        rows = as_rows(value)
    except ModelFailed:
        rows = None
    if rows is not None and len(rows) == n:
        return rows
    if n == 1:
        return [value]
    raise ModelFailed(
        f"model returned a column of {len(rows) if rows is not None else 1} values for {n} inputs"
    )
