"""Dynamic batching: one NumPy MLP served with and without batching, 64 closed-loop clients each.

One ``shipyard serve`` worker process on a fresh SQLite instance serves two services with the same
model (serving_models.MLP, same weights; registered with supports_batching, so the callable loader
hands batches to its predict_batch): `mlp-plain` runs one input per model call, `mlp-batched` has
``batching.enabled`` and gathers up to --max-batch inputs, waiting at most --max-wait-ms for a partial
batch. The MLP (default 64 -> 3 x 4096 -> 8, float32, 135 MB of weights) is sized so that the model,
not the server's per-call overhead (about 0.4 ms of CPU), is most of a call's cost: one row is a chain
of matrix-vector products that must stream every weight (memory-bound), and a batch of rows reads them
once for all. With a smaller model the per-call overhead caps what batching can gain (--hidden 2048).

BLAS threads: --blas-threads (1) for the server and for the timing here, set through
OPENBLAS_NUM_THREADS and friends, so each model call is one thread and a lane's max_concurrency says
exactly how many cores the model may use. --plain-concurrency defaults to the number of cores (one
single-row call per core; more would only time-slice). With batching, --max-batch 32 and
--batched-concurrency 2: the 64 clients fall into two batches of 32, so one batch can compute while
the other's answers go out and its next calls come in; one batch of 64 at a time leaves the model idle
while the event loop turns all 64 around (measured slower: see docs/benchmarks.md).

Load: wrk with --clients connections (each a closed-loop client: its next call when the last answer
arrives), the same input row and API key for every call. A warm-up per target, then --seconds per target
cut into --rounds slices in rotating order, so other load on the machine falls on both alike. Each
slice starts after --slice-warmup seconds of unmeasured load: on this VM the first batch after the
other target's slice took up to 374 ms, and a second of load removes that (most likely the model's idle
weights coming back; not shown). Before
the load, one forward pass of 1 row and of --max-batch rows is timed here, on the same BLAS threads.
Targets, PASS/FAIL each (exit code 0 either way; 2 on a setup error):

    throughput with batching >= 4x without;
    p99 with batching <= max_wait + one batch time (a full batch, timed here);
    every call answered 200.

    .venv/bin/python bench/batching.py
    .venv/bin/python bench/batching.py --hidden 2048 --max-batch 64 --batched-concurrency 1

Needs wrk (apt-get install wrk). Raw results go to bench/results/batching-<time>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
from _server import (
    BENCH,
    BenchError,
    Server,
    base_env,
    instance_session,
    interrupt,
    loadavg,
    machine,
    new_instance,
    print_verdicts,
    save_results,
    shipyard_server,
)
from _wrk import Slice, Totals, lua_script, run_wrk
from serving_models import MLP
from threadpoolctl import threadpool_limits

TARGETS = ("mlp-plain", "mlp-batched")
MIN_RATIO = 4.0


def model_kwargs(args: argparse.Namespace) -> dict[str, int]:
    return {"inputs": args.inputs, "hidden": args.hidden, "layers": args.layers, "outputs": args.outputs}


def time_model(args: argparse.Namespace) -> dict[str, Any]:
    """Wall time of one forward pass of 1 row and of a full batch, here, on --blas-threads threads."""
    model = MLP(**model_kwargs(args))
    rng = np.random.default_rng(1)
    out: dict[str, Any] = {"weights_mb": model.weight_bytes / 1e6}
    with threadpool_limits(limits=args.blas_threads):
        for rows in (1, args.max_batch):
            x = rng.standard_normal((rows, args.inputs), dtype=np.float32)
            for _ in range(5):
                model.forward(x)
            times = []
            for _ in range(max(5, 200 // rows)):
                t0 = time.perf_counter()
                model.forward(x)
                times.append(time.perf_counter() - t0)
            out["row_ms" if rows == 1 else "batch_ms"] = statistics.median(times) * 1e3
    out["per_row_speedup"] = out["row_ms"] * args.max_batch / out["batch_ms"]
    return out


def policies(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    # A queue as deep as the clients and a long queue wait: this measures throughput, so nothing is shed.
    queue = {"max_queue": args.clients, "max_queue_wait_ms": 60_000}
    return {
        "mlp-plain": {"concurrency": {"max_concurrency": args.plain_concurrency, **queue}},
        "mlp-batched": {
            "concurrency": {"max_concurrency": args.batched_concurrency, **queue},
            "batching": {"enabled": True, "max_batch_size": args.max_batch, "max_wait_ms": args.max_wait_ms},
        },
    }


def make_instance(home: Path, args: argparse.Namespace) -> str:
    """A fresh instance with the two services; returns a key that may invoke them and read their runtime."""
    from shipyard.instance import issue_key
    from shipyard.registry import service as registry
    from shipyard.registry.schemas import ServiceCreate, VersionCreate
    from shipyard.serving.policy import RuntimePolicy

    schema = {
        "type": "object",
        "properties": {
            "features": {
                "type": "array",
                "items": {"type": "number"},
                "minItems": args.inputs,
                "maxItems": args.inputs,
            }
        },
        "required": ["features"],
    }
    settings = new_instance(home)
    with instance_session(settings) as (session, actor, store):
        for slug, policy in policies(args).items():
            registry.create_service(
                session,
                actor,
                ServiceCreate(
                    slug=slug,
                    name=f"Batching benchmark ({slug})",
                    owner="admin",
                    input_schema=schema,
                    latency_slo_ms=10_000,
                    timeout_ms=60_000,
                    policy=RuntimePolicy.model_validate(policy),
                ),
            )
            registry.register_version(
                session,
                actor,
                store,
                slug,
                VersionCreate(
                    loader="callable",
                    entrypoint="serving_models:MLP",
                    config={"init_kwargs": model_kwargs(args)},
                    returns_confidence=True,
                    supports_batching=True,
                    description="numpy MLP",
                    make_live=True,
                ),
            )
    return issue_key(settings, "admin", "bench", ["consumer", "analyst"])


def http_json(server: Server, path: str, key: str, body: bytes | None = None) -> Any:
    request = urllib.request.Request(
        server.url + path,
        data=body,
        method="POST" if body is not None else "GET",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        raise BenchError(f"{path} answered {exc.code}: {exc.read()[:500]!r}\n{server.tail()}") from None


def wait_idle(server: Server, key: str, slug: str, timeout_s: float = 60.0) -> None:
    """Wait until no call of `slug` is running or queued in the server."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        version = http_json(server, f"/v1/services/{slug}/runtime", key)["versions"][0]
        if not version["in_flight"] and not version["queued"]:
            return
        time.sleep(0.05)
    raise BenchError(f"{slug} still has calls running or queued after {timeout_s:g} s:\n{server.tail()}")


