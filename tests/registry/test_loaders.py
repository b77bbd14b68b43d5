"""The model loader port, exercised with real models, real files and a real local HTTP server."""

from __future__ import annotations

import json
import math
import sys
import textwrap
import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import joblib
import numpy as np
import pytest
from sklearn.feature_extraction import DictVectorizer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline

from shipyard.core.errors import InvalidInput, ModelFailed, Unavailable
from shipyard.registry.loaders import LoadSpec, ModelOutput, available_loaders, get_loader
from shipyard.registry.loaders.base import parse_result

FEATURES = ["a", "b", "c"]
SCHEMA: dict[str, Any] = {"type": "object", "properties": {f: {"type": "number"} for f in FEATURES}}


def make_spec(**overrides: Any) -> LoadSpec:
    values: dict[str, Any] = {
        "artifact_path": None,
        "entrypoint": None,
        "config": {},
        "input_schema": SCHEMA,
        "returns_confidence": False,
    }
    values.update(overrides)
    return LoadSpec(**values)


def rows(x: np.ndarray[Any, Any]) -> list[dict[str, Any]]:
    return [dict(zip(FEATURES, map(float, row), strict=True)) for row in x]


def assert_same(left: list[ModelOutput], right: list[ModelOutput]) -> None:
    assert len(left) == len(right)
    for a, b in zip(left, right, strict=True):
        assert a.output == pytest.approx(b.output, abs=1e-6)
        assert a.confidence == pytest.approx(b.confidence, abs=1e-6)


# --- models, trained once per module ------------------------------------------------------------


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(60, 3))
    y = np.where(x[:, 0] + 0.5 * x[:, 1] > 0, "yes", "no")
    return x, y


@pytest.fixture(scope="module")
def classifier(data: tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]) -> LogisticRegression:
    x, y = data
    return LogisticRegression().fit(x, y)


@pytest.fixture(scope="module")
def multiclass(data: tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]) -> LogisticRegression:
    x, _ = data
    return LogisticRegression().fit(x, np.digitize(x[:, 2], [-0.5, 0.5]))


@pytest.fixture(scope="module")
def regressor(data: tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]) -> LinearRegression:
    x, _ = data
    return LinearRegression().fit(x, 3 * x[:, 0] - x[:, 2] + 1)


RECORDS = [
    {"colour": "red", "size": 1.0},
    {"colour": "red", "size": 2.0},
    {"colour": "blue", "size": 8.0},
    {"colour": "blue", "size": 9.0},
    {"colour": "green", "size": 5.0},
    {"colour": "blue", "size": 7.5},
]
RECORD_LABELS = ["small", "small", "big", "big", "small", "big"]


@pytest.fixture(scope="module")
def dict_pipeline() -> Any:
    return make_pipeline(DictVectorizer(sparse=False), LogisticRegression()).fit(RECORDS, RECORD_LABELS)


# --- the entry-point registry -------------------------------------------------------------------


def test_builtin_loaders_are_discovered() -> None:
    assert {"callable", "joblib", "onnx", "mlflow", "http"} <= set(available_loaders())
    loader = get_loader("joblib")
    assert loader.name == "joblib"
    assert get_loader("joblib") is loader


def test_unknown_loader_lists_the_available_ones() -> None:
    with pytest.raises(InvalidInput) as caught:
        get_loader("tensorflow")
    assert caught.value.code == "invalid_input"
    assert "tensorflow" in caught.value.detail
    for name in ("callable", "http", "joblib", "mlflow", "onnx"):
        assert name in caught.value.detail


# --- result checks ------------------------------------------------------------------------------


def test_results_become_plain_json() -> None:
    assert parse_result(np.int64(3), returns_confidence=False) == ModelOutput(3, None)
    assert parse_result((np.array([1.5, 2.0]), np.float32(0.25)), returns_confidence=True) == ModelOutput(
        [1.5, 2.0], 0.25
    )
    assert parse_result({"output": "x", "confidence": 1}, returns_confidence=True) == ModelOutput("x", 1.0)
    # a dict with other keys is an output in its own right
    assert parse_result({"label": np.str_("x")}, returns_confidence=False) == ModelOutput(
        {"label": "x"}, None
    )
    # a confidence the version does not declare is not passed on
    assert parse_result(("x", 0.3), returns_confidence=False) == ModelOutput("x", None)


