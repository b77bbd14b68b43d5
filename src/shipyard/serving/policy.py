"""A service's runtime policy: how its calls behave on a bad day.

Stored as JSON on the service, edited by its owners (audited), read by the invoke path from the cached
service config. Every field has a default, so an empty policy `{}` is a sound one.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    # A misspelt key must be an error, not a silently ignored setting.
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetryPolicy(_Strict):
    """Retries for failures that are safe to retry: a remote runtime unreachable, 5xx or 429.

    A local model that raised, returned garbage or timed out is never retried.
    """

    attempts: int = Field(2, ge=0, le=10, description="Extra attempts after the first one.")
    backoff_ms: int = Field(50, ge=1, le=60_000, description="First back-off; doubles per attempt, jittered.")
    max_backoff_ms: int = Field(1000, ge=1, le=60_000)


class BreakerPolicy(_Strict):
    """A circuit breaker per version: opens after consecutive failures, lets one trial call through
    after the cool-down (half-open), closes again when enough trial calls succeed."""

    enabled: bool = True
    failure_threshold: int = Field(5, ge=1, le=10_000, description="Consecutive failures that open it.")
    cooldown_s: float = Field(30.0, gt=0, le=86_400, description="Open this long before a trial call.")
    half_open_successes: int = Field(1, ge=1, le=100, description="Trial successes that close it again.")


class VersionFallback(_Strict):
    kind: Literal["version"]
    version: int = Field(ge=1, description="Another version of the same service.")


class RuleFallback(_Strict):
    kind: Literal["rule"]
    entrypoint: str = Field(
        pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$",
        description="module:function, a rule-based model that takes the input object.",
    )


class FixedFallback(_Strict):
    kind: Literal["fixed"]
    output: Any = Field(description="The answer given as-is, e.g. a 'sent to a person' marker.")
    confidence: float | None = Field(None, ge=0.0, le=1.0)
    message: str = Field("", max_length=500, description="Shown to the caller beside the output.")


FallbackStep = Annotated[VersionFallback | RuleFallback | FixedFallback, Field(discriminator="kind")]


class ConcurrencyPolicy(_Strict):
    """Per version and per server process: calls running at once, and calls allowed to wait."""

    max_concurrency: int = Field(8, ge=1, le=10_000)
    max_queue: int = Field(32, ge=0, le=100_000)
    max_queue_wait_ms: int | None = Field(
        None, ge=1, le=600_000, description="Shed a queued call that waits longer; default half the SLO."
    )


class BatchingPolicy(_Strict):
    """Dynamic batching, for versions registered with supports_batching."""

    enabled: bool = False
    max_batch_size: int = Field(32, ge=1, le=4096)
    max_wait_ms: float = Field(5.0, ge=0, le=10_000, description="How long a partial batch waits for more.")


class IsolationPolicy(_Strict):
    """Run the model in worker processes: a crash or leak kills a worker, not the server."""

    mode: Literal["thread", "process"] = "thread"
    workers: int = Field(1, ge=1, le=64, description="Model processes per server process.")
    max_calls_per_worker: int | None = Field(None, ge=1, description="Recycle a worker after this many.")
    memory_mb: int | None = Field(None, ge=64, description="Address-space limit per model process.")


class RateLimitPolicy(_Strict):
    per_caller_per_minute: int | None = Field(None, ge=1, description="Calls per caller per minute.")


class ReviewPolicy(_Strict):
    """When a call goes to a person. `hold`: the caller gets no answer until a reviewer decides (outcome
    held_for_review); `queue`: the answer goes out now and a reviewer checks it afterwards."""

    low_confidence: float | None = Field(
        None, ge=0.0, le=1.0, description="Calls whose confidence is below this go to review."
    )
    restricted_terms: list[Annotated[str, Field(min_length=2, max_length=100)]] = Field(
        default_factory=list,
        max_length=200,
        description="Words or phrases (case-insensitive, whole words) that send a call to review when "
        "any text in its input contains them.",
    )
    action: Literal["hold", "queue"] = Field(
        "hold", description="What low confidence and restricted terms do: hold the answer, or queue it."
    )
    sample_rate: float = Field(
        0.0, ge=0.0, le=1.0, description="Share of answered calls queued for a quality check (never held)."
    )
    queue_abstentions: bool = Field(False, description="Queue calls the model abstained on.")

    @property
    def active(self) -> bool:
        return bool(
            self.low_confidence is not None
            or self.restricted_terms
            or self.sample_rate
            or self.queue_abstentions
        )


class RuntimePolicy(_Strict):
    retries: RetryPolicy = Field(default_factory=RetryPolicy)
    breaker: BreakerPolicy = Field(default_factory=BreakerPolicy)
    fallbacks: list[FallbackStep] = Field(default_factory=list, max_length=5)
    concurrency: ConcurrencyPolicy = Field(default_factory=ConcurrencyPolicy)
    batching: BatchingPolicy = Field(default_factory=BatchingPolicy)
    isolation: IsolationPolicy = Field(default_factory=IsolationPolicy)
    rate_limit: RateLimitPolicy = Field(default_factory=RateLimitPolicy)
    review: ReviewPolicy = Field(default_factory=ReviewPolicy)
    on_recorder_full: Literal["fail_closed", "serve"] = Field(
        "fail_closed",
        description="When the spool is full or the disk is: refuse calls (503), or answer unrecorded "
        "and raise the alarm.",
    )

    @model_validator(mode="after")
    def _distinct_versions(self) -> RuntimePolicy:
        numbers = [step.version for step in self.fallbacks if isinstance(step, VersionFallback)]
        if len(numbers) != len(set(numbers)):
            raise ValueError("a version appears twice in the fallback chain")
        return self


DEFAULT_POLICY = RuntimePolicy()


def describe(step: VersionFallback | RuleFallback | FixedFallback) -> str:
    """A short name for a fallback step, as recorded on the prediction."""
    if isinstance(step, VersionFallback):
        return f"version:{step.version}"
    if isinstance(step, RuleFallback):
        return f"rule:{step.entrypoint}"
    return "fixed"
