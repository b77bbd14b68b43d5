"""Overload: offer twice the measured capacity and check that Shipyard sheds instead of failing.

One ``shipyard serve`` worker process (lanes and their queues are per process, so one process shows
the policy exactly; several workers would each shed on their own) on a fresh SQLite instance, with one
service whose model sleeps --model-ms per call (serving_models.SleepModel). A sleeping model holds no
CPU and no GIL, so the capacity is what the admission policy allows (max_concurrency / service time)
rather than what two shared cores happen to have left beside the server and the load generator; what
is measured is the admission control, and the CPU cost of turning calls away is still real.

The policy is sized the way an operator would: 4 calls at once (max_concurrency), and a queue of 8
(max_queue), which drains in about 40 ms at capacity: within the default queue wait (half the SLO), so
a call that could not be served in time is refused at once rather than after waiting; --max-queue 32 is
Shipyard's default, where calls are shed only after waiting max_queue_wait_ms.

Phase 1, capacity: closed-loop clients (1, 2, 4, ...) for --probe-seconds each; the capacity is the
highest served rate of a step whose calls were all answered 200 with p99 within the service's SLO.

Phase 2, overload: open-loop calls at --factor x capacity for --seconds (60 for the recorded figure):
each call is sent at its planned instant whatever happened to the others, with its own request id;
status, latency from the planned instant and Retry-After are kept for every call.

Then the recorder check: after the spool has shipped everything, every call that got an answer must
be in the predictions table exactly once with the outcome it was told (served or shed), none missing,
none extra. Targets, PASS/FAIL each (the exit code is 0 either way; 2 on a setup error):

    only 200 or 503 shed with Retry-After, nothing else;
    p99 latency of admitted (200) calls within the SLO;
    zero lost, duplicated or unexpected prediction records.

    .venv/bin/python bench/overload.py                 # the recorded run: 60 s of overload
    .venv/bin/python bench/overload.py --seconds 10    # while developing

Raw results go to bench/results/overload-<time>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import signal
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _loadgen import Call, Target, closed_loop, open_loop, percentile, run, schedule
from _server import (
    BENCH,
    BenchError,
    Server,
    base_env,
    busy_cpu_seconds,
    instance_session,
    interrupt,
    loadavg,
    machine,
    new_instance,
    print_verdicts,
    save_results,
    shipyard_server,
)

SLUG = "overload-bench"
INPUT_SCHEMA = {
    "type": "object",
    "properties": {"x": {"type": "number"}},
    "required": ["x"],
    "additionalProperties": False,
}


# -- setup -------------------------------------------------------------------------------------------


def policy_from(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "concurrency": {
            "max_concurrency": args.concurrency,
            "max_queue": args.max_queue,
            "max_queue_wait_ms": args.queue_wait_ms,
        }
    }


def make_instance(home: Path, args: argparse.Namespace) -> str:
    """A fresh instance serving the sleep model under the policy; returns a key to invoke and read it."""
    from shipyard.instance import issue_key
    from shipyard.registry import service as registry
    from shipyard.registry.schemas import ServiceCreate, VersionCreate
    from shipyard.serving.policy import RuntimePolicy

    settings = new_instance(home)
    with instance_session(settings) as (session, actor, store):
        registry.create_service(
            session,
            actor,
            ServiceCreate(
                slug=SLUG,
                name="Overload benchmark",
                owner="admin",
                input_schema=INPUT_SCHEMA,
                latency_slo_ms=args.slo_ms,
                timeout_ms=args.timeout_ms,
                policy=RuntimePolicy.model_validate(policy_from(args)),
            ),
        )
        registry.register_version(
            session,
            actor,
            store,
            SLUG,
            VersionCreate(
                loader="callable",
                entrypoint="serving_models:SleepModel",
                config={"init_kwargs": {"ms": args.model_ms}},
                description=f"sleeps {args.model_ms:g} ms",
                make_live=True,
            ),
        )
    return issue_key(settings, "admin", "bench", ["consumer", "analyst"])


def get_json(server: Server, path: str, key: str) -> Any:
    request = urllib.request.Request(server.url + path, headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.loads(resp.read())


def shed_by_reason(server: Server) -> dict[str, float]:
    """shipyard_shed_total for this service, by reason, from /metrics."""
    with urllib.request.urlopen(server.url + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("shipyard_shed_total{") and f'service="{SLUG}"' in line:
            labels, value = line.rsplit(" ", 1)
            reason = labels.split('reason="', 1)[1].split('"', 1)[0]
            out[reason] = out.get(reason, 0.0) + float(value)
    return out


def wait_shipped(server: Server, key: str, timeout_s: float = 120.0) -> int:
    """Wait until the spool has shipped every record to the database; returns the records it had left."""
    deadline = time.monotonic() + timeout_s
    backlog = int(get_json(server, f"/v1/services/{SLUG}/runtime", key)["recorder"]["backlog_records"])
    first = backlog
    while backlog and time.monotonic() < deadline:
        time.sleep(0.25)
        backlog = int(get_json(server, f"/v1/services/{SLUG}/runtime", key)["recorder"]["backlog_records"])
    if backlog:
        raise BenchError(f"the spool still holds {backlog} records after {timeout_s:g} s:\n{server.tail()}")
    return first


def recorded(home: Path) -> tuple[dict[str, str], int]:
    """request_id -> outcome of this service's prediction rows, and how many request ids occur twice."""
    from sqlalchemy import func, select

    from shipyard.core.config import Settings
    from shipyard.db.engine import make_engine
    from shipyard.serving.models import Prediction

    engine = make_engine(Settings(home=home).database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(Prediction.request_id, Prediction.outcome).where(Prediction.service == SLUG)
            ).all()
            twice = conn.execute(
                select(func.count()).select_from(
                    select(Prediction.request_id)
                    .group_by(Prediction.request_id)
                    .having(func.count() > 1)
                    .subquery()
                )
            ).scalar_one()
    finally:
        engine.dispose()
    return {r.request_id: r.outcome for r in rows}, int(twice)


