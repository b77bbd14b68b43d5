"""The model loader port: what a loader is given, what it hands back, and the checks on model results.

A loader turns a registered model version (an artifact, an entrypoint, a config) into a `Runtime` that
serving calls. Every loader funnels raw results through `make_output` so a runtime can only ever
return plain JSON and a confidence that is either absent or a finite probability.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence, Sized
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from shipyard.core.errors import InvalidInput, ModelFailed, ShipyardError

if TYPE_CHECKING:
    import httpx

# float32 softmax can land a hair outside [0, 1]; that is rounding, not a broken model.
_PROBABILITY_SLACK = 1e-6


@dataclass(frozen=True)
class Usage:
    """Tokens an LLM call used, as its provider reported them, and the model name prices are keyed by."""

    tokens_in: int
    tokens_out: int
    model: str | None = None


def parse_usage(raw: Any, model: Any = None) -> Usage | None:
    """Read a token usage report: OpenAI's {prompt_tokens, completion_tokens}, {input_tokens,
    output_tokens}, or Shipyard's {tokens_in, tokens_out, model}. None for None; ValueError if unusable."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise ValueError(f"usage must be an object, got {type(raw).__name__}")
    for names in (("tokens_in", "tokens_out"), ("prompt_tokens", "completion_tokens")):
        if names[0] in raw or names[1] in raw:
            break
    else:
        names = ("input_tokens", "output_tokens")
    counts = [raw.get(name, 0) for name in names]
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in counts):
        raise ValueError(f"usage.{names[0]} and usage.{names[1]} must be whole numbers >= 0")
    if not any(name in raw for name in names):
        raise ValueError("usage reports no token counts (tokens_in/tokens_out or prompt/completion_tokens)")
    model = raw.get("model", model)
    if model is not None and not isinstance(model, str):
        raise ValueError(f"usage.model must be a string, got {type(model).__name__}")
    return Usage(counts[0], counts[1], model)


@dataclass(frozen=True)
class ModelOutput:
    """One prediction: a JSON-serialisable output and, when the version declares one, a confidence.

    `abstained` is the model saying it does not know (the call's outcome is then `abstained`): its
    output explains why, and the caller should not act on it as an answer. `usage` is what an LLM
    reported it used; `cpu_s` is the CPU time the model spent on it, measured by serving.
    """

    output: Any
    confidence: float | None
    abstained: bool = False
    usage: Usage | None = None
    cpu_s: float | None = field(default=None, compare=False)  # a measurement, not the answer


@dataclass(frozen=True)
class LoadSpec:
    """Everything a loader needs to build a runtime for one model version.

    Attributes:
        artifact_path: the artifact file or directory, already sha256-verified and unpacked by the
            caller; None for loaders that need none (http, an installed callable).
        entrypoint: "package.module:attr" for the callable loader, the URL for the http loader.
        config: loader-specific options, documented in each loader's module docstring.
        input_schema: the service's JSON Schema for one input object; its `properties` order is the
            default feature order for array-fed models.
        returns_confidence: whether the version promises a confidence with every output.
        timeout_s: the per-call time limit, used by loaders that make outbound calls.
        http_client: an injectable client for the http loader; the caller owns and closes it.
        host: what the serving process offers in-process models (e.g. "corpus": the policy documents);
            empty in an isolated model process, where a model that needs it must refuse to load.
    """

    artifact_path: Path | None
    entrypoint: str | None
    config: dict[str, Any]
    input_schema: dict[str, Any]
    returns_confidence: bool
    timeout_s: float = 5.0
    http_client: httpx.Client | None = None
    host: Mapping[str, Any] = field(default_factory=dict)


class Runtime(Protocol):
    """A loaded model version, ready to take calls. Implementations must be safe to call from threads."""

    def predict(self, inputs: dict[str, Any]) -> ModelOutput:
        """Run the model on one input object.

        Raises:
            ModelFailed: the model raised or returned something unusable.
            Unavailable: a remote model could not be reached (retryable).
        """
        ...

    def predict_batch(self, batch: list[dict[str, Any]]) -> list[ModelOutput]:
        """Run the model on several inputs, in one vectorised call where the model allows."""
        ...

    def close(self) -> None:
        """Release what the runtime holds (sessions, clients). Idempotent."""
        ...


