"""What a call cost: the CPU time its model used, and for LLM runtimes the tokens and their price.

CPU time is thread CPU time around the model call, in the thread that runs it (for an isolated model,
in its worker process); a dynamic batch's time is shared equally among its items. A remote model's
CPU is spent elsewhere, so it has none here: its tokens are what it costs. Prices come from settings
(`monitoring.prices`), keyed by the model name the runtime reports; an unknown model's tokens are
counted and its cost is left empty.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, TypeVar

from shipyard.core.config import MonitoringSettings, Price
from shipyard.monitoring import metrics
from shipyard.registry.loaders.base import ModelOutput, Usage

T = TypeVar("T")


def measured(predict: Callable[[T], ModelOutput], inputs: T) -> ModelOutput:
    """Run `predict(inputs)` in this thread and note the CPU time it used on the output."""
    start = time.thread_time()
    out = predict(inputs)
    if out.cpu_s is not None:  # it ran elsewhere (an isolated worker process) and said what it used
        return out
    return replace(out, cpu_s=time.thread_time() - start)


def share_cpu(results: list[Any], cpu_s: float) -> list[Any]:
    """Share one batch's CPU time equally among the outputs that do not carry their own."""
    share = cpu_s / max(len(results), 1)
    return [replace(r, cpu_s=share) if isinstance(r, ModelOutput) and r.cpu_s is None else r for r in results]


def price_of(prices: Mapping[str, Price], usage: Usage) -> float | None:
    """The money `usage` cost under `prices`; None when the model has no price."""
    price = prices.get(usage.model) if usage.model is not None else None
    if price is None:
        return None
    return (usage.tokens_in * price.input_per_million + usage.tokens_out * price.output_per_million) / 1e6


def account(
    settings: MonitoringSettings, service: str, version: int | None, result: ModelOutput | None
) -> dict[str, Any]:
    """Count the answer's cost in the metrics and return it as prediction record fields."""
    if result is None:
        return {}
    fields: dict[str, Any] = {}
    usage = result.usage
    cost = price_of(settings.prices, usage) if usage is not None else None
    if result.cpu_s is not None:
        fields["cpu_ms"] = result.cpu_s * 1000
    if usage is not None:
        fields["tokens_in"], fields["tokens_out"] = usage.tokens_in, usage.tokens_out
        if cost is not None:
            fields["cost"] = cost
    if fields:
        metrics.observe_cost(service, version, result.cpu_s, usage, cost)
    return fields