# -- phases ------------------------------------------------------------------------------------------


def body(i: int) -> bytes:
    return b'{"inputs": {"x": %d}}' % i


def summarise(calls: list[Call], seconds: float) -> dict[str, Any]:
    ok = [c.latency_ms for c in calls if c.status == 200]
    shed = sum(1 for c in calls if is_shed(c))
    other = Counter(f"{c.status} {c.code}" for c in calls if c.status != 200 and not is_shed(c))
    return {
        "calls": len(calls),
        "served": len(ok),
        "served_per_s": len(ok) / seconds,
        "p50_ms": percentile(ok, 50),
        "p95_ms": percentile(ok, 95),
        "p99_ms": percentile(ok, 99),
        "max_ms": max(ok, default=float("nan")),
        "shed": shed,
        "other": dict(other),
    }


def is_shed(call: Call) -> bool:
    return call.status == 503 and call.code == "shed"


def probe_capacity(target: Target, args: argparse.Namespace, ledger: list[Call]) -> dict[str, Any]:
    steps = []
    best: dict[str, Any] | None = None
    print(f"\nphase 1: capacity, closed-loop clients, {args.probe_seconds:g} s per step")
    print(f"{'clients':>8} {'served/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'shed':>6} {'other':>6}  within SLO")
    for clients in args.probe_clients:
        calls = run(closed_loop(target, body, clients, args.probe_seconds, ids(f"p1c{clients}")))
        ledger.extend(calls)
        step = {"clients": clients, **summarise(calls, args.probe_seconds)}
        step["ok"] = step["p99_ms"] <= args.slo_ms and not step["shed"] and not step["other"]
        steps.append(step)
        print(
            f"{clients:8d} {step['served_per_s']:9.1f} {step['p50_ms']:8.1f} {step['p99_ms']:8.1f} "
            f"{step['shed']:6d} {sum(step['other'].values()):6d}  {'yes' if step['ok'] else 'no'}"
        )
        if not step["ok"]:
            break
        if best is None or step["served_per_s"] > best["served_per_s"]:
            best = step
    if best is None:
        raise BenchError(f"even one client misses the {args.slo_ms} ms SLO or is refused: {steps[0]}")
    return {"capacity_per_s": best["served_per_s"], "at_clients": best["clients"], "steps": steps}