@pytest.mark.parametrize("confidence", [math.nan, math.inf, 1.5, -0.2, "0.9", True, None, [0.5]])
def test_a_bad_confidence_is_a_model_failure(confidence: Any) -> None:
    with pytest.raises(ModelFailed) as caught:
        parse_result(("x", confidence), returns_confidence=True)
    assert caught.value.code == "bad_output"


def test_an_output_that_is_not_json_is_a_model_failure() -> None:
    with pytest.raises(ModelFailed, match="not JSON-serialisable"):
        parse_result(object(), returns_confidence=False)
    with pytest.raises(ModelFailed, match="non-finite"):
        parse_result([1.0, math.nan], returns_confidence=False)


# --- callable -----------------------------------------------------------------------------------

USER_MODULE = """
    import numpy as np

    def double(inputs):
        return inputs["x"] * 2

    def with_confidence(inputs):
        return np.float64(inputs["x"]), np.float32(0.75)

    def as_dict(inputs):
        return {"output": inputs["x"], "confidence": 0.5}

    def boom(inputs):
        raise RuntimeError("kaput")

    not_callable = 42

    class Fixed:
        def __init__(self, result="fixed"):
            self.result = result

        def predict(self, inputs):
            return self.result

    class Scaler:
        batch_sizes = []

        def __init__(self, factor=1):
            self.factor = factor

        def predict(self, inputs):
            return inputs["x"] * self.factor

        def predict_batch(self, batch):
            type(self).batch_sizes.append(len(batch))
            return [row["x"] * self.factor for row in batch]

    class Adder:
        closed = []

        def __call__(self, inputs):
            return inputs["x"] + 1

        def close(self):
            type(self).closed.append(True)
"""


