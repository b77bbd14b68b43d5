"""Where a target of bench/invoke_overhead.py spends its time per request, from py-spy samples under load.

Sets up one target as the benchmark does (same model file, same instance, same environment), loads it
with the same wrk script, and samples it with py-spy for --duration seconds in the middle of the load.
Each sample stands for 1/rate seconds of one thread, so a function's samples turn into microseconds per
request:

    µs/request = samples with the function on the stack / rate / requests served in the window

By default only the thread holding the GIL is sampled (py-spy --gil): that time is what bounds a
one-process Python server's throughput, and it leaves out threads blocked in a wait or a syscall.
--all-threads samples every thread py-spy counts as running instead (leaves that only wait are dropped).
The server's own CPU time per request (from /proc) is printed next to it, to compare the totals.

    .venv/bin/python bench/profile_invoke.py --model noop
    .venv/bin/python bench/profile_invoke.py --model real --top 40
    .venv/bin/python bench/profile_invoke.py --target bare --model noop

Needs py-spy in the virtualenv (pip install py-spy) and ptrace rights over the server (root, or
kernel.yama.ptrace_scope = 0). py-spy samples without pausing the server (--nonblocking), which keeps
its cost to the server small; --blocking pauses it for each sample (exact stacks, slower server).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import joblib
from _server import BenchError, Server
from _wrk import Slice, lua_script, run_wrk
from invoke_models import NoopModel, build_real_model
from invoke_overhead import make_instance, make_servers

from shipyard.assistants.claims_triage import QUEUES, generate_claims, split_features

# Leaf frames of threads that wait (py-spy's idle detection misses some of them).
_WAITING = {"Condition.wait", "Event.wait", "Thread.join", "Queue.get", "SimpleQueue.get", "sleep", "select"}
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


# Stages of a request, each a function whose whole subtree it claims. A sample goes to the stage of the
# innermost such function on its stack; what no stage claims is the framework, uvicorn and the loop.
# Without --native, time in the garbage collector lands on whichever Python frame allocated when a
# collection started (often one that raises and catches an exception, such as an os.environ lookup).
STAGES: list[tuple[str, tuple[str, ...]]] = [
    ("garbage collection (seen with --native)", ("gc_collect_main (", "gc_collect_with_callback (")),
    ("shipper thread: spool -> database", ("Shipper._run (shipyard/",)),
    ("spool writer thread: write + fdatasync", ("Spool._run (shipyard/",)),
    ("request id (new_request_id)", ("new_id (shipyard/", "new_request_id (shipyard/")),
    ("schema validation (input, output)", ("SchemaValidator.errors (", "_check_output (shipyard/")),
    ("metrics.observe", ("observe (shipyard/monitoring/",)),
    ("spool.append: encode, enqueue, await", ("Spool.append (shipyard/",)),
    ("model call + output wrapping", ("EstimatorRuntime.predict", "predict_one (", "predict (bare_app")),
    (
        "model hop: _run (to a thread, timeout)",
        ("fail_after (anyio/", "fail_at (anyio/", "_run (shipyard/serving/"),
    ),
    ("thread hop: to_thread.run_sync", ("run_sync (anyio/to_thread", "run_in_threadpool (starlette/")),
    ("auth: Require + authenticate", ("Require.__call__ (shipyard/", "authenticate (shipyard/")),
    ("service config lookup", ("AppContext.service_config (shipyard/",)),
    ("invoke(): record, clock, outcome", ("invoke (shipyard/serving/service",)),
    ("invoke_service: body, orjson, response", ("invoke_service (shipyard/",)),
    (
        "routing: route matching",
        tuple(
            f"{n} ("
            for n in (
                "_IncludedRouter._match",
                "APIRouter._get_routes_version",
                "Route.matches",
                "APIRoute.matches",
                "APIRouter.matches",
                "_EffectiveRouteContext.matches",
            )
        ),
    ),
    ("FastAPI dependencies (other)", ("solve_dependencies (fastapi/",)),
    ("FastAPI serialize_response", ("serialize_response (fastapi/",)),
]
LEAF_STAGES = [("EdgeMiddleware (own frames)", "shipyard/web/middleware.py")]
REST = "framework, uvicorn, event loop (rest)"


def stage_of(frames: list[str]) -> str:
    for frame in reversed(frames):
        for stage, prefixes in STAGES:
            if frame.startswith(prefixes):
                return stage
    if frames:
        for stage, marker in LEAF_STAGES:
            if marker in frames[-1]:
                return stage
    return REST


def frame_name(frame: str) -> str:
    m = _FRAME.match(frame)
    return f"{m['func']} ({m['file']})" if m else frame


def parse_raw(path: Path) -> tuple[Counter[str], Counter[str], Counter[str], Counter[str], int]:
    """Samples per function (inclusive, self), per thread, per stage, and in all."""
    stages: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        thread = frames[0] if frames and frames[0].startswith(("thread", "process")) else "?"
        frames = [frame_name(f) for f in frames if not f.startswith(("thread", "process"))]
        if frames and frames[-1].split(" (")[0] in _WAITING:
            continue
        total += count
        threads[thread] += count
        for f in set(frames):
            inclusive[f] += count
        if frames:
            own[frames[-1]] += count
        stages[stage_of(frames)] += count
    return inclusive, own, threads, stages, total


def report(raw: Path, rps: float, seconds: float, rate: int, top: int, headline: str) -> None:
    """Print the samples of `raw` as microseconds per request: by stage, by thread, by function."""
    inclusive, own, threads, stages, total = parse_raw(raw)
    scale = 1e6 / rate / (rps * seconds)  # one sample, in µs per request
    print(f"\n{headline}; {total} samples = {total * scale:.0f} µs per request")
    print("\nby stage of the request:")
    for name, n in stages.most_common():
        print(f"  {n * scale:8.1f} µs/req {n / total:6.1%}  {name}")
    print("\nby thread:")
    for name, n in threads.most_common(8):
        print(f"  {n * scale:8.1f} µs/req {n / total:6.1%}  {name}")
    print(f"\ntop {top} functions by inclusive samples:")
    print(f"  {'µs/req':>8} {'share':>6} {'self µs':>8}  function (file)")
    for name, n in inclusive.most_common(top):
        print(f"  {n * scale:8.1f} {n / total:6.1%} {own[name] * scale:8.1f}  {name}")
    print(f"\ntop {top} functions by self samples:")
    for name, n in own.most_common(top):
        print(f"  {n * scale:8.1f} {n / total:6.1%}  {name}")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--target", choices=("bare", "shipyard"), default="shipyard")
    p.add_argument("--model", choices=("real", "noop"), default="noop")
    p.add_argument("--duration", type=float, default=30.0, help="seconds sampled (30)")
    p.add_argument("--rate", type=int, default=100, help="samples per second (100)")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--all-threads", action="store_true", help="sample every running thread, not the GIL's")
    p.add_argument("--blocking", action="store_true", help="pause the server for each sample")
    p.add_argument(
        "--native",
        action="store_true",
        help="include C frames (shows garbage collection); implies --blocking",
    )
    p.add_argument("--top", type=int, default=30)
    p.add_argument("--model-ms", type=float, default=2.5)
    p.add_argument("--keep", action="store_true", help="keep the temp dir (raw samples, logs)")
    p.add_argument(
        "--raw", type=Path, help="only analyse this py-spy raw file (with --rps, --duration, --rate)"
    )
    p.add_argument("--rps", type=float, help="with --raw: the requests/s while it was sampled")
    args = p.parse_args()
    if args.raw is not None and args.rps is None:
        p.error("--raw needs --rps")
    return args


def main() -> int:
    args = parse_args()
    if args.raw is not None:
        report(args.raw, args.rps, args.duration, args.rate, args.top, f"{args.raw}: {args.rps:g} req/s")
        return 0
    py_spy = Path(sys.executable).parent / "py-spy"
    py_spy_cmd = str(py_spy) if py_spy.exists() else shutil.which("py-spy")
    if py_spy_cmd is None:
        print("error: py-spy is not installed (pip install py-spy)", file=sys.stderr)
        return 2

    workdir = Path(tempfile.mkdtemp(prefix="shipyard-invoke-profile-"))
    server: Server | None = None
    try:
        features, labels = split_features(generate_claims(4000))
        row = features[0]
        if args.model == "real":
            model, trees, cost = build_real_model(features, labels, args.model_ms)
            print(f"real model: {trees} trees, {cost:.2f} ms CPU per row")
        else:
            model = NoopModel(QUEUES)
        model_path = workdir / "model.joblib"
        joblib.dump(model, model_path)
        key = ""
        if args.target == "shipyard":
            key = make_instance(workdir / "shipyard", model_path, f"profile: {args.model}")
        script = workdir / "request.lua"
        script.write_text(lua_script(json.dumps({"inputs": row}), key))
        (server,) = make_servers([args.target], model_path, workdir / "shipyard", workdir, Path("."))
        server.start()
        server.wait_healthy(120)
        assert server.proc is not None
        run_wrk(server, script, 5, args.connections, 1)  # warm-up

        # The load runs a little longer than the sampling on both sides, so every sample is under load.
        load: list[Slice] = []
        lead = 2.0
        loader = threading.Thread(
            target=lambda: load.append(
                run_wrk(server, script, args.duration + 2 * lead + 1, args.connections, 1)  # type: ignore[arg-type]
            )
        )
        loader.start()
        time.sleep(lead)
        raw = workdir / "samples.txt"
        argv = [py_spy_cmd, "record", "-p", str(server.proc.pid), "-d", str(round(args.duration))]
        argv += ["-r", str(args.rate), "-f", "raw", "-t", "-o", str(raw)]
        argv += [] if args.all_threads else ["--gil"]
        argv += [] if args.blocking or args.native else ["--nonblocking"]  # native stacks need pauses
        argv += ["--native"] if args.native else []
        cpu0, t0 = server.cpu_seconds(), time.monotonic()
        spy = subprocess.run(argv, capture_output=True, text=True, check=False)
        cpu1, t1 = server.cpu_seconds(), time.monotonic()
        loader.join()
        if spy.returncode != 0 or not raw.exists():
            raise BenchError(f"py-spy failed: {spy.stderr.strip()}")
        if not load:
            raise BenchError("the load generator failed")
        rps = load[0].requests / load[0].seconds
        cpu_us = (cpu1 - cpu0) / (t1 - t0) / rps * 1e6
        mode = "every running thread" if args.all_threads else "the thread holding the GIL"
        report(
            raw,
            rps,
            args.duration,
            args.rate,
            args.top,
            f"{args.target}, {args.model} model, {args.connections} connections: {rps:.0f} req/s while "
            f"sampled, server CPU {cpu_us:.0f} µs per request (/proc); sampled {mode}",
        )
        if "behind" in spy.stderr:
            print(f"note: py-spy fell behind its sampling rate: {spy.stderr.strip().splitlines()[-1]}")
        return 0
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        if server is not None:
            server.stop()
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