def batch_metrics(server: Server) -> dict[str, float]:
    """The mlp-batched series of the batch histograms (sums, counts, cumulative buckets), from /metrics."""
    with urllib.request.urlopen(server.url + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if 'service="mlp-batched"' not in line or not line.startswith("shipyard_batch_"):
            continue
        name, value = line.rsplit(" ", 1)
        le = name.split('le="', 1)[1].split('"', 1)[0] if 'le="' in name else None
        key = name.split("{", 1)[0] + (f"@{le}" if le is not None else "")
        out[key] = out.get(key, 0.0) + float(value)
    return out


def histogram_summary(before: dict[str, float], after: dict[str, float], name: str) -> dict[str, Any]:
    """Mean and the bucket bounds holding 50% and 99% of one histogram's observations over the measured
    slices, in its own unit."""
    count = after.get(f"{name}_count", 0.0) - before.get(f"{name}_count", 0.0)
    if not count:
        return {"count": 0}
    total = after.get(f"{name}_sum", 0.0) - before.get(f"{name}_sum", 0.0)
    buckets = sorted(
        (float(key.split("@", 1)[1]), after[key] - before.get(key, 0.0))
        for key in after
        if key.startswith(f"{name}_bucket@")
    )

    def bound(q: float) -> float:
        return next((le for le, n in buckets if n >= q * count), float("inf"))

    return {"count": count, "mean": total / count, "p50_le": bound(0.5), "p99_le": bound(0.99)}


def bench(args: argparse.Namespace, workdir: Path, model: dict[str, Any]) -> dict[str, Any]:
    home = workdir / "shipyard"
    print("creating the instance and registering both services ...")
    key = make_instance(home, args)
    server = shipyard_server(home, workdir, base_env(threads=args.blas_threads))
    row = np.random.default_rng(2).standard_normal(args.inputs).round(4).tolist()
    body = json.dumps({"inputs": {"features": row}})
    try:
        server.start()
        server.wait_healthy(180)
        answers = {
            slug: http_json(server, f"/v1/services/{slug}/invoke", key, body.encode()) for slug in TARGETS
        }
        for slug, answer in answers.items():
            print(f"  {slug:12} answers {json.dumps(answer)[:150]}")
        if len({(a["output"], round(a["confidence"], 5)) for a in answers.values()}) != 1:
            raise BenchError(f"the two services disagree on the same input: {answers}")
        scripts = {}
        for slug in TARGETS:
            scripts[slug] = workdir / f"{slug}.lua"
            scripts[slug].write_text(lua_script(body, key))

        def load(slug: str, seconds: float) -> Slice:
            # wrk's last calls of the previous slice are still queued when it exits (the server computes
            # them for nobody); starting on top of them would overfill the queue and shed.
            wait_idle(server, key, slug)
            server.path = f"/v1/services/{slug}/invoke"
            return run_wrk(server, scripts[slug], seconds, args.clients, 1)

        for slug in TARGETS:
            print(f"  warm-up   {slug} ({args.warmup:g} s)")
            warm = load(slug, args.warmup)
            if any(warm.errors.values()):
                raise BenchError(f"{slug} had errors during the warm-up: {warm.errors}\n{server.tail()}")
        totals = {slug: Totals() for slug in TARGETS}
        batches0 = batch_metrics(server)
        slice_s = args.seconds / args.rounds
        for r in range(args.rounds):
            for slug in TARGETS[r % 2 :] + TARGETS[: r % 2]:
                if args.slice_warmup > 0:
                    load(slug, args.slice_warmup)  # not measured: see --slice-warmup
                s = load(slug, slice_s)
                totals[slug].add(s)
                print(
                    f"  round {r + 1}/{args.rounds} {slug:12} {s.requests / s.seconds:8.1f} req/s  "
                    f"other load {s.other_cpu_s / s.seconds:.2f} cores"
                    + (f"  errors {s.errors}" if any(s.errors.values()) else "")
                )
        batches1 = batch_metrics(server)
        runtime = http_json(server, "/v1/services/mlp-batched/runtime", key)["versions"][0]
    finally:
        server.stop()
    results = {slug: t.summary() for slug, t in totals.items()}
    sizes = histogram_summary(batches0, batches1, "shipyard_batch_size")
    results["mlp-batched"]["mean_batch_size"] = sizes.get("mean")
    results["mlp-batched"]["batches"] = sizes["count"]
    # in the server: each batch's model time, and how long its oldest call waited for it to start
    batched = results["mlp-batched"]
    batched["batch_time"] = histogram_summary(batches0, batches1, "shipyard_batch_seconds")
    batched["batch_wait"] = histogram_summary(batches0, batches1, "shipyard_batch_wait_seconds")
    results["mlp-batched"]["runtime_mean_batch_size_whole_run"] = runtime["mean_batch_size"]
    return results


def report(args: argparse.Namespace, model: dict[str, Any], results: dict[str, Any]) -> list[dict[str, Any]]:
    plain, batched = results["mlp-plain"], results["mlp-batched"]
    header = (
        f"{'target':12} {'conc.':>5} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'vs plain':>9} "
        f"{'mean batch':>11} {'server CPU µs/req':>18} {'other load':>11}"
    )
    print(f"\n{header}\n{'-' * len(header)}")
    for slug, conc in (("mlp-plain", args.plain_concurrency), ("mlp-batched", args.batched_concurrency)):
        t = results[slug]
        mean = t.get("mean_batch_size")
        print(
            f"{slug:12} {conc:5d} {t['rps']:9.1f} {t['p50_ms']:8.2f} {t['p99_ms']:8.2f} "
            f"{t['rps'] / plain['rps']:8.2f}x {f'{mean:.1f}' if mean else '-':>11} "
            f"{t['server_cpu_us_per_request']:18.0f} {t['other_load_cores']:6.2f} cores"
        )
        if any(t["errors"].values()):
            print(f"{'':12} errors: {t['errors']}")
    ratio = batched["rps"] / plain["rps"]
    bound = args.max_wait_ms + model["batch_ms"]
    errors = sum(sum(results[s]["errors"].values()) for s in TARGETS)
    return [
        {
            "target": f"throughput with batching >= {MIN_RATIO:g}x without",
            "measured": f"{ratio:.2f}x ({batched['rps']:.0f} vs {plain['rps']:.0f} req/s)",
            "pass": ratio >= MIN_RATIO,
        },
        {
            "target": f"p99 with batching <= max_wait + one batch of {args.max_batch}",
            "measured": f"{batched['p99_ms']:.1f} ms vs {args.max_wait_ms:g} + {model['batch_ms']:.1f} "
            f"= {bound:.1f} ms",
            "pass": batched["p99_ms"] <= bound,
        },
        {"target": "no errors (every call 200)", "measured": f"{errors} errors", "pass": errors == 0},
    ]


def saturation_note(args: argparse.Namespace, model: dict[str, Any], results: dict[str, Any]) -> str:
    """Why the p99 bound is tight at saturation: Little's law, and the batch a call may wait behind."""
    batched = results["mlp-batched"]
    little = args.clients / batched["rps"] * 1000
    two = args.max_wait_ms + 2 * model["batch_ms"]
    return (
        f"(closed loop: mean latency = clients / throughput = {little:.1f} ms with batching; a call that "
        f"finds every lane busy also waits for a batch ahead of it: max_wait + 2 batches = {two:.1f} ms)"
    )


def batch_note(model: dict[str, Any], results: dict[str, Any]) -> str:
    """The batches as the server saw them: model time against the same batch timed alone, and waits."""
    t, w = results["mlp-batched"]["batch_time"], results["mlp-batched"]["batch_wait"]
    if not t["count"]:
        return "(no batches in the measured slices)"
    return (
        f"(in the server, shipyard_batch_seconds: a batch's model time averaged {t['mean'] * 1000:.1f} ms, "
        f"p99 within {t['p99_le'] * 1000:g} ms, against {model['batch_ms']:.1f} ms for a full batch timed "
        f"alone; shipyard_batch_wait_seconds: the oldest call waited {w['mean'] * 1000:.1f} ms on average "
        f"for its batch to start, p99 within {w['p99_le'] * 1000:g} ms)"
    )


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--seconds", type=float, default=40.0, help="measured seconds per target")
    p.add_argument("--rounds", type=int, default=4, help="interleaved slices the seconds are cut into")
    p.add_argument("--warmup", type=float, default=5.0, help="warm-up seconds per target")
    p.add_argument("--clients", type=int, default=64, help="closed-loop clients (wrk connections)")
    p.add_argument(
        "--slice-warmup",
        type=float,
        default=1.0,
        help="unmeasured seconds of load before each slice (the first calls after the other target's "
        "slice can be slow on this VM)",
    )
    p.add_argument("--max-batch", type=int, default=32, help="policy: batching.max_batch_size")
    p.add_argument("--max-wait-ms", type=float, default=10.0, help="policy: batching.max_wait_ms")
    p.add_argument(
        "--plain-concurrency", type=int, default=os.cpu_count() or 1, help="max_concurrency without batching"
    )
    p.add_argument("--batched-concurrency", type=int, default=2, help="max_concurrency with batching")
    p.add_argument("--blas-threads", type=int, default=1, help="BLAS threads per model call")
    p.add_argument("--inputs", type=int, default=64, help="MLP input features")
    p.add_argument("--hidden", type=int, default=4096, help="MLP units per hidden layer")
    p.add_argument("--layers", type=int, default=3, help="MLP hidden layers")
    p.add_argument("--outputs", type=int, default=8, help="MLP classes")
    p.add_argument("--results", type=Path, default=BENCH / "results", help="where the JSON goes")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (server log, instance)")
    args = p.parse_args()
    for name in (
        "clients",
        "max_batch",
        "plain_concurrency",
        "batched_concurrency",
        "blas_threads",
        "rounds",
    ):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    for name in ("inputs", "hidden", "layers", "outputs"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be at least 1")
    if args.max_wait_ms < 0:
        p.error("--max-wait-ms must not be negative")
    if args.seconds / args.rounds < 1 or args.warmup < 1:
        p.error("each slice (seconds / rounds) and the warm-up must be at least 1 s")
    return args


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, interrupt)
    started = dt.datetime.now(dt.UTC)
    workdir = Path(tempfile.mkdtemp(prefix="shipyard-batching-bench-"))
    try:
        if shutil.which("wrk") is None:
            raise BenchError("wrk is not installed (Debian/Ubuntu: apt-get install wrk); it drives the load")
        info = machine()
        print(f"machine: {info['cpu']}, {info['cores']} cores, load average {' '.join(loadavg())}")
        model = time_model(args)
        dims = f"{args.inputs} -> {args.layers} x {args.hidden} -> {args.outputs}"
        print(
            f"model: MLP {dims}, float32, {model['weights_mb']:.0f} MB of weights, "
            f"{args.blas_threads} BLAS thread(s): 1 row {model['row_ms']:.2f} ms, {args.max_batch} rows "
            f"{model['batch_ms']:.2f} ms ({model['per_row_speedup']:.1f}x less per row)"
        )
        print(
            f"policy: without batching max_concurrency {args.plain_concurrency}; with batching "
            f"max_concurrency {args.batched_concurrency}, max_batch_size {args.max_batch}, "
            f"max_wait_ms {args.max_wait_ms:g}; {args.clients} clients; 1 worker process"
        )
        results = bench(args, workdir, model)
        checks = report(args, model, results)
        print(
            f"(mean batch: from shipyard_batch_size over the measured slices; the runtime API says "
            f"{results['mlp-batched']['runtime_mean_batch_size_whole_run']} over the whole run)"
        )
        print(saturation_note(args, model, results))
        print(batch_note(model, results))
        print(f"load average at the end: {' '.join(loadavg())}\n")
        print_verdicts(checks)
        save_results(
            args,
            "batching",
            started,
            machine=info,
            loadavg_at_end=loadavg(),
            policies=policies(args),
            model=model,
            results=results,
            verdicts=checks,
        )
        return 0  # a measurement: FAIL lines are results, not errors
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted; server stopped", file=sys.stderr)
        return 130
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
