"""The invoke path: paused? valid? within its rate? run the live version under its policy, fall back
when it fails, record, answer.

Nothing here touches the database: service config and principals come from memory, the record goes
to the spool. The policy (serving/policy.py) sets the timeout, retries, breaker, fallback chain,
admission limits, batching, isolation and what to do when the recorder is full.
"""

from __future__ import annotations

import errno
import logging
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
    RateLimited,
    Shed,
    ShipyardError,
    Timeout,
    Unavailable,
)
from shipyard.monitoring import cost, metrics
from shipyard.registry.cache import ServiceConfig, VersionConfig
from shipyard.registry.loaders import ModelOutput, Runtime
from shipyard.review.queue import rules as review_rules
from shipyard.serving.policy import FallbackStep, FixedFallback, RuleFallback, VersionFallback, describe
from shipyard.web.context import AppContext

log = logging.getLogger(__name__)

# Failures the fallback chain answers for. Not: the caller's own deadline (nobody is waiting any more),
# shedding (the caller should come back later), a pause (the kill switch means stop).
_NO_FALLBACK_CODES = frozenset({"deadline_exceeded", "shed", "shutting_down", "paused"})
# Failures that say nothing about the version's health, so its breaker does not count them.
_NOT_THE_MODELS_FAULT = _NO_FALLBACK_CODES | {"model_loading"}


@dataclass(frozen=True)
class InvokeResult:
    output: Any
    confidence: float | None
    outcome: str
    version: int
    request_id: str
    fallback: dict[str, Any] | None = None
    review: dict[str, Any] | None = None  # why a person will look at it; a held call has no output yet

    @property
    def held(self) -> bool:
        return self.outcome == "held_for_review"

    def as_dict(self, service: str) -> dict[str, Any]:
        body = {
            "output": self.output,
            "confidence": self.confidence,
            "outcome": self.outcome,
            "version": self.version,
            "service": service,
            "request_id": self.request_id,
        }
        if self.fallback is not None:
            body["fallback"] = self.fallback
        if self.review is not None:
            body["review"] = self.review
        return body


def _outcome_for(error: ShipyardError) -> str:
    if isinstance(error, Shed):
        return "shed"
    if isinstance(error, Paused | InvalidInput | RateLimited) or error.code == "no_live_version":
        return "rejected"
    return "failed"


def _falls_back(error: ShipyardError) -> bool:
    return isinstance(error, ModelFailed | Unavailable) and error.code not in _NO_FALLBACK_CODES


async def invoke(
    ctx: AppContext,
    principal: Principal,
    config: ServiceConfig,
    inputs: Any,
    request_id: str,
    *,
    deadline: float | None = None,
) -> InvokeResult:
    """Run one governed call. `deadline` is a time.monotonic() instant after which nobody is waiting."""
    started = ctx.clock.now()
    t0 = time.perf_counter()
    version = config.live
    result: ModelOutput | None = None
    error: ShipyardError | None = None
    cause: ShipyardError | None = None
    used: FallbackStep | None = None  # the fallback step that answered
    number = version.number if version else None
    if config.policy.on_recorder_full == "fail_closed" and _spool_over_cap(ctx):
        # Refuse before running the model: its answer could not be put on record anyway.
        metrics.observe(config.slug, number, "failed", time.perf_counter() - t0, "recorder_unavailable")
        cap = ctx.settings.recorder.max_spool_bytes
        raise _recorder_refusal(ctx, f"the spool is over its cap of {cap} bytes")
    try:
        with ctx.tracing.step("validate"):
            _admit(config, inputs)
        if version is None:
            raise Unavailable(f"{config.slug} has no live version", code="no_live_version")
        with ctx.tracing.step("rate_limit"):
            await _check_rate(ctx, config, principal)
        try:
            with ctx.tracing.step("model", version=version.number):
                result = await _attempt(ctx, config, version, inputs, deadline)
        except ShipyardError as exc:
            if not (_falls_back(exc) and config.policy.fallbacks):
                raise
            cause = exc
            with ctx.tracing.step("fallback", cause=exc.code):
                result, used = await _fall_back(ctx, config, inputs, exc, deadline)
    except ShipyardError as exc:
        error = exc
    ended = started + timedelta(seconds=time.perf_counter() - t0)
    step = describe(used) if used is not None else None
    if error is not None:
        outcome = _outcome_for(error)
    else:
        outcome = "fallback" if step else "abstained" if result is not None and result.abstained else "served"
    review = None
    if result is not None and error is None and config.policy.review.active:
        review = review_rules.decide(config.policy.review, inputs, result.confidence, outcome)
        if review is not None and review.action == "hold":
            outcome = "held_for_review"
    reason = cause or error
    ctx.tracing.note(outcome=outcome, version=number, fallback=step)
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
        "error_code": reason.code if reason else None,
        "error_detail": reason.detail if reason else None,
        "fallback": step,
        "review": review.as_record() if review else None,  # the sink opens the review task from it
        "started_at": started.isoformat(),
        "ended_at": ended.isoformat(),
        "latency_ms": (ended - started).total_seconds() * 1000,
        **cost.account(ctx.settings.monitoring, config.slug, number, result),  # cpu_ms, tokens, cost
    }
    try:
        with ctx.tracing.step("record"):
            await _record(ctx, config, record)
    except Unavailable as exc:
        metrics.observe(config.slug, number, "failed", time.perf_counter() - t0, exc.code)
        raise
    metrics.observe(config.slug, number, outcome, time.perf_counter() - t0, reason.code if reason else None)
    if step is not None and cause is not None:
        metrics.FALLBACKS.labels(
            config.slug, metrics.version_label(number), step, metrics.code_label(cause.code)
        ).inc()
    if error is not None:
        raise error
    assert result is not None and version is not None
    if review is not None:
        metrics.REVIEWS_REQUESTED.labels(config.slug, review.action, review.rule).inc()
    fallback = None
    if step is not None and cause is not None:
        fallback = {"step": step, "cause": cause.code, "detail": cause.detail}
        if isinstance(used, FixedFallback) and used.message:
            fallback["message"] = used.message
    if review is None:
        return InvokeResult(result.output, result.confidence, outcome, version.number, request_id, fallback)
    ticket = review.as_record() | {"status_url": f"/v1/predictions/{request_id}/review"}
    if review.action == "hold":  # the answer waits for the reviewer's decision
        return InvokeResult(None, None, outcome, version.number, request_id, fallback, ticket)
    return InvokeResult(
        result.output, result.confidence, outcome, version.number, request_id, fallback, ticket
    )


