"""The invoke path: paused? valid? run the live version under its timeout, record, answer.

Nothing here touches the database: service config and principals come from memory, the record goes
to the spool.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import anyio
import anyio.to_thread

from shipyard.auth.principal import Principal
from shipyard.core.errors import (
    InvalidInput,
    ModelFailed,
    Paused,
    ShipyardError,
    Timeout,
    Unavailable,
)
from shipyard.monitoring import metrics
from shipyard.registry.cache import ServiceConfig, VersionConfig
from shipyard.registry.loaders import ModelOutput, Runtime
from shipyard.web.context import AppContext


@dataclass(frozen=True)
class InvokeResult:
    output: Any
    confidence: float | None
    outcome: str
    version: int
    request_id: str

    def as_dict(self, service: str) -> dict[str, Any]:
        return {
            "output": self.output,
            "confidence": self.confidence,
            "outcome": self.outcome,
            "version": self.version,
            "service": service,
            "request_id": self.request_id,
        }


def _outcome_for(error: ShipyardError) -> str:
    if isinstance(error, Paused | InvalidInput) or error.code == "no_live_version":
        return "rejected"
    return "failed"


async def invoke(
    ctx: AppContext, principal: Principal, config: ServiceConfig, inputs: Any, request_id: str
) -> InvokeResult:
    started = ctx.clock.now()
    t0 = time.perf_counter()
    version = config.live
    result: ModelOutput | None = None
    error: ShipyardError | None = None
    try:
        if config.paused:
            raise Paused(
                f"{config.slug} is paused by {config.paused_by}: {config.paused_reason}",
                paused_by=config.paused_by,
                reason=config.paused_reason,
                paused_at=config.paused_at.isoformat() if config.paused_at else None,
            )
        violations = config.input_validator.errors(inputs)
        if violations:
            raise InvalidInput(
                f"inputs do not match the {config.slug} input schema "
                f"({len(violations)} violation{'s' if len(violations) > 1 else ''})",
                code="schema_violation",
                errors=violations,
            )
        if version is None:
            raise Unavailable(f"{config.slug} has no live version", code="no_live_version")
        result = await _run(ctx, config, inputs)
    except ShipyardError as exc:
        error = exc
    ended = started + timedelta(seconds=time.perf_counter() - t0)
    outcome = "served" if error is None else _outcome_for(error)
    record = {
        "request_id": request_id,
        "service": config.slug,
        "version_id": version.id if version else None,
        "version": version.number if version else None,
        "caller": principal.name,
        "caller_kind": principal.kind,
        "inputs": inputs,
        "output": result.output if result else None,
        "confidence": result.confidence if result else None,
        "outcome": outcome,
        "error_code": error.code if error else None,
        "error_detail": error.detail if error else None,
        "started_at": started.isoformat(),
        "ended_at": ended.isoformat(),
        "latency_ms": (ended - started).total_seconds() * 1000,
    }
    try:
        await ctx.spool.append(record)
    except OSError as exc:
        # Fail closed: a call we cannot put on record is not answered.
        raise Unavailable(
            "the prediction recorder cannot write its spool; refusing calls", code="recorder_unavailable"
        ) from exc
    metrics.observe(config.slug, version.number if version else None, outcome, time.perf_counter() - t0)
    if error is not None:
        raise error
    assert result is not None and version is not None
    return InvokeResult(result.output, result.confidence, outcome, version.number, request_id)


async def _run(ctx: AppContext, config: ServiceConfig, inputs: Any) -> ModelOutput:
    version = config.live
    assert version is not None
    runtime = ctx.runtimes.peek(version.id)
    if runtime is None:  # normally pre-loaded at start; loading is not the model's answer time
        runtime = await _load(ctx, config, version)
    try:
        # Model calls run on the context's own thread pool: a plain executor future and wait_for cost
        # far less per call than anyio's limiter and cancel scopes. A timed-out local call cannot be
        # interrupted; wait_for abandons it, so the caller is answered now.
        call = asyncio.get_running_loop().run_in_executor(ctx.model_threads, runtime.predict, inputs)
        result: ModelOutput = await asyncio.wait_for(call, config.timeout_s)
    except TimeoutError:
        raise Timeout(
            f"{config.slug} v{version.number} did not answer within {config.timeout_s:g} s"
        ) from None
    except ShipyardError:
        raise
    except Exception as exc:
        raise ModelFailed(f"{config.slug} v{version.number} raised {type(exc).__name__}: {exc}") from exc
    _check_output(config, result)
    return result


async def _load(ctx: AppContext, config: ServiceConfig, version: VersionConfig) -> Runtime:
    limit = ctx.settings.serving.load_timeout_s
    try:
        with anyio.fail_after(limit):
            return await anyio.to_thread.run_sync(ctx.runtimes.load, config, version, abandon_on_cancel=True)
    except TimeoutError:
        raise Unavailable(
            f"{config.slug} v{version.number} is still loading after {limit:g} s; retry shortly",
            code="model_loading",
        ) from None
    except ShipyardError:
        raise
    except Exception as exc:
        raise ModelFailed(
            f"{config.slug} v{version.number} failed to load: {type(exc).__name__}: {exc}",
            code="model_load_failed",
        ) from exc


def _check_output(config: ServiceConfig, result: ModelOutput) -> None:
    if result.confidence is not None and not (
        math.isfinite(result.confidence) and 0.0 <= result.confidence <= 1.0
    ):
        raise ModelFailed(
            f"the model returned an invalid confidence {result.confidence!r}", code="bad_output"
        )
    if config.output_validator is not None:
        violations = config.output_validator.errors(result.output)
        if violations:
            raise ModelFailed(
                "the model's output breaks the output schema: "
                + "; ".join(f"{v['loc']}: {v['message']}" for v in violations[:5]),
                code="bad_output",
            )
