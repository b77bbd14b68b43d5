"""The `joblib` loader: a joblib/pickle file holding a fitted scikit-learn estimator or pipeline, any
object with `predict` (and optionally `predict_proba`), or a plain callable taking the input dict.

Unpickling runs code from the artifact: only artifacts that passed registration (an owner uploaded
them, the caller verified their sha256) ever reach this loader.

With `predict_proba` (used when the version declares a confidence or config["output"] asks for
probabilities) the output is the most probable class label and the confidence its probability; a
batch is one vectorised `predict_proba` call. Without it the output is what `predict` gives per row.

Config keys:
    input_format: "records" (default) feeds the model a list of input dicts, which suits a
        DictVectorizer pipeline; "array" a 2-D float array in feature order; "dataframe" a pandas
        DataFrame with one column per feature (needs pandas; a missing input field becomes a null).
    features (list[str]): the feature order for "array" and "dataframe"; default: the input schema's
        properties in order.
    output: "label" (default) or "probabilities" (a class -> probability object; needs predict_proba).
    file: the file name inside a directory artifact (default: its one .joblib/.pkl/.pickle file).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import joblib
import numpy as np

from shipyard.core.errors import InvalidInput
from shipyard.registry.loaders.base import (
    LoadSpec,
    ModelOutput,
    Runtime,
    as_rows,
    check_batch_length,
    feature_order,
    from_probabilities,
    make_output,
    model_errors,
    output_mode,
    require_file,
    to_matrix,
)
from shipyard.registry.loaders.callable import CallableRuntime

_SUFFIXES = (".joblib", ".pkl", ".pickle")
_FORMATS = ("records", "array", "dataframe")

Feed = Callable[[list[dict[str, Any]]], Any]


class EstimatorRuntime:
    """Runs an object with predict / predict_proba on a whole batch at once."""

    def __init__(
        self,
        model: Any,
        *,
        feed: Feed,
        use_proba: bool,
        mode: str,
        returns_confidence: bool,
    ) -> None:
        self._model = model
        self._feed = feed
        self._use_proba = use_proba
        self._mode = mode
        self._returns_confidence = returns_confidence
        classes = getattr(model, "classes_", None)
        self._classes: list[Any] | None = None if classes is None else list(classes)

    def predict(self, inputs: dict[str, Any]) -> ModelOutput:
        return self.predict_batch([inputs])[0]

    def predict_batch(self, batch: list[dict[str, Any]]) -> list[ModelOutput]:
        if not batch:
            return []
        features = self._feed(batch)
        if self._use_proba:
            with model_errors():
                probabilities = np.asarray(self._model.predict_proba(features))
            check_batch_length(probabilities, len(batch))
            classes: Sequence[Any] = (
                self._classes if self._classes is not None else range(probabilities.shape[-1])
            )
            return from_probabilities(
                classes, probabilities, mode=self._mode, returns_confidence=self._returns_confidence
            )
        with model_errors():
            predictions = as_rows(self._model.predict(features))
        check_batch_length(predictions, len(batch))
        return [make_output(p, None, returns_confidence=False) for p in predictions]

    def close(self) -> None:
        self._model = None


class JoblibLoader:
    """Loads pickled estimators; see the module docstring for the config keys."""

    name = "joblib"

    def validate(self, spec: LoadSpec) -> None:
        require_file(spec, self.name, _SUFFIXES)
        input_format = spec.config.get("input_format", "records")
        if input_format not in _FORMATS:
            raise InvalidInput(
                f"config.input_format must be one of {', '.join(_FORMATS)}, got {input_format!r}"
            )
        if input_format != "records":
            feature_order(spec)
        output_mode(spec)

    def load(self, spec: LoadSpec) -> Runtime:
        self.validate(spec)
        path = require_file(spec, self.name, _SUFFIXES)
        try:
            model = joblib.load(path)
        except Exception as exc:
            raise InvalidInput(
                f"cannot load the joblib artifact {path.name}: {type(exc).__name__}: {exc}"
            ) from exc

        if not callable(getattr(model, "predict", None)):
            if callable(model):
                return CallableRuntime(
                    model, batch_fn=None, close_fn=None, returns_confidence=spec.returns_confidence
                )
            raise InvalidInput(
                f"the joblib artifact holds a {type(model).__name__}, which has no predict method "
                "and is not callable"
            )

        mode = output_mode(spec)
        use_proba = spec.returns_confidence or mode == "probabilities"
        if use_proba and not callable(getattr(model, "predict_proba", None)):
            wants = "a confidence" if spec.returns_confidence else "probabilities"
            raise InvalidInput(
                f"the version asks for {wants} but the {type(model).__name__} in the artifact "
                "has no predict_proba"
            )
        return EstimatorRuntime(
            model,
            feed=_feed(spec, model),
            use_proba=use_proba,
            mode=mode,
            returns_confidence=spec.returns_confidence,
        )


def _feed(spec: LoadSpec, model: Any) -> Feed:
    input_format = spec.config.get("input_format", "records")
    if input_format == "records":
        return lambda batch: batch
    features = feature_order(spec)
    if input_format == "array":
        expected = getattr(model, "n_features_in_", None)
        if isinstance(expected, int) and expected != len(features):
            raise InvalidInput(
                f"the model expects {expected} features but the feature order has {len(features)}: "
                f"{', '.join(features)}"
            )
        return lambda batch: to_matrix(batch, features, np.float64)
    try:
        import pandas as pd
    except ImportError as exc:
        raise InvalidInput("config.input_format 'dataframe' needs pandas: pip install pandas") from exc
    fitted_names = getattr(model, "feature_names_in_", None)
    if fitted_names is not None:
        missing = [str(name) for name in fitted_names if name not in features]
        if missing:
            raise InvalidInput(
                f"the model was fitted on features the feature order lacks: {', '.join(missing)}"
            )
        # scikit-learn insists on the columns in the order it was fitted with
        features = [str(name) for name in fitted_names]
    columns = features
    return lambda batch: pd.DataFrame([{f: row.get(f) for f in columns} for row in batch], columns=columns)
