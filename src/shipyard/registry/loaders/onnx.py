"""The `onnx` loader: an ONNX model run by onnxruntime on the CPU.

Each model input is fed a [batch, n_features] tensor of its declared element type (float32 for
skl2onnx models), columns in feature order. Classifiers converted by skl2onnx give a label output and
a probability output, the latter either a list of {class: probability} (ZipMap, skl2onnx's default) or
a [batch, n_classes] tensor (zipmap=False); both are read. With a probability output the output is the
label and the confidence its probability, as for joblib. Any other model (a regressor) gives one
tensor whose row is the output (a number when the row has one value).

Config keys:
    threads (int): intra-op threads of the session; default 1, since serving runs calls side by side.
    features (list[str]): the single input's feature order; default: the input schema's properties.
    inputs (dict[str, list[str]]): ONNX input name -> its features, for models with several inputs.
    label_output (str): the output holding labels; default: the first output that is not probabilities.
    probability_output (str): the output holding probabilities; default: a seq(map) output, or one
        whose name contains "prob".
    classes (list): class labels in probability-column order; only needed for output "probabilities"
        from a plain probability tensor when the graph does not name its classes.
    output: "label" (default) or "probabilities" (a class -> probability object).
    file: the file name inside a directory artifact (default: its one .onnx file).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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

_DTYPES: dict[str, Any] = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
}
_CLASS_ATTRIBUTES = ("classlabels_ints", "classlabels_int64s", "classlabels_strings")


class OnnxRuntime:
    """One onnxruntime session; a batch is one `run` call."""

    def __init__(
        self,
        session: Any,
        *,
        inputs: list[tuple[str, list[str], Any]],
        label_output: str | None,
        probability_output: str | None,
        classes: list[Any] | None,
        mode: str,
        returns_confidence: bool,
    ) -> None:
        self._session = session
        self._inputs = inputs
        self._label = label_output
        self._probability = probability_output
        self._classes = classes
        self._mode = mode
        self._returns_confidence = returns_confidence
        # a plain label needs no probabilities, so skip computing them
        label_only = probability_output is None or (mode == "label" and not returns_confidence)
        self._single_output = label_output if label_only else None

    def predict(self, inputs: dict[str, Any]) -> ModelOutput:
        return self.predict_batch([inputs])[0]

    def predict_batch(self, batch: list[dict[str, Any]]) -> list[ModelOutput]:
        if not batch:
            return []
        feeds = {name: to_matrix(batch, features, dtype) for name, features, dtype in self._inputs}
        if self._single_output is not None:
            with model_errors():
                (result,) = self._session.run([self._single_output], feeds)
            rows = as_rows(result)
            check_batch_length(rows, len(batch))
            return [make_output(_scalar(row), None, returns_confidence=False) for row in rows]

        probability = self._probability
        assert probability is not None  # else the single-output path above ran
        names = [probability] if self._label is None else [self._label, probability]
        with model_errors():
            results = dict(zip(names, self._session.run(names, feeds), strict=True))
        labels = None if self._label is None else as_rows(results[self._label])
        classes, matrix = self._probability_matrix(results[probability])
        check_batch_length(matrix, len(batch))
        if labels is not None:
            check_batch_length(labels, len(batch))
        return from_probabilities(
            classes,
            matrix,
            mode=self._mode,
            returns_confidence=self._returns_confidence,
            labels=labels,
        )

    def _probability_matrix(self, raw: Any) -> tuple[list[Any], Any]:
        if isinstance(raw, list):  # ZipMap: one {class: probability} per row, classes in order
            classes = list(raw[0]) if raw else []
            return classes, [[row[c] for c in classes] for row in raw]
        matrix = np.asarray(raw)
        width = matrix.shape[-1] if matrix.ndim == 2 else 0
        # with a label output the classes only size the matrix; the label comes from the model
        return (self._classes if self._classes is not None else list(range(width))), matrix

    def close(self) -> None:
        self._session = None


class OnnxLoader:
    """Loads .onnx files into onnxruntime; see the module docstring for the config keys."""

    name = "onnx"

    def validate(self, spec: LoadSpec) -> None:
        require_file(spec, self.name, (".onnx",))
        threads = spec.config.get("threads", 1)
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise InvalidInput(f"config.threads must be a positive integer, got {threads!r}")
        mapping = spec.config.get("inputs")
        if mapping is None:
            feature_order(spec)
        elif (
            not isinstance(mapping, dict)
            or not mapping
            or not all(
                isinstance(k, str) and isinstance(v, list) and v and all(isinstance(f, str) for f in v)
                for k, v in mapping.items()
            )
        ):
            raise InvalidInput("config.inputs must map each ONNX input name to a non-empty list of features")
        for key in ("label_output", "probability_output"):
            if not isinstance(spec.config.get(key, ""), str):
                raise InvalidInput(f"config.{key} must be an output name")
        classes = spec.config.get("classes")
        if classes is not None and not isinstance(classes, list):
            raise InvalidInput("config.classes must be a list of class labels")
        output_mode(spec)

    def load(self, spec: LoadSpec) -> Runtime:
        self.validate(spec)
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise InvalidInput("the onnx loader needs onnxruntime: pip install 'shipyard[onnx]'") from exc
        path = require_file(spec, self.name, (".onnx",))
        options = ort.SessionOptions()
        options.intra_op_num_threads = spec.config.get("threads", 1)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # onnxruntime's own warnings go to stderr, not our logs
        try:
            session = ort.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            raise InvalidInput(f"cannot load the ONNX model {path.name}: {exc}") from exc

        inputs = _inputs(spec, session)
        label_output, probability_output = _outputs(spec, session)
        mode = output_mode(spec)
        if probability_output is None and (spec.returns_confidence or mode == "probabilities"):
            wants = "a confidence" if spec.returns_confidence else "probabilities"
            raise InvalidInput(
                f"the version asks for {wants} but the ONNX model has no probability output "
                "(set config.probability_output if it has one)"
            )
        classes = spec.config.get("classes")
        probability_type = next((o.type for o in session.get_outputs() if o.name == probability_output), "")
        if (
            classes is None
            and probability_output is not None
            and not probability_type.startswith("seq(map")
            and (mode == "probabilities" or label_output is None)
        ):
            classes = _graph_classes(path)
        return OnnxRuntime(
            session,
            inputs=inputs,
            label_output=label_output,
            probability_output=probability_output,
            classes=classes,
            mode=mode,
            returns_confidence=spec.returns_confidence,
        )


def _inputs(spec: LoadSpec, session: Any) -> list[tuple[str, list[str], Any]]:
    declared = {node.name: node for node in session.get_inputs()}
    mapping: dict[str, list[str]] | None = spec.config.get("inputs")
    if mapping is None:
        if len(declared) != 1:
            raise InvalidInput(
                f"the ONNX model has {len(declared)} inputs ({', '.join(declared)}); "
                "map each to its features with config.inputs"
            )
        mapping = {next(iter(declared)): feature_order(spec)}
    unknown = sorted(set(mapping) - set(declared))
    unfed = sorted(set(declared) - set(mapping))
    if unknown or unfed:
        raise InvalidInput(
            f"config.inputs does not match the ONNX model's inputs ({', '.join(declared)}): "
            f"unknown {unknown}, not fed {unfed}"
        )
    resolved: list[tuple[str, list[str], Any]] = []
    for name, features in mapping.items():
        node = declared[name]
        dtype = _DTYPES.get(node.type)
        if dtype is None:
            raise InvalidInput(f"ONNX input '{name}' has type {node.type}; only numeric tensors can be fed")
        shape = node.shape
        if len(shape) != 2:
            raise InvalidInput(f"ONNX input '{name}' has shape {shape}; expected [batch, n_features]")
        if isinstance(shape[1], int) and shape[1] != len(features):
            raise InvalidInput(
                f"ONNX input '{name}' expects {shape[1]} features but {len(features)} are given: "
                f"{', '.join(features)}"
            )
        resolved.append((name, features, dtype))
    return resolved


def _outputs(spec: LoadSpec, session: Any) -> tuple[str | None, str | None]:
    outputs = session.get_outputs()
    names = [o.name for o in outputs]
    probability = spec.config.get("probability_output")
    label = spec.config.get("label_output")
    for key, value in (("probability_output", probability), ("label_output", label)):
        if value is not None and value not in names:
            raise InvalidInput(f"config.{key} '{value}' is not an output of the model ({', '.join(names)})")
    if probability is None and len(outputs) > 1:
        probability = next(
            (o.name for o in outputs if o.type.startswith("seq(map") or "prob" in o.name.lower()), None
        )
    if label is None:
        label = next((name for name in names if name != probability), None)
    return label, probability


def _graph_classes(path: Path) -> list[Any]:
    """Class labels as the converter wrote them into the classifier node's attributes."""
    try:
        import onnx
    except ImportError as exc:
        raise InvalidInput(
            "reading class labels from the graph needs the onnx package; or set config.classes"
        ) from exc
    model = onnx.load(str(path), load_external_data=False)
    for node in model.graph.node:
        for attribute in node.attribute:
            if attribute.name in _CLASS_ATTRIBUTES:
                if attribute.name == "classlabels_strings":
                    return [s.decode() for s in attribute.strings]
                return [int(i) for i in attribute.ints]
    raise InvalidInput("the ONNX graph does not name its classes; set config.classes")


def _scalar(row: Any) -> Any:
    if isinstance(row, np.ndarray) and row.size == 1:
        return row.reshape(()).item()
    return row
