"""Models of known cost for bench/overload.py and bench/batching.py, loaded by Shipyard's `callable` loader.

The servers import this module from bench/ (on their PYTHONPATH) as ``serving_models:SleepModel`` or
``serving_models:MLP``, instantiated once per version with the version's ``config.init_kwargs``. The
benchmark drivers import it too, to measure the model's cost directly. Only numpy at module level.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

# A float32 array; numpy's own alias spelled out, so mypy reads it the same on every numpy version.
Array = np.ndarray[Any, np.dtype[np.float32]]


class SleepModel:
    """Answers after exactly `ms` milliseconds of sleep: a fixed service time that holds no CPU and no GIL.

    Stands for a model whose cost is outside the server's CPU (a GPU, a remote engine), so the server's
    capacity is set by its admission policy (max_concurrency / service time), not by how busy the shared
    machine's cores happen to be.
    """

    def __init__(self, ms: float = 20.0) -> None:
        if not ms > 0:
            raise ValueError(f"ms must be positive, got {ms!r}")
        self.seconds = ms / 1000

    def predict(self, inputs: dict[str, Any]) -> Any:
        time.sleep(self.seconds)
        return inputs.get("x")


class MLP:
    """A dense ReLU network in float32 numpy, with random He-initialised weights from `seed`.

    `inputs` -> `layers` hidden layers of `hidden` units -> `outputs` classes, softmax. One row is a
    chain of matrix-vector products (bound by reading the weights from memory); a batch of rows is a
    chain of matrix-matrix products over the same weights, which costs little more until compute binds.
    """

    def __init__(
        self, inputs: int = 64, hidden: int = 4096, layers: int = 3, outputs: int = 8, seed: int = 0
    ) -> None:
        if min(inputs, hidden, layers, outputs) < 1:
            raise ValueError("inputs, hidden, layers and outputs must be at least 1")
        rng = np.random.default_rng(seed)
        dims = [inputs] + [hidden] * layers + [outputs]
        self.inputs = inputs
        self.weights: list[Array] = []
        self.biases: list[Array] = []
        for fan_in, fan_out in zip(dims, dims[1:], strict=False):
            scale = np.float32(np.sqrt(2.0 / fan_in))
            self.weights.append(rng.standard_normal((fan_in, fan_out), dtype=np.float32) * scale)
            self.biases.append(np.zeros(fan_out, dtype=np.float32))

    @property
    def weight_bytes(self) -> int:
        return sum(w.nbytes for w in self.weights)

    def forward(self, x: Array) -> Array:
        """Class probabilities for a (rows, inputs) array."""
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            x = x @ w
            x += b
            if i < last:
                np.maximum(x, 0, out=x)
        x -= x.max(axis=1, keepdims=True)
        np.exp(x, out=x)
        x /= x.sum(axis=1, keepdims=True)
        return x

    def rows(self, batch: Sequence[dict[str, Any]]) -> Array:
        x = np.asarray([item["features"] for item in batch], dtype=np.float32)
        if x.shape != (len(batch), self.inputs):
            raise ValueError(f"expected {self.inputs} features per input, got an array of {x.shape}")
        return x

    def predict(self, inputs: dict[str, Any]) -> dict[str, Any]:
        return self._answers(self.forward(self.rows([inputs])))[0]

    def predict_batch(self, batch: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        return self._answers(self.forward(self.rows(batch)))

    @staticmethod
    def _answers(proba: Array) -> list[dict[str, Any]]:
        best = proba.argmax(axis=1)
        return [
            {"output": int(k), "confidence": float(p)}
            for k, p in zip(best, proba[np.arange(len(best)), best], strict=True)
        ]