def _admit(config: ServiceConfig, inputs: Any) -> None:
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


async def _check_rate(ctx: AppContext, config: ServiceConfig, principal: Principal) -> None:
    limit = config.policy.rate_limit.per_caller_per_minute
    if limit is None:
        return
    decision = await ctx.limiter.hit(f"{config.slug}:{principal.kind}:{principal.name}", limit)
    if not decision.allowed:
        metrics.RATE_LIMITED.labels(config.slug).inc()
        raise RateLimited(
            f"{principal.name} may call {config.slug} {limit} times a minute; "
            f"retry in {decision.retry_after_s} s",
            retry_after=decision.retry_after_s,
            limit=limit,
        )


async def _attempt(
    ctx: AppContext,
    config: ServiceConfig,
    version: VersionConfig,
    inputs: Any,
    deadline: float | None,
) -> ModelOutput:
    """One version, behind its breaker and lane, with its output checked."""
    policy = config.policy
    breaker = ctx.breaker(config.slug, version.id, version.number, policy.breaker)
    label = f"{config.slug} v{version.number}"
    if not breaker.allow():
        wait = math.ceil(breaker.retry_after_s()) or 1
        raise Unavailable(
            f"{label} failed repeatedly; its circuit breaker is open for another {wait} s",
            code="breaker_open",
            retry_after=wait,
        )
    verdict: bool | None = None  # True: worked, False: the version failed, None: no verdict
    try:
        runtime = ctx.runtimes.peek(config, version)
        if runtime is None:  # normally pre-loaded at start; loading is not the model's answer time
            runtime = await _load(ctx, config, version)
        batching = policy.batching if policy.batching.enabled and version.supports_batching else None
        lane = ctx.lanes.get(
            version.id,
            label,
            policy.concurrency,
            batching,
            config.latency_slo_ms,
            on_shed=lambda reason: metrics.SHED.labels(config.slug, str(version.number), reason).inc(),
            on_batch_done=lambda size, waited_s, model_s: metrics.observe_batch(
                config.slug, version.number, size, waited_s, model_s
            ),
        )
        try:
            result = await lane.call(
                runtime, inputs, timeout_s=config.timeout_s, deadline=deadline, retry=policy.retries
            )
        except ShipyardError:
            raise
        except Exception as exc:
            raise ModelFailed(f"{label} raised {type(exc).__name__}: {exc}") from exc
        _check_output(config, result, label)
        verdict = True
        return result
    except ShipyardError as exc:
        # A model that refuses the caller's input (InvalidInput, e.g. an unknown insurer) is healthy:
        # counting those would let a few bad requests open the breaker for everyone.
        if exc.code not in _NOT_THE_MODELS_FAULT and not isinstance(exc, InvalidInput):
            verdict = False
            breaker.failure(exc.code)
        raise
    finally:
        if verdict is True:
            breaker.success()
        elif verdict is None:
            breaker.release_trial()