class Loader(Protocol):
    """Builds runtimes for one kind of model; registered in the `shipyard.loaders` entry-point group."""

    name: str

    def validate(self, spec: LoadSpec) -> None:
        """Cheap checks at registration time, without loading the model.

        Raises:
            InvalidInput: the spec cannot work with this loader; the message says why.
        """
        ...

    def load(self, spec: LoadSpec) -> Runtime:
        """Load the model and return a runtime.

        Raises:
            InvalidInput: the configuration or the artifact is unusable; the message says why.
        """
        ...


def to_json(value: Any) -> Any:
    """Convert a model result to plain JSON types (numpy and pandas values included)."""
    if isinstance(value, np.generic):  # before str/float: np.str_ and np.float64 subclass them
        return to_json(value.item())
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ModelFailed(f"model returned a non-finite number ({value})", code="bad_output")
        return value
    if isinstance(value, Mapping):
        return {_json_key(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    # numpy arrays, pandas Series and the like
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return to_json(tolist())
    raise ModelFailed(
        f"model returned a {type(value).__name__}, which is not JSON-serialisable", code="bad_output"
    )


def _json_key(key: Any) -> str:
    plain = to_json(key)
    return plain if isinstance(plain, str) else str(plain)


def check_confidence(value: Any) -> float:
    """Return `value` as a float in [0, 1], or raise ModelFailed."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ModelFailed(
            f"model returned a confidence of type {type(value).__name__}, expected a number",
            code="bad_output",
        )
    confidence = float(value)
    if not math.isfinite(confidence) or not -_PROBABILITY_SLACK <= confidence <= 1 + _PROBABILITY_SLACK:
        raise ModelFailed(
            f"model returned a confidence of {confidence}, expected a number in [0, 1]", code="bad_output"
        )
    return min(max(confidence, 0.0), 1.0)


def make_output(
    output: Any,
    confidence: Any,
    *,
    returns_confidence: bool,
    abstained: Any = False,
    usage: Usage | None = None,
) -> ModelOutput:
    """Build a checked ModelOutput. A confidence the version does not declare is dropped, unchecked."""
    if not isinstance(abstained, bool):
        raise ModelFailed(f"model returned abstained={abstained!r}, expected a boolean", code="bad_output")
    if not returns_confidence:
        return ModelOutput(to_json(output), None, abstained, usage)
    if confidence is None:
        raise ModelFailed("the version declares a confidence but the model returned none", code="bad_output")
    return ModelOutput(to_json(output), check_confidence(confidence), abstained, usage)


_RESULT_KEYS = frozenset({"output", "confidence", "abstained", "usage"})


def parse_result(raw: Any, *, returns_confidence: bool) -> ModelOutput:
    """Read what a user's callable returned: a value, `(output, confidence)`, or
    {"output", "confidence", "abstained", "usage"} (the last three optional)."""
    if isinstance(raw, tuple) and len(raw) == 2:
        return make_output(raw[0], raw[1], returns_confidence=returns_confidence)
    if isinstance(raw, Mapping) and "output" in raw and set(raw) <= _RESULT_KEYS:
        try:
            usage = parse_usage(raw.get("usage"))
        except ValueError as exc:
            raise ModelFailed(f"model returned an unusable usage: {exc}", code="bad_output") from exc
        return make_output(
            raw["output"],
            raw.get("confidence"),
            returns_confidence=returns_confidence,
            abstained=raw.get("abstained", False),
            usage=usage,
        )
    return make_output(raw, None, returns_confidence=returns_confidence)


@contextmanager
def model_errors(what: str = "model") -> Iterator[None]:
    """Turn anything a model raises into ModelFailed, keeping our own errors as they are."""
    try:
        yield
    except ShipyardError:
        raise
    except Exception as exc:
        raise ModelFailed(f"{what} raised {type(exc).__name__}: {exc}") from exc


def as_rows(results: Any) -> list[Any]:
    """Split a vectorised result (array, Series, list) into one item per input row."""
    if isinstance(results, list | tuple):
        return list(results)
    if isinstance(results, np.ndarray) and results.ndim > 0:
        return list(results)
    tolist = getattr(results, "tolist", None)
    if callable(tolist):
        rows = tolist()
        if isinstance(rows, list):
            return rows
    raise ModelFailed(f"model returned a {type(results).__name__} where one result per input was expected")


def check_batch_length(results: Sized, expected: int) -> None:
    """A vectorised call must give one result per input row."""
    if len(results) != expected:
        raise ModelFailed(f"model returned {len(results)} results for {expected} inputs")


# --- shared by the array-fed loaders (joblib, onnx) ---------------------------------------------


def feature_order(spec: LoadSpec) -> list[str]:
    """The feature order: config["features"], else the input schema's properties in order."""
    features = spec.config.get("features")
    if features is not None:
        if not isinstance(features, list) or not features or not all(isinstance(f, str) for f in features):
            raise InvalidInput("config.features must be a non-empty list of feature names")
        return features
    properties = spec.input_schema.get("properties")
    if isinstance(properties, dict) and properties:
        return list(properties)
    raise InvalidInput(
        "cannot tell the feature order: set config.features or give the input schema properties"
    )


def to_matrix(
    batch: Sequence[Mapping[str, Any]], features: Sequence[str], dtype: Any
) -> np.ndarray[Any, Any]:
    """Stack input objects into a [len(batch), len(features)] numeric array."""
    rows: list[list[float]] = []
    for inputs in batch:
        row: list[float] = []
        for name in features:
            if name not in inputs:
                raise InvalidInput(f"input is missing feature '{name}'")
            value = inputs[name]
            if not isinstance(value, int | float):
                raise InvalidInput(f"feature '{name}' must be a number, got {type(value).__name__}")
            row.append(float(value))
        rows.append(row)
    return np.asarray(rows, dtype=dtype).reshape(len(rows), len(features))


def output_mode(spec: LoadSpec) -> str:
    """config["output"] for classifiers: "label" (default) or "probabilities"."""
    mode = spec.config.get("output", "label")
    if mode not in ("label", "probabilities"):
        raise InvalidInput(f"config.output must be 'label' or 'probabilities', got {mode!r}")
    return str(mode)


def from_probabilities(
    classes: Sequence[Any],
    probabilities: Any,
    *,
    mode: str,
    returns_confidence: bool,
    labels: Sequence[Any] | None = None,
) -> list[ModelOutput]:
    """Outputs for a [n, n_classes] probability matrix.

    The output is the label (from `labels` when the model gave them, else the most probable class) or
    a class -> probability dict; the confidence is the highest probability.
    """
    matrix = np.asarray(probabilities, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[1] != len(classes):
        raise ModelFailed(f"model returned probabilities of shape {matrix.shape} for {len(classes)} classes")
    outputs: list[ModelOutput] = []
    for i, row in enumerate(matrix):
        best = int(np.argmax(row))
        if mode == "probabilities":
            output: Any = {_json_key(c): float(p) for c, p in zip(classes, row, strict=True)}
        else:
            output = labels[i] if labels is not None else classes[best]
        outputs.append(make_output(output, float(row[best]), returns_confidence=returns_confidence))
    return outputs


def require_file(spec: LoadSpec, loader: str, suffixes: Sequence[str]) -> Path:
    """The artifact file: the path itself, or the one file with a known suffix in a directory.

    config["file"] names the file inside a directory artifact when there are several.
    """
    path = spec.artifact_path
    if path is None:
        raise InvalidInput(f"the {loader} loader needs an artifact")
    if path.is_dir():
        name = spec.config.get("file")
        if name is not None:
            if not isinstance(name, str):
                raise InvalidInput("config.file must be a file name inside the artifact directory")
            candidate = path / name
            if not candidate.is_file():
                raise InvalidInput(f"artifact directory has no file '{name}'")
            return candidate
        found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in suffixes)
        if len(found) != 1:
            raise InvalidInput(
                f"artifact directory must hold exactly one {'/'.join(suffixes)} file "
                f"(found {len(found)}); name it with config.file"
            )
        return found[0]
    if not path.is_file():
        raise InvalidInput(f"artifact {path} does not exist")
    return path
