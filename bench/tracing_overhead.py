"""Tracing's added cost per call: the helpers one invoke runs (a request span, seven steps, one note),
timed off (no endpoint: the shared no-op), on (the SDK with a processor that drops every span) and
on but sampled out (sample_ratio 0), against an empty loop measured in the same run.

    .venv/bin/python bench/tracing_overhead.py [--calls 200000]

In-process and single-threaded: it isolates the tracing code from the network, the model and the
recorder, which `bench/invoke_overhead.py` measures end to end.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

from shipyard.core.config import TracingSettings
from shipyard.monitoring.tracing import Tracing

STEPS = ("auth", "route", "validate", "rate_limit", "model", "record")


class Drop(SpanProcessor):
    """Ends spans and throws them away: the cost of making spans, not of shipping them."""

    def on_end(self, span: ReadableSpan) -> None:
        pass


def one_call(tracing: Tracing) -> None:
    with tracing.request("POST /v1/services/{slug}/invoke", "req_x", "echo", {}):
        for name in STEPS:
            with tracing.step(name):
                pass
        with tracing.step("model", version=1):
            pass
        tracing.note(outcome="served", version=1, fallback=None)


def per_call_us(fn: Callable[[], None], calls: int) -> float:
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - t0) / calls * 1e6)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200_000)
    args = parser.parse_args()
    off = Tracing.from_settings(TracingSettings())
    on = Tracing.with_processor(Drop())
    sampled_out = Tracing.with_processor(Drop(), TracingSettings(sample_ratio=0))

    def empty() -> None:
        pass

    base = per_call_us(empty, args.calls)
    rows = [
        ("off (no endpoint)", per_call_us(lambda: one_call(off), args.calls)),
        ("on, sampled out", per_call_us(lambda: one_call(sampled_out), args.calls // 10)),
        ("on, every call", per_call_us(lambda: one_call(on), args.calls // 20)),
    ]
    print(f"empty call: {base:.2f} µs")
    for name, us in rows:
        print(f"{name:20s} {us - base:8.2f} µs per invoke  ({us / base:.1f}x the empty call)")


if __name__ == "__main__":
    main()