def overload(target: Target, server: Server, rate: float, args: argparse.Namespace) -> dict[str, Any]:
    offsets = schedule(rate, args.seconds, args.arrivals, seed=args.seed)
    print(f"\nphase 2: open loop at {rate:.1f} calls/s ({args.arrivals}) for {args.seconds:g} s")
    cpu0, busy0, t0 = server.cpu_seconds(), busy_cpu_seconds(), time.monotonic()
    calls, connections = run(open_loop(target, body, offsets, ids("p2")))
    cpu1, busy1, t1 = server.cpu_seconds(), busy_cpu_seconds(), time.monotonic()
    summary = summarise(calls, args.seconds)
    shed = [c for c in calls if is_shed(c)]
    sends = [c.sent for c in calls]
    by_kind: dict[str, list[float]] = {}
    for c in shed:
        by_kind.setdefault(shed_kind(c.detail), []).append(c.latency_ms)
    return {
        **summary,
        "planned_rate": rate,
        "offered_per_s": len(calls) / max(max(sends) - min(sends), 1e-9),
        "shed_with_retry_after": sum(1 for c in shed if c.retry_after),
        "shed_latency_ms": {
            kind: {"n": len(v), "p50": percentile(v, 50), "p99": percentile(v, 99)}
            for kind, v in sorted(by_kind.items())
        },
        "lag_p99_ms": percentile([c.lag_ms for c in calls], 99),
        "lag_max_ms": max(c.lag_ms for c in calls),
        "connections": connections,
        "server_cpu_us_per_call": (cpu1 - cpu0) / len(calls) * 1e6,
        "other_load_cores": max(0.0, (busy1 - busy0) - (cpu1 - cpu0)) / (t1 - t0),
        "_calls": calls,
    }


def shed_kind(detail: str) -> str:
    """Why a call was shed, from the problem's detail (the 503 body carries no reason field)."""
    if "at capacity" in detail:
        return "queue full"
    if "no slot freed" in detail:
        return "queue wait"
    return "deadline" if "deadline" in detail else "other"


def ids(prefix: str) -> Callable[[int], str]:
    """Request ids unique to this run and phase, so the recorder check can tell every call apart."""
    run_id = f"{time.time_ns() // 1_000_000 % 10**9:09d}"
    return lambda i: f"ovl-{run_id}-{prefix}-{i:07d}"


def check_records(ledger: list[Call], rows: dict[str, str], twice: int) -> dict[str, Any]:
    answered = [c for c in ledger if c.status != 0]
    missing = [c.request_id for c in answered if c.request_id not in rows]
    sent = {c.request_id for c in ledger}
    unexpected = [rid for rid in rows if rid not in sent]
    # What the caller was told: the outcome in a 200 body, or shed; other answers are counted elsewhere.
    told = {
        c.request_id: c.code if c.status == 200 else "shed" for c in answered if c.status == 200 or is_shed(c)
    }
    mismatched = [
        (rid, outcome, rows[rid]) for rid, outcome in told.items() if rid in rows and rows[rid] != outcome
    ]
    return {
        "answered": len(answered),
        "rows": len(rows),
        "missing": len(missing),
        "duplicated": twice,
        "unexpected": len(unexpected),
        "outcome_mismatches": len(mismatched),
        "unanswered": len(ledger) - len(answered),
        "unanswered_recorded": sum(1 for c in ledger if c.status == 0 and c.request_id in rows),
        "examples": {"missing": missing[:5], "unexpected": unexpected[:5], "mismatched": mismatched[:5]},
    }


# -- report ------------------------------------------------------------------------------------------