async def _fall_back(
    ctx: AppContext, config: ServiceConfig, inputs: Any, cause: ShipyardError, deadline: float | None
) -> tuple[ModelOutput, FallbackStep]:
    """Walk the chain until a step answers; if none does, the original failure stands."""
    failures: list[dict[str, str]] = []
    for step in config.policy.fallbacks:
        name = describe(step)
        try:
            if isinstance(step, FixedFallback):
                return ModelOutput(step.output, step.confidence), step
            if isinstance(step, VersionFallback):
                version = (config.fallback_versions or {}).get(step.version)
                if version is None:
                    raise Unavailable(
                        f"fallback version {step.version} does not exist", code="no_such_version"
                    )
                with ctx.tracing.step("model", version=version.number):
                    return await _attempt(ctx, config, version, inputs, deadline), step
            return await _rule(ctx, config, step, inputs, deadline), step
        except ShipyardError as exc:
            failures.append({"step": name, "code": exc.code, "detail": exc.detail})
            ctx.tracing.event("fallback_step_failed", step=name, error_code=exc.code)
            if exc.code == "deadline_exceeded":
                break
    log.warning("%s: every fallback failed after %s: %s", config.slug, cause.code, failures)
    cause.extra["fallbacks_failed"] = failures
    raise cause


async def _rule(
    ctx: AppContext, config: ServiceConfig, step: RuleFallback, inputs: Any, deadline: float | None
) -> ModelOutput:
    try:
        runtime: Runtime = await anyio.to_thread.run_sync(ctx.runtimes.rule, config, step)
    except ShipyardError:
        raise
    except Exception as exc:
        raise ModelFailed(
            f"fallback rule {step.entrypoint} could not load: {exc}", code="model_load_failed"
        ) from exc
    budget = config.timeout_s if deadline is None else min(config.timeout_s, deadline - time.monotonic())
    try:
        # Not on the model threads: a hung primary model may be holding those, and the rule must answer.
        with anyio.fail_after(max(budget, 0.001)):
            result: ModelOutput = await anyio.to_thread.run_sync(
                cost.measured, runtime.predict, inputs, abandon_on_cancel=True
            )
    except TimeoutError:
        raise Timeout(f"fallback rule {step.entrypoint} did not answer in time") from None
    except ShipyardError:
        raise
    except Exception as exc:
        raise ModelFailed(f"fallback rule {step.entrypoint} raised {type(exc).__name__}: {exc}") from exc
    _check_output(config, result, f"fallback rule {step.entrypoint}")
    return result


def _spool_over_cap(ctx: AppContext) -> bool:
    cap = ctx.settings.recorder.max_spool_bytes
    return bool(cap) and ctx.spool.backlog_bytes() >= cap


def _recorder_refusal(ctx: AppContext, reason: str) -> Unavailable:
    ctx.note_recorder_trouble(reason, served=False)
    return Unavailable(
        f"the prediction recorder cannot take more records ({reason}); refusing calls",
        code="recorder_unavailable",
        retry_after=5,
    )


async def _record(ctx: AppContext, config: ServiceConfig, record: dict[str, Any]) -> None:
    """Durable before the answer; when the spool is full or the disk is, the service's policy decides."""
    try:
        if _spool_over_cap(ctx):
            cap = ctx.settings.recorder.max_spool_bytes
            raise OSError(errno.ENOSPC, f"the spool is over its cap of {cap} bytes")
        await ctx.spool.append(record)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        # A held answer exists only in its record: without one the reviewer could never release it.
        if config.policy.on_recorder_full == "serve" and record["outcome"] != "held_for_review":
            metrics.RECORDS_DROPPED.labels(config.slug).inc()
            ctx.note_recorder_trouble(reason, served=True)
            return
        # Fail closed: a call we cannot put on record is not answered.
        raise _recorder_refusal(ctx, reason) from exc
    if ctx.recorder_trouble is not None:
        ctx.recorder_recovered()


async def _load(ctx: AppContext, config: ServiceConfig, version: VersionConfig) -> Runtime:
    limit = ctx.settings.serving.load_timeout_s
    try:
        with anyio.fail_after(limit):
            return await anyio.to_thread.run_sync(ctx.runtimes.load, config, version, abandon_on_cancel=True)
    except TimeoutError:
        raise Unavailable(
            f"{config.slug} v{version.number} is still loading after {limit:g} s; retry shortly",
            code="model_loading",
            retry_after=5,
        ) from None
    except ShipyardError:
        raise
    except Exception as exc:
        raise ModelFailed(
            f"{config.slug} v{version.number} failed to load: {type(exc).__name__}: {exc}",
            code="model_load_failed",
        ) from exc


def _check_output(config: ServiceConfig, result: ModelOutput, label: str) -> None:
    if result.confidence is not None and not (
        math.isfinite(result.confidence) and 0.0 <= result.confidence <= 1.0
    ):
        raise ModelFailed(f"{label} returned an invalid confidence {result.confidence!r}", code="bad_output")
    if config.output_validator is not None:
        violations = config.output_validator.errors(result.output)
        if violations:
            raise ModelFailed(
                f"{label}'s output breaks the output schema: "
                + "; ".join(f"{v['loc']}: {v['message']}" for v in violations[:5]),
                code="bad_output",
            )
