"""Running labelled questions through a service: in this process, or against a running server.

Either way each question is a real governed call (validated, recorded, counted), so an evaluation
leaves the same evidence as production traffic, under the caller's name.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from shipyard.auth.principal import Principal
from shipyard.core.errors import ShipyardError
from shipyard.core.ids import new_request_id
from shipyard.evaluation.qa import Cited, Example, Result

Tick = Callable[[Result], None]


def result_from(example: Example, body: dict[str, Any], latency_ms: float) -> Result:
    """Read an invoke response (`output` with `answered` and `citations`) into a Result."""
    output = body.get("output") or {}
    if not isinstance(output, dict):
        return Result(example.id, False, latency_ms=latency_ms, error="the output is not an object")
    citations = tuple(
        Cited(str(c.get("doc_key")), str(c.get("version")), str(c.get("quote", "")))
        for c in output.get("citations") or []
    )
    return Result(
        id=example.id,
        answered=bool(output.get("answered")),
        citations=citations,
        latency_ms=latency_ms,
        outcome=str(body.get("outcome", "")),
        request_id=body.get("request_id"),
    )


def inputs_for(example: Example) -> dict[str, Any]:
    # The insurer is left for the service to read from the question, as it would be in use.
    return {"question": example.question}


async def run_in_process(
    ctx: Any, principal: Principal, slug: str, examples: Sequence[Example], tick: Tick | None = None
) -> list[Result]:
    """Ask each question through the governed invoke path of an app context in this process."""
    import anyio.to_thread

    from shipyard.serving.service import invoke

    config = await ctx.service_config(slug)
    if config.live is not None:  # load the model first: a server would have, and latency is per call
        await anyio.to_thread.run_sync(ctx.runtimes.load, config, config.live)
    results = []
    for example in examples:
        t0 = time.perf_counter()
        try:
            answer = await invoke(ctx, principal, config, inputs_for(example), new_request_id())
            result = result_from(example, answer.as_dict(slug), (time.perf_counter() - t0) * 1000)
        except ShipyardError as exc:
            result = Result(example.id, False, latency_ms=(time.perf_counter() - t0) * 1000, error=exc.code)
        results.append(result)
        if tick:
            tick(result)
    return results


def run_remote(
    url: str,
    api_key: str,
    slug: str,
    examples: Sequence[Example],
    tick: Tick | None = None,
    timeout_s: float = 30,
) -> list[Result]:
    """Ask each question over HTTP, as a client would; latency includes the network."""
    results = []
    headers = {"Authorization": f"Bearer {api_key}"}
    with httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout_s) as client:
        for example in examples:
            t0 = time.perf_counter()
            try:
                reply = client.post(f"/v1/services/{slug}/invoke", json={"inputs": inputs_for(example)})
                latency = (time.perf_counter() - t0) * 1000
                if reply.status_code == 200:
                    result = result_from(example, reply.json(), latency)
                else:
                    code = (
                        reply.json().get("code", str(reply.status_code))
                        if reply.content
                        else str(reply.status_code)
                    )
                    result = Result(example.id, False, latency_ms=latency, error=code)
            except httpx.HTTPError as exc:
                latency = (time.perf_counter() - t0) * 1000
                result = Result(example.id, False, latency_ms=latency, error=type(exc).__name__)
            results.append(result)
            if tick:
                tick(result)
    return results