@pytest.fixture(scope="module")
def user_code(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A directory holding a user's model module, as a callable version's artifact would."""
    directory = tmp_path_factory.mktemp("user_code")
    module = f"user_model_{uuid.uuid4().hex[:8]}"
    (directory / f"{module}.py").write_text(textwrap.dedent(USER_MODULE))
    yield directory, module
    sys.modules.pop(module, None)
    if str(directory) in sys.path:
        sys.path.remove(str(directory))


def load_callable(user_code: tuple[Path, str], attr: str, **overrides: Any) -> Any:
    directory, module = user_code
    spec = make_spec(artifact_path=directory, entrypoint=f"{module}:{attr}", **overrides)
    return get_loader("callable").load(spec)


def test_callable_function(user_code: tuple[Path, str]) -> None:
    runtime = load_callable(user_code, "double")
    assert runtime.predict({"x": 4}) == ModelOutput(8, None)
    assert runtime.predict_batch([{"x": 1}, {"x": 2}]) == [ModelOutput(2, None), ModelOutput(4, None)]
    runtime.close()


def test_callable_tuple_and_dict_results(user_code: tuple[Path, str]) -> None:
    assert load_callable(user_code, "with_confidence", returns_confidence=True).predict({"x": 2}) == (
        ModelOutput(2.0, 0.75)
    )
    assert load_callable(user_code, "as_dict", returns_confidence=True).predict({"x": "y"}) == (
        ModelOutput("y", 0.5)
    )


def test_callable_class_with_init_kwargs_and_batch(user_code: tuple[Path, str]) -> None:
    assert load_callable(user_code, "Fixed").predict({}) == ModelOutput("fixed", None)
    runtime = load_callable(user_code, "Scaler", config={"init_kwargs": {"factor": 10}})
    batch = [{"x": i} for i in range(5)]
    sizes = sys.modules[user_code[1]].Scaler.batch_sizes
    assert runtime.predict_batch(batch) == [runtime.predict(row) for row in batch]
    assert sizes == [5]  # the object's own predict_batch, called once
    adder = load_callable(user_code, "Adder")
    assert adder.predict({"x": 1}) == ModelOutput(2, None)
    adder.close()
    adder.close()
    assert sys.modules[user_code[1]].Adder.closed == [True]  # the instance it made, closed once


def test_callable_class_that_cannot_be_built(user_code: tuple[Path, str]) -> None:
    with pytest.raises(InvalidInput, match="instantiating .*Scaler failed: TypeError"):
        load_callable(user_code, "Scaler", config={"init_kwargs": {"nope": 1}})


def test_callable_that_raises_is_a_model_failure(user_code: tuple[Path, str]) -> None:
    runtime = load_callable(user_code, "boom")
    with pytest.raises(ModelFailed, match="RuntimeError: kaput"):
        runtime.predict({"x": 1})


def test_callable_without_a_declared_confidence_fails(user_code: tuple[Path, str]) -> None:
    runtime = load_callable(user_code, "double", returns_confidence=True)
    with pytest.raises(ModelFailed, match="declares a confidence"):
        runtime.predict({"x": 1})


@pytest.mark.parametrize(
    ("entrypoint", "message"),
    [
        ("no_such_module_qq:predict", "module 'no_such_module_qq' not found"),
        ("{module}:missing", "has no attribute 'missing'"),
        ("{module}:not_callable", "not callable"),
        ("not an entrypoint", "package.module:attr"),
    ],
)
def test_callable_load_errors_name_the_problem(
    user_code: tuple[Path, str], entrypoint: str, message: str
) -> None:
    directory, module = user_code
    spec = make_spec(artifact_path=directory, entrypoint=entrypoint.format(module=module))
    with pytest.raises(InvalidInput, match=message) as caught:
        get_loader("callable").load(spec)
    assert caught.value.code == "invalid_input"


# --- joblib -------------------------------------------------------------------------------------


class CountingModel:
    """Wraps a classifier and records the size of every predict_proba call (shared, as pickles copy)."""

    calls: ClassVar[list[int]] = []

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.classes_ = inner.classes_

    def predict(self, x: Any) -> Any:
        return self.inner.predict(x)

    def predict_proba(self, x: Any) -> Any:
        type(self).calls.append(len(x))
        return self.inner.predict_proba(x)


def shout(inputs: dict[str, Any]) -> str:
    return str(inputs["word"]).upper()


def dump(model: Any, path: Path) -> Path:
    joblib.dump(model, path)
    return path


def test_joblib_array_classifier(tmp_path: Path, classifier: LogisticRegression, data: Any) -> None:
    x, _ = data
    spec = make_spec(
        artifact_path=dump(classifier, tmp_path / "model.joblib"),
        config={"input_format": "array"},
        returns_confidence=True,
    )
    runtime = get_loader("joblib").load(spec)
    batch = rows(x[:8])
    results = runtime.predict_batch(batch)
    probabilities = classifier.predict_proba(x[:8])
    assert [r.output for r in results] == classifier.predict(x[:8]).tolist()
    assert [r.confidence for r in results] == pytest.approx(probabilities.max(axis=1).tolist())
    assert all(type(r.output) is str for r in results)
    # one row at a time gives the same answers; the probabilities may differ in the last bit (a
    # matrix product over 8 rows and over 1 row need not add up in the same order)
    alone = [runtime.predict(row) for row in batch]
    assert [r.output for r in alone] == [r.output for r in results]
    assert [r.confidence for r in alone] == pytest.approx([r.confidence for r in results], rel=1e-12)


def test_joblib_batch_is_one_predict_proba_call(
    tmp_path: Path, classifier: LogisticRegression, data: Any
) -> None:
    x, _ = data
    spec = make_spec(
        artifact_path=dump(CountingModel(classifier), tmp_path / "model.pkl"),
        config={"input_format": "array"},
        returns_confidence=True,
    )
    runtime = get_loader("joblib").load(spec)
    CountingModel.calls.clear()
    runtime.predict_batch(rows(x[:7]))
    assert CountingModel.calls == [7]


def test_joblib_records_pipeline(tmp_path: Path, dict_pipeline: Any) -> None:
    spec = make_spec(artifact_path=dump(dict_pipeline, tmp_path / "pipe.joblib"), returns_confidence=True)
    runtime = get_loader("joblib").load(spec)
    results = runtime.predict_batch(RECORDS)
    assert [r.output for r in results] == dict_pipeline.predict(RECORDS).tolist()
    assert [r.confidence for r in results] == pytest.approx(dict_pipeline.predict_proba(RECORDS).max(axis=1))
    assert runtime.predict(RECORDS[2]) == results[2]


def test_joblib_records_without_confidence_uses_predict(tmp_path: Path, dict_pipeline: Any) -> None:
    runtime = get_loader("joblib").load(make_spec(artifact_path=dump(dict_pipeline, tmp_path / "p.joblib")))
    assert runtime.predict(RECORDS[0]) == ModelOutput(dict_pipeline.predict([RECORDS[0]])[0], None)


def test_joblib_dataframe_probabilities(tmp_path: Path, data: Any) -> None:
    pd = pytest.importorskip("pandas")
    x, y = data
    model = LogisticRegression().fit(pd.DataFrame(x, columns=FEATURES), y)
    spec = make_spec(
        artifact_path=dump(model, tmp_path / "model.joblib"),
        # the model was fitted with these columns; the config order need not match the schema's
        config={"input_format": "dataframe", "features": ["c", "a", "b"], "output": "probabilities"},
        returns_confidence=True,
    )
    runtime = get_loader("joblib").load(spec)
    result = runtime.predict(rows(x[:1])[0])
    expected = model.predict_proba(pd.DataFrame(x[:1], columns=FEATURES))[0]
    assert result.output == pytest.approx(dict(zip(["no", "yes"], expected, strict=True)))
    assert result.confidence == pytest.approx(expected.max())


def test_joblib_regressor_and_callable(tmp_path: Path, regressor: LinearRegression, data: Any) -> None:
    x, _ = data
    spec = make_spec(artifact_path=dump(regressor, tmp_path / "r.joblib"), config={"input_format": "array"})
    result = get_loader("joblib").load(spec).predict(rows(x[:1])[0])
    assert result.output == pytest.approx(regressor.predict(x[:1])[0])
    assert type(result.output) is float

    runtime = get_loader("joblib").load(make_spec(artifact_path=dump(shout, tmp_path / "fn.pkl")))
    assert runtime.predict({"word": "hi"}) == ModelOutput("HI", None)


def test_joblib_artifact_directory(tmp_path: Path, regressor: LinearRegression) -> None:
    dump(regressor, tmp_path / "model.joblib")
    (tmp_path / "README.txt").write_text("not a model")
    runtime = get_loader("joblib").load(make_spec(artifact_path=tmp_path, config={"input_format": "array"}))
    assert isinstance(runtime.predict({"a": 1, "b": 2, "c": 3}).output, float)


@pytest.mark.parametrize(
    ("model", "config", "returns_confidence", "message"),
    [
        ("regressor", {"input_format": "array"}, True, "has no predict_proba"),
        ("regressor", {"input_format": "array", "features": ["a", "b"]}, False, "expects 3 features"),
        ("regressor", {"input_format": "matrix"}, False, "input_format must be one of"),
        ("regressor", {"input_format": "array", "output": "logits"}, False, "config.output"),
        ({"not": "a model"}, {}, False, "no predict method and is not callable"),
    ],
)
def test_joblib_bad_configuration(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    model: Any,
    config: dict[str, Any],
    returns_confidence: bool,
    message: str,
) -> None:
    if isinstance(model, str):
        model = request.getfixturevalue(model)
    spec = make_spec(
        artifact_path=dump(model, tmp_path / "m.joblib"), config=config, returns_confidence=returns_confidence
    )
    with pytest.raises(InvalidInput, match=message):
        get_loader("joblib").load(spec)


def test_joblib_bad_artifact_and_bad_inputs(tmp_path: Path, regressor: LinearRegression) -> None:
    garbage = tmp_path / "garbage.joblib"
    garbage.write_bytes(b"this is not a pickle")
    with pytest.raises(InvalidInput, match="cannot load the joblib artifact garbage.joblib"):
        get_loader("joblib").load(make_spec(artifact_path=garbage))
    with pytest.raises(InvalidInput, match="needs an artifact"):
        get_loader("joblib").validate(make_spec())

    spec = make_spec(artifact_path=dump(regressor, tmp_path / "r.joblib"), config={"input_format": "array"})
    runtime = get_loader("joblib").load(spec)
    with pytest.raises(InvalidInput, match="missing feature 'b'"):
        runtime.predict({"a": 1, "c": 2})
    with pytest.raises(InvalidInput, match="feature 'c' must be a number"):
        runtime.predict({"a": 1, "b": 2, "c": "three"})


# --- onnx ---------------------------------------------------------------------------------------


def to_onnx_file(model: Any, x: np.ndarray[Any, Any], path: Path, **options: Any) -> Path:
    from skl2onnx import to_onnx

    onnx_model = to_onnx(model, x[:1].astype(np.float32), options=options or None)
    path.write_bytes(onnx_model.SerializeToString())
    return path


@pytest.mark.parametrize("zipmap", [True, False])
def test_onnx_classifier_matches_sklearn(
    tmp_path: Path, classifier: LogisticRegression, data: Any, zipmap: bool
) -> None:
    x, _ = data
    path = to_onnx_file(classifier, x, tmp_path / "clf.onnx", zipmap=zipmap)
    loader = get_loader("onnx")
    batch = rows(x[:10])
    expected = classifier.predict_proba(x[:10])

    labels = loader.load(make_spec(artifact_path=path, returns_confidence=True)).predict_batch(batch)
    assert [r.output for r in labels] == classifier.predict(x[:10]).tolist()
    assert [r.confidence for r in labels] == pytest.approx(expected.max(axis=1), abs=1e-5)

    runtime = loader.load(make_spec(artifact_path=path, config={"output": "probabilities", "threads": 2}))
    results = runtime.predict_batch(batch)
    for result, row in zip(results, expected, strict=True):
        assert result.output == pytest.approx({"no": row[0], "yes": row[1]}, abs=1e-5)
        assert result.confidence is None
    # onnxruntime's kernels may round differently for one row than for ten
    assert_same(results, [runtime.predict(row) for row in batch])
    runtime.close()


def test_onnx_multiclass_tensor_probabilities_read_classes_from_graph(
    tmp_path: Path, multiclass: LogisticRegression, data: Any
) -> None:
    x, _ = data
    path = to_onnx_file(multiclass, x, tmp_path / "multi.onnx", zipmap=False)
    runtime = get_loader("onnx").load(
        make_spec(artifact_path=path, config={"output": "probabilities"}, returns_confidence=True)
    )
    result = runtime.predict(rows(x[:1])[0])
    expected = multiclass.predict_proba(x[:1])[0]
    assert result.output == pytest.approx({"0": expected[0], "1": expected[1], "2": expected[2]}, abs=1e-5)
    assert result.confidence == pytest.approx(expected.max(), abs=1e-5)


def test_onnx_regressor(tmp_path: Path, regressor: LinearRegression, data: Any) -> None:
    x, _ = data
    path = to_onnx_file(regressor, x, tmp_path / "reg.onnx")
    runtime = get_loader("onnx").load(make_spec(artifact_path=path))
    batch = rows(x[:5])
    results = runtime.predict_batch(batch)
    assert [r.output for r in results] == pytest.approx(regressor.predict(x[:5]), abs=1e-4)
    assert all(type(r.output) is float for r in results)
    assert_same(results, [runtime.predict(row) for row in batch])

    with pytest.raises(InvalidInput, match="no probability output"):
        get_loader("onnx").load(make_spec(artifact_path=path, returns_confidence=True))
    with pytest.raises(InvalidInput, match="expects 3 features but 2"):
        get_loader("onnx").load(make_spec(artifact_path=path, config={"features": ["a", "b"]}))
    with pytest.raises(InvalidInput, match="config.inputs does not match"):
        get_loader("onnx").load(make_spec(artifact_path=path, config={"inputs": {"input": FEATURES}}))


def test_onnx_bad_artifact(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x00\x01 not a model")
    with pytest.raises(InvalidInput, match="cannot load the ONNX model garbage.onnx"):
        get_loader("onnx").load(make_spec(artifact_path=garbage))
    with pytest.raises(InvalidInput, match="threads"):
        get_loader("onnx").validate(make_spec(artifact_path=garbage, config={"threads": 0}))


# --- mlflow -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mlflow_modules() -> tuple[Any, Any]:
    pytest.importorskip("pandas")
    from shipyard.registry.loaders.mlflow import _import_mlflow

    pyfunc, pandas = _import_mlflow()
    return pyfunc, pandas


def test_mlflow_sklearn_flavour(tmp_path: Path, mlflow_modules: Any, data: Any) -> None:
    import mlflow.sklearn

    _, pd = mlflow_modules
    x, y = data
    frame = pd.DataFrame(x, columns=FEATURES)
    model = LogisticRegression().fit(frame, y)
    mlflow.sklearn.save_model(
        model, tmp_path / "model", serialization_format="cloudpickle", pip_requirements=["scikit-learn"]
    )
    runtime = get_loader("mlflow").load(make_spec(artifact_path=tmp_path / "model"))
    batch = rows(x[:6])
    results = runtime.predict_batch(batch)
    assert [r.output for r in results] == model.predict(frame.iloc[:6]).tolist()
    assert results == [runtime.predict(row) for row in batch]
    runtime.close()


def test_mlflow_pyfunc_with_output_and_confidence(tmp_path: Path, mlflow_modules: Any) -> None:
    pyfunc, pd = mlflow_modules

    def scored_predict(self: Any, context: Any, model_input: Any, params: Any = None) -> Any:
        return model_input.assign(output=model_input["a"] * 2, confidence=0.25)[["output", "confidence"]]

    # a DataFrame hint (real types, not this module's postponed strings) keeps mlflow from nagging
    scored_predict.__annotations__ = {"model_input": pd.DataFrame, "return": pd.DataFrame}

    class ScoredModel(pyfunc.PythonModel):  # type: ignore[misc,name-defined]
        """Answers with `output` and `confidence` columns, as a custom model might."""

        predict = scored_predict

    pyfunc.save_model(tmp_path / "model", python_model=ScoredModel(), pip_requirements=["pandas"])
    runtime = get_loader("mlflow").load(make_spec(artifact_path=tmp_path / "model", returns_confidence=True))
    assert runtime.predict({"a": 2.0, "b": 0.0, "c": 0.0}) == ModelOutput(4.0, 0.25)
    assert runtime.predict_batch([{"a": 1.0, "b": 0, "c": 0}, {"a": 3.0, "b": 0, "c": 0}]) == [
        ModelOutput(2.0, 0.25),
        ModelOutput(6.0, 0.25),
    ]


def test_mlflow_not_a_model_directory(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no MLmodel file"):
        get_loader("mlflow").validate(make_spec(artifact_path=tmp_path))


# --- http ---------------------------------------------------------------------------------------


class FakeModelServer:
    """A real HTTP server on 127.0.0.1 that answers as told: ok, slow, 500, 400, 429, garbage, no_output."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.requests: list[tuple[dict[str, str], Any]] = []
        self.release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append((dict(self.headers), body))
                if outer.mode == "slow":
                    outer.release.wait(5)
                if outer.mode in ("500", "400", "429"):
                    self._answer(int(outer.mode), b'{"error": "nope"}')
                elif outer.mode == "garbage":
                    self._answer(200, b"<html>surprise</html>")
                elif outer.mode == "no_output":
                    self._answer(200, b'{"result": 1}')
                else:
                    inputs = body.get("inputs", body.get("instances"))
                    answer = {"output": inputs["x"] * 2, "prediction": "custom", "confidence": 0.9}
                    self._answer(200, json.dumps(answer).encode())

            def _answer(self, status: int, payload: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that timed out and hung up is expected here

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/predict"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        self.running = True

    def stop(self) -> None:
        if self.running:
            self.running = False
            self.release.set()
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(5)


@pytest.fixture
def model_server() -> Iterator[FakeModelServer]:
    server = FakeModelServer()
    yield server
    server.stop()


def load_http(server: FakeModelServer, **overrides: Any) -> Any:
    values: dict[str, Any] = {"entrypoint": server.url, "returns_confidence": True, "timeout_s": 2.0}
    values.update(overrides)
    return get_loader("http").load(make_spec(**values))


def test_http_answers(model_server: FakeModelServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIPYARD_TEST_MODEL_KEY", "s3cret")
    headers = {"Authorization": "env:SHIPYARD_TEST_MODEL_KEY", "X-Team": "billing"}
    runtime = load_http(model_server, config={"headers": headers})
    assert runtime.predict({"x": 2}) == ModelOutput(4, 0.9)
    sent_headers, sent_body = model_server.requests[-1]
    assert sent_body == {"inputs": {"x": 2}}
    assert sent_headers["Authorization"] == "s3cret"
    assert sent_headers["X-Team"] == "billing"
    assert runtime.predict_batch([{"x": 1}, {"x": 5}]) == [ModelOutput(2, 0.9), ModelOutput(10, 0.9)]
    runtime.close()


def test_http_custom_fields_and_injected_client(model_server: FakeModelServer) -> None:
    with httpx.Client() as client:
        runtime = load_http(
            model_server,
            http_client=client,
            returns_confidence=False,
            config={"input_field": "instances", "output_field": "prediction"},
        )
        assert runtime.predict({"x": 1}) == ModelOutput("custom", None)
        assert model_server.requests[-1][1] == {"instances": {"x": 1}}
        runtime.close()
        assert not client.is_closed  # the caller owns an injected client


@pytest.mark.parametrize(
    ("mode", "error", "code", "message"),
    [
        ("slow", Unavailable, "upstream_unavailable", "did not answer within 0.2s"),
        ("500", Unavailable, "upstream_error", "answered 500"),
        ("429", Unavailable, "upstream_error", "answered 429"),
        ("400", ModelFailed, "model_failed", "answered 400"),
        ("garbage", ModelFailed, "model_failed", "not JSON"),
        ("no_output", ModelFailed, "model_failed", "without the 'output' field"),
    ],
)
def test_http_failures(
    model_server: FakeModelServer, mode: str, error: type[Exception], code: str, message: str
) -> None:
    model_server.mode = mode
    runtime = load_http(model_server, timeout_s=0.2)
    with pytest.raises(error, match=message) as caught:
        runtime.predict({"x": 1})
    assert type(caught.value) is error
    assert caught.value.code == code  # type: ignore[attr-defined]
    runtime.close()


def test_http_server_down(model_server: FakeModelServer) -> None:
    runtime = load_http(model_server)
    model_server.stop()
    with pytest.raises(Unavailable) as caught:
        runtime.predict({"x": 1})
    assert caught.value.code == "upstream_unavailable"
    assert "cannot reach model endpoint" in caught.value.detail
    runtime.close()


def test_http_bad_confidence_from_remote(model_server: FakeModelServer) -> None:
    runtime = load_http(model_server, config={"confidence_field": "prediction"})
    with pytest.raises(ModelFailed, match="confidence of type str"):
        runtime.predict({"x": 1})
    runtime.close()


def test_http_configuration_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    loader = get_loader("http")
    monkeypatch.delenv("SHIPYARD_TEST_ABSENT", raising=False)
    spec = make_spec(
        entrypoint="http://127.0.0.1:9/x", config={"headers": {"Authorization": "env:SHIPYARD_TEST_ABSENT"}}
    )
    with pytest.raises(InvalidInput, match="SHIPYARD_TEST_ABSENT, which is not set"):
        loader.load(spec)
    with pytest.raises(InvalidInput, match="http:// or https://"):
        loader.validate(make_spec(entrypoint="ftp://example.com/model"))
    with pytest.raises(InvalidInput, match="needs the endpoint URL"):
        loader.validate(make_spec())
    with pytest.raises(InvalidInput, match="config.headers"):
        loader.validate(make_spec(entrypoint="http://127.0.0.1:9/x", config={"headers": {"X": 1}}))


class NeedsHost:
    """A model that uses what the serving process offers (as the policy assistant uses the corpus)."""

    def __init__(self, host: dict[str, Any], suffix: str = "!") -> None:
        self.greeting = host["greeting"] + suffix

    def predict(self, inputs: dict[str, Any]) -> str:
        return f"{self.greeting} {inputs['name']}"


def test_a_class_that_asks_for_host_gets_the_serving_process_resources() -> None:
    spec = make_spec(entrypoint=f"{__name__}:NeedsHost", config={"init_kwargs": {"suffix": ","}})
    spec = replace(spec, host={"greeting": "hello"})
    runtime = get_loader("callable").load(spec)
    assert runtime.predict({"name": "ada"}).output == "hello, ada"