def report(
    args: argparse.Namespace, cap: dict[str, Any], ovl: dict[str, Any], rec: dict[str, Any]
) -> list[dict[str, Any]]:
    print(f"\ncapacity: {cap['capacity_per_s']:.1f} calls/s (at {cap['at_clients']} closed-loop clients)")
    print(f"\n{'overload':34} value")
    print("-" * 60)
    other = sum(ovl["other"].values())
    rows = [
        ("planned rate", f"{ovl['planned_rate']:.1f} calls/s ({args.factor:g}x capacity)"),
        ("offered (as sent)", f"{ovl['offered_per_s']:.1f} calls/s, {ovl['calls']} calls"),
        (
            "served (200)",
            f"{ovl['served_per_s']:.1f} calls/s "
            f"({ovl['served_per_s'] / cap['capacity_per_s']:.2f}x capacity)",
        ),
        ("shed (503, Retry-After)", f"{ovl['shed']} ({ovl['shed_with_retry_after']} with Retry-After)"),
        ("any other status", f"{other} {ovl['other'] or ''}"),
        (
            "admitted p50 / p95 / p99",
            f"{ovl['p50_ms']:.1f} / {ovl['p95_ms']:.1f} / {ovl['p99_ms']:.1f} ms (SLO {args.slo_ms} ms)",
        ),
        ("admitted max", f"{ovl['max_ms']:.1f} ms"),
    ]
    for kind, s in ovl["shed_latency_ms"].items():
        rows.append((f"shed, {kind}: p50 / p99", f"{s['p50']:.1f} / {s['p99']:.1f} ms ({s['n']} calls)"))
    rows += [
        (
            "generator lag p99 / max",
            f"{ovl['lag_p99_ms']:.2f} / {ovl['lag_max_ms']:.2f} ms ({ovl['connections']} connections)",
        ),
        ("server CPU per call", f"{ovl['server_cpu_us_per_call']:.0f} µs"),
        ("other load on the machine", f"{ovl['other_load_cores']:.2f} cores"),
    ]
    for name, value in rows:
        print(f"{name:34} {value}")
    print(f"\n{'recorder check':34} value")
    print("-" * 60)
    for name in (
        "answered",
        "rows",
        "missing",
        "duplicated",
        "unexpected",
        "outcome_mismatches",
        "unanswered",
    ):
        print(f"{name.replace('_', ' '):34} {rec[name]}")
    if any(rec["examples"].values()):
        print(f"{'examples':34} {rec['examples']}")
    bad_shed = ovl["shed"] - ovl["shed_with_retry_after"]
    return [
        {
            "target": "only 200 or 503 shed with Retry-After",
            "measured": f"{ovl['served']} served, {ovl['shed']} shed, {other} other, "
            f"{bad_shed} shed without Retry-After",
            "pass": other == 0 and bad_shed == 0,
        },
        {
            "target": f"admitted p99 <= SLO ({args.slo_ms} ms)",
            "measured": f"{ovl['p99_ms']:.1f} ms",
            "pass": ovl["p99_ms"] <= args.slo_ms,
        },
        {
            "target": "every answered call recorded once, none extra",
            "measured": f"{rec['answered']} answered, {rec['rows']} rows, {rec['missing']} missing, "
            f"{rec['duplicated']} duplicated, {rec['unexpected']} unexpected, "
            f"{rec['outcome_mismatches']} with another outcome",
            "pass": not (
                rec["missing"] or rec["duplicated"] or rec["unexpected"] or rec["outcome_mismatches"]
            ),
        },
    ]


