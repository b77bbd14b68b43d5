"""What the metrics add to a call, measured in one process (run by invoke_overhead.py --metrics-cost).

Run as `python bench/_metrics_cost.py CALLS ROUNDS` it prints one JSON object. Whether the values are
file-backed (prometheus_client's multiprocess mode) is decided by PROMETHEUS_MULTIPROC_DIR when the
process starts, so the caller runs it once per mode.

1. The metrics path alone, in a tight loop: what a call does for metrics besides the model, i.e.
   cost.measured (thread CPU time around the model call), metrics.observe (calls by outcome, latency
   histogram) and cost.account (CPU-seconds, tokens, money) for an answer with a priced token usage.
2. The whole in-process invoke path (service.invoke: validation, lane, model thread, spool append) on a
   no-op callable model, with the real metrics against a no-op stub of the same functions, in
   alternating rounds: the process's CPU time per call (all its threads), median and fastest round.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any


def noop(inputs: dict[str, Any]) -> tuple[float, float]:
    """The benchmark's model: answers at once."""
    return inputs["x"], 0.9


def tight_loop(calls: int) -> float:
    """µs per call of observe + account, over `calls` calls."""
    from shipyard.core.config import MonitoringSettings, Price
    from shipyard.monitoring import cost, metrics
    from shipyard.registry.loaders.base import ModelOutput, Usage

    settings = MonitoringSettings(prices={"m": Price(input_per_million=0.15, output_per_million=0.6)})
    answer = ModelOutput(1, 0.9, usage=Usage(100, 20, "m"))
    observe, account, measured = metrics.observe, cost.account, cost.measured

    def predict(inputs: object) -> ModelOutput:
        return answer

    for _ in range(1000):  # first use creates the series
        observe("svc", 1, "served", 0.0123)
        account(settings, "svc", 1, measured(predict, None))
    start = time.perf_counter()
    for _ in range(calls):
        output = measured(predict, None)  # the model thread: thread CPU time around the call
        observe("svc", 1, "served", 0.0123)
        account(settings, "svc", 1, output)
    return (time.perf_counter() - start) / calls * 1e6


class _NoMetrics(types.SimpleNamespace):
    """Stands in for shipyard.monitoring.metrics / cost in the invoke path: every call does nothing."""

    def __getattr__(self, name: str) -> Any:
        return _nothing


class _Nothing:
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return {}

    def labels(self, *args: Any) -> _Nothing:
        return self

    def inc(self, *args: Any) -> None:
        return None

    def observe(self, *args: Any) -> None:
        return None


_nothing = _Nothing()


def _measured_stub(predict: Any, inputs: Any) -> Any:
    return predict(inputs)


async def invoke_path(calls: int, rounds: int) -> dict[str, Any]:
    """µs per in-process invoke with the real metrics and with the stub: the median and fastest round."""
    from _server import instance_session, new_instance

    from shipyard.auth.principal import Principal
    from shipyard.core.ids import new_request_id
    from shipyard.monitoring import cost, metrics
    from shipyard.registry import service as registry
    from shipyard.registry.schemas import ServiceCreate, VersionCreate
    from shipyard.serving import lanes, service
    from shipyard.web.app import create_app

    home = Path(tempfile.mkdtemp(prefix="shipyard-metrics-bench-"))
    settings = new_instance(home)
    with instance_session(settings) as (session, actor, store):
        schema = {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]}
        registry.create_service(session, actor, ServiceCreate(slug="svc", name="Svc", input_schema=schema))
        version = VersionCreate(
            loader="callable", entrypoint="_metrics_cost:noop", returns_confidence=True, make_live=True
        )
        registry.register_version(session, actor, store, "svc", version)
    # The spool's fsync is the slowest, noisiest step of a call and is the same with or without metrics.
    settings.recorder.fsync = False
    settings.monitoring.periodic_jobs = False
    app = create_app(settings)
    ctx = app.state.ctx
    principal = Principal(id="bench", name="bench", kind="user", roles=frozenset({"consumer"}))
    stub = _NoMetrics()
    real_parts = (metrics, cost, cost)
    stub_parts = (stub, stub, types.SimpleNamespace(measured=_measured_stub))
    times: dict[str, list[float]] = {"metrics": [], "stub": []}
    async with app.router.lifespan_context(app):
        config = await ctx.service_config("svc")
        while ctx.runtimes.peek(config, config.live) is None:
            await asyncio.sleep(0.05)

        async def one_round(calls: int) -> float:
            # CPU time of the whole process (event loop, model thread, spool writer): what the metrics
            # add to a call's cost, and far less disturbed by other load on the machine than wall time.
            start = time.process_time()
            for _ in range(calls):
                await service.invoke(ctx, principal, config, {"x": 1}, new_request_id())
            return (time.process_time() - start) / calls * 1e6

        await one_round(min(calls, 500))  # warm-up
        for r in range(rounds * 2):
            name = "metrics" if r % 4 in (0, 3) else "stub"  # ABBA: a drift in load falls on both alike
            service.metrics, service.cost, lanes.cost = real_parts if name == "metrics" else stub_parts
            times[name].append(await one_round(calls))
        service.metrics, service.cost, lanes.cost = real_parts
    out: dict[str, Any] = {name: statistics.median(values) for name, values in times.items()}
    out.update({f"{name}_min": min(values) for name, values in times.items()})
    out["rounds_us"] = times  # each round's µs per call, to judge the noise
    return out


def main() -> None:
    calls, rounds = int(sys.argv[1]), int(sys.argv[2])
    from shipyard.monitoring import metrics

    result: dict[str, Any] = {"multiprocess": metrics.MULTIPROCESS, "pid": os.getpid()}
    result["tight_loop_us"] = tight_loop(calls * 10)
    result["invoke_us"] = asyncio.run(invoke_path(calls, rounds))
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
