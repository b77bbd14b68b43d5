"""The baseline of bench/invoke_overhead.py: the FastAPI endpoint someone writes around a model by hand.

It parses the JSON body, hands the row to the model and returns the top class and its probability:
no auth, no validation, no recording, no metrics. The model is the joblib file named by BENCH_MODEL.
Three ways to make the (synchronous) model call, one route each:

    POST /predict           a plain ``def`` endpoint: FastAPI runs it in its threadpool (anyio worker
                            threads, 40 at most). The natural way to write it; the default baseline.
    POST /predict-async     an ``async def`` endpoint that calls the model on the event loop itself.
    POST /predict-executor  an ``async def`` endpoint that awaits the model on a 40-thread
                            concurrent.futures executor (loop.run_in_executor), as Shipyard does.

    BENCH_MODEL=/tmp/model.joblib PYTHONPATH=bench uvicorn bare_app:app --port 8001 --no-access-log
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any

import joblib
from fastapi import Body, FastAPI
from invoke_models import predict_one

model = joblib.load(os.environ["BENCH_MODEL"])
executor = ThreadPoolExecutor(40, thread_name_prefix="bare-model")
app = FastAPI()
Row = Annotated[dict[str, Any], Body(embed=True)]


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/predict")
def predict(inputs: Row) -> dict[str, Any]:
    return predict_one(model, inputs)


@app.post("/predict-async")
async def predict_async(inputs: Row) -> dict[str, Any]:
    return predict_one(model, inputs)


@app.post("/predict-executor")
async def predict_executor(inputs: Row) -> dict[str, Any]:
    return await asyncio.get_running_loop().run_in_executor(executor, predict_one, model, inputs)