# -- main --------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--seconds", type=float, default=60.0, help="overload phase length (the figure: 60)")
    p.add_argument("--factor", type=float, default=2.0, help="offered rate as a multiple of capacity")
    p.add_argument("--model-ms", type=float, default=20.0, help="the model's service time (a sleep)")
    p.add_argument("--slo-ms", type=int, default=100, help="the service's latency_slo_ms")
    p.add_argument("--timeout-ms", type=int, default=2000, help="the service's timeout_ms")
    p.add_argument("--concurrency", type=int, default=4, help="policy: concurrency.max_concurrency")
    p.add_argument(
        "--max-queue",
        type=int,
        default=8,
        help="policy: concurrency.max_queue; 8 calls drain in about 40 ms at the default capacity (about "
        "190 calls/s), within half the SLO, so what cannot be served in time is refused at once; "
        "Shipyard's default is 32",
    )
    p.add_argument(
        "--queue-wait-ms",
        type=int,
        default=None,
        help="policy: concurrency.max_queue_wait_ms (unset: Shipyard's default, half the SLO)",
    )
    p.add_argument("--probe-seconds", type=float, default=5.0, help="seconds per capacity step")
    p.add_argument("--probe-clients", default="1,2,4,8,16,32,64", help="closed-loop clients per step")
    p.add_argument("--arrivals", choices=("uniform", "poisson"), default="uniform", help="open-loop spacing")
    p.add_argument("--seed", type=int, default=0, help="seed of the Poisson arrivals")
    p.add_argument("--results", type=Path, default=BENCH / "results", help="where the JSON goes")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (server log, instance)")
    args = p.parse_args()
    try:
        args.probe_clients = sorted({int(n) for n in args.probe_clients.split(",") if n.strip()})
    except ValueError:
        p.error(f"--probe-clients must be comma-separated integers, got {args.probe_clients!r}")
    if not args.probe_clients or args.probe_clients[0] < 1:
        p.error("--probe-clients needs at least one positive number")
    for name in ("seconds", "factor", "model_ms", "probe_seconds", "slo_ms", "timeout_ms", "concurrency"):
        if not getattr(args, name) > 0:
            p.error(f"--{name.replace('_', '-')} must be positive")
    if args.max_queue < 0 or (args.queue_wait_ms is not None and args.queue_wait_ms < 1):
        p.error("--max-queue must be at least 0 and --queue-wait-ms at least 1")
    return args


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, interrupt)
    started = dt.datetime.now(dt.UTC)
    workdir = Path(tempfile.mkdtemp(prefix="shipyard-overload-bench-"))
    server: Server | None = None
    try:
        info = machine()
        print(
            f"machine: {info['cpu']}, {info['cores']} cores, "
            f"load average {' '.join(info['loadavg_at_start'])}"
        )
        home = workdir / "shipyard"
        key = make_instance(home, args)
        server = shipyard_server(home, workdir, base_env())
        server.start()
        server.wait_healthy(120)
        wait = args.queue_wait_ms or f"default = {max(1, args.slo_ms // 2)}"
        print(
            f"service: sleep model {args.model_ms:g} ms, SLO {args.slo_ms} ms; policy max_concurrency "
            f"{args.concurrency}, max_queue {args.max_queue}, max_queue_wait_ms {wait}; 1 worker process"
        )
        target = Target("127.0.0.1", server.port, f"/v1/services/{SLUG}/invoke", key)
        ledger: list[Call] = []
        warm = run(closed_loop(target, body, args.concurrency, 2.0, ids("warm")))
        ledger.extend(warm)
        if not warm or any(c.status != 200 for c in warm):
            bad = next((c for c in warm if c.status != 200), None)
            raise BenchError(f"the warm-up calls failed: {bad}\n{server.tail()}")
        cap = probe_capacity(target, args, ledger)
        time.sleep(1.0)  # let the queue empty and the shipper catch up between phases
        drain_ms = args.max_queue / cap["capacity_per_s"] * 1000
        wait_ms = args.queue_wait_ms or max(1, args.slo_ms // 2)
        print(
            f"a full queue ({args.max_queue}) drains in {drain_ms:.0f} ms at capacity; "
            f"max_queue_wait_ms {wait_ms}: queued calls are shed "
            + ("when the queue is full" if drain_ms <= wait_ms else "after waiting, before the queue fills")
        )
        rate = args.factor * cap["capacity_per_s"]
        ovl = overload(target, server, rate, args)
        ledger.extend(ovl.pop("_calls"))
        ovl["shed_metrics_by_reason"] = shed_by_reason(server)
        backlog = wait_shipped(server, key)
        print(f"\nrecorder: {backlog} records were still in the spool when the load stopped; all shipped")
        server.stop()
        rows, twice = recorded(home)
        rec = check_records(ledger, rows, twice)
        checks = report(args, cap, ovl, rec)
        print(f"(shed by reason, from /metrics over the whole run: {ovl['shed_metrics_by_reason']})")
        print(f"load average at the end: {' '.join(loadavg())}\n")
        print_verdicts(checks)
        save_results(
            args,
            "overload",
            started,
            machine=info,
            loadavg_at_end=loadavg(),
            policy=policy_from(args),
            capacity=cap,
            overload=ovl,
            records=rec,
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
        if server is not None:
            server.stop()
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
