"""The BentoML target of bench/invoke_overhead.py: the same model behind BentoML's own server.

Runs from its own virtualenv (bench/.venv-bentoml), never from Shipyard's. One worker; access logging
off, as on the other two targets; everything else is BentoML's default (threads: 1 for a sync API,
Prometheus metrics on). The model is the joblib file named by BENCH_MODEL.

    cd bench && BENCH_MODEL=/tmp/model.joblib .venv-bentoml/bin/bentoml serve bento_service:Claims --port 8002
"""

from __future__ import annotations

import os
from typing import Any

import bentoml
import joblib
from invoke_models import predict_one


@bentoml.service(workers=1, logging={"access": {"enabled": False}})
class Claims:
    def __init__(self) -> None:
        self.model = joblib.load(os.environ["BENCH_MODEL"])

    @bentoml.api
    def predict(self, inputs: dict[str, Any]) -> dict[str, Any]:
        return predict_one(self.model, inputs)
