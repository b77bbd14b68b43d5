"""Invoke overhead: the same scikit-learn model served three ways, under the same load.

Targets, each one worker process on loopback, started with the same environment (one BLAS/OpenMP
thread, bench/ on PYTHONPATH):

    bare      a hand-written FastAPI endpoint (bench/bare_app.py): parse the row, call the model. A plain
              ``def`` endpoint, so the model runs in FastAPI's threadpool, as in Shipyard. Served by
              uvicorn with its defaults (uvloop + httptools), access log off. The baseline.
    bentoml   a BentoML service (bench/bento_service.py) from its own virtualenv (bench/.venv-bentoml),
              ``bentoml serve`` with one worker, access log off.
    shipyard  ``shipyard serve --workers 1`` on a fresh instance: the full invoke path (API key auth,
              JSON Schema validation, the prediction recorded to the spool with fsync, metrics).

Models, one pickled joblib file shared by the three targets:

    real      DictVectorizer + StandardScaler + RandomForest, with the tree count calibrated here so one
              single-row predict_proba costs about --model-ms of CPU (2.5 ms by default).
    noop      returns a constant: what is left is the serving overhead alone.

Load: ``wrk`` from a separate process, --connections connections, a Lua script that sends the same
JSON body ({"inputs": <a claims-triage row>}) and the same Authorization header to every target. Per
model: a --warmup run for each target, then --duration seconds measured per target, cut into --rounds
slices run in rotating order (bare, bentoml, shipyard; bentoml, shipyard, bare; ...), so load from
other processes on the machine falls on all targets alike. Latency percentiles are exact, from wrk's
full histograms merged across slices. The server CPU column is the CPU time of the server's processes
(all threads) per request, which other load on the machine does not inflate.

    .venv/bin/python bench/invoke_overhead.py                   # 20 s per target and model
    .venv/bin/python bench/invoke_overhead.py --duration 60 --rounds 6 --models real

Needs wrk (apt-get install wrk) and, for the bentoml target, bench/.venv-bentoml (see bench/README.md).
Raw results go to bench/results/invoke_overhead-<time>.json.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
from invoke_models import NoopModel, build_real_model, per_row_cost_ms

from shipyard.assistants.claims_triage import (
    CLAIMS_TRIAGE,
    INPUT_SCHEMA,
    OUTPUT_SCHEMA,
    QUEUES,
    generate_claims,
    split_features,
)

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
TARGETS = ("bare", "bentoml", "shipyard")
MODELS = ("real", "noop")
SLUG = CLAIMS_TRIAGE["slug"]
PATHS = {"bare": "/predict", "bentoml": "/predict", "shipyard": f"/v1/services/{SLUG}/invoke"}
# How the bare endpoint calls the model (see bench/bare_app.py): its route for each --bare choice.
BARE_ROUTES = {"def": "/predict", "async": "/predict-async", "executor": "/predict-executor"}
HEALTH = {"bare": "/healthz", "bentoml": "/readyz", "shipyard": "/healthz"}
# Targets, checked at the end of the run.
MIN_THROUGHPUT_RATIO = 0.7  # Shipyard req/s over bare req/s, real model
MAX_P99_EXTRA_MS = 5.0  # Shipyard p99 minus bare p99, no-op model
CLK_TCK = os.sysconf("SC_CLK_TCK")
GRID = 2000  # quantiles wrk reports per run

LUA = """\
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = {auth}
{delay}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH summary %d %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    e.connect, e.read, e.write, e.status, e.timeout))
  -- The latency distribution as its quantile function at the midpoints of a 0.05 % grid (wrk 4.1 cannot
  -- index its histogram from Lua): enough to merge slices and read p50 and p99 to a twentieth of a percent.
  for i = 1, {grid} do
    io.write(string.format("BENCH q %d\\n", latency:percentile((i - 0.5) * 100 / {grid})))
  end
end
"""


class BenchError(Exception):
    """A setup or run failure, reported as one line."""


# -- servers -----------------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    port: int
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("wb") as fh:
            # A session of its own: Ctrl-C in the terminal does not reach it, and stop() ends all of it.
            self.proc = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_healthy(self, timeout_s: float) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(
                    f"{self.name} exited with {self.proc.returncode} while starting:\n{self.tail()}"
                )
            with contextlib.suppress(OSError, urllib.error.URLError):
                with urllib.request.urlopen(self.url + HEALTH[self.name], timeout=2) as resp:
                    if resp.status == 200:
                        return
            time.sleep(0.25)
        raise BenchError(
            f"{self.name} did not answer {HEALTH[self.name]} within {timeout_s:g} s:\n{self.tail()}"
        )

    def processes(self) -> dict[int, list[str]]:
        """The server and all its descendants (BentoML's worker runs in a session of its own): pid -> the
        fields of /proc/pid/stat from field 3 (state) on."""
        assert self.proc is not None
        table: dict[int, list[str]] = {}
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    stat = Path(entry.path, "stat").read_text()
                    table[int(entry.name)] = stat[stat.rfind(")") + 2 :].split()
        tree = {self.proc.pid} & table.keys()
        grew = True
        while grew:
            children = {pid for pid, f in table.items() if int(f[1]) in tree} - tree
            tree |= children
            grew = bool(children)
        return {pid: table[pid] for pid in tree}

    def cpu_seconds(self) -> float:
        """User + system CPU of the server's processes, all their threads included."""
        return sum(int(f[11]) + int(f[12]) for f in self.processes().values()) / CLK_TCK

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        started = {pid: f[19] for pid, f in self.processes().items()}  # field 22: start time
        for pid in started:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=15)
        for pid, start in started.items():  # whatever is left of them, and only them
            with contextlib.suppress(OSError):
                stat = Path(f"/proc/{pid}/stat").read_text()
                if stat[stat.rfind(")") + 2 :].split()[19] == start:
                    os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def base_env(model_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = "1"  # one process, one model thread pool: no OpenMP team fighting the server's threads
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(BENCH), env.get("PYTHONPATH", "")) if p)
    env["BENCH_MODEL"] = str(model_path)
    env.pop("VIRTUAL_ENV", None)
    return env


def make_servers(
    targets: list[str], model_path: Path, home: Path, workdir: Path, bento_venv: Path
) -> list[Server]:
    env = base_env(model_path)
    venv_bin = Path(sys.executable).parent
    servers = []
    for name in targets:
        port = free_port()
        if name == "bare":
            argv = [
                sys.executable,
                "-m",
                "uvicorn",
                "bare_app:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ]
            argv += ["--workers", "1", "--log-level", "warning", "--no-access-log"]
            server_env = env
        elif name == "bentoml":
            argv = [str(bento_venv / "bin" / "bentoml"), "serve", "bento_service:Claims"]
            argv += ["--host", "127.0.0.1", "--port", str(port)]
            server_env = env
        else:
            argv = [str(venv_bin / "shipyard"), "serve", "--port", str(port), "--workers", "1"]
            argv += ["--log-level", "warning"]
            server_env = {**env, "SHIPYARD_HOME": str(home)}
        servers.append(Server(name, argv, server_env, BENCH, port, workdir / f"{name}.log"))
    return servers


# -- Shipyard instance -------------------------------------------------------------------------------


def make_instance(home: Path, model_path: Path, description: str) -> str:
    """A fresh instance with the claims-triage service serving `model_path` live; returns a consumer key."""
    from shipyard.audit.service import Actor
    from shipyard.core.config import Settings
    from shipyard.db.engine import make_engine
    from shipyard.db.session import make_sessionmaker, unit_of_work
    from shipyard.instance import init_instance, issue_key
    from shipyard.registry import service as registry
    from shipyard.registry.artifacts import ArtifactStore
    from shipyard.registry.schemas import ServiceCreate, VersionCreate

    settings = init_instance(Settings(home=home), examples=False).settings
    engine = make_engine(settings.database_url)
    actor = Actor.system("bench")
    try:
        with unit_of_work(make_sessionmaker(engine)) as session:
            registry.create_service(
                session,
                actor,
                ServiceCreate(
                    **CLAIMS_TRIAGE,
                    owner="admin",
                    input_schema=INPUT_SCHEMA,
                    output_schema=OUTPUT_SCHEMA,
                    latency_slo_ms=200,
                    timeout_ms=2000,
                ),
            )
            # The very file the other two targets load (register_object would pickle it again).
            registry.register_version(
                session,
                actor,
                ArtifactStore(settings.artifacts_dir),
                SLUG,
                VersionCreate(
                    loader="joblib", returns_confidence=True, description=description, make_live=True
                ),
                model_path,
            )
    finally:
        engine.dispose()
    return issue_key(settings, "admin", "bench", ["consumer"])


# -- load --------------------------------------------------------------------------------------------


@dataclass
class Slice:
    requests: int
    seconds: float
    errors: dict[str, int]
    histogram: dict[int, float]  # microseconds -> requests (weights of the quantile grid)
    server_cpu_s: float
    wrk_cpu_s: float
    other_cpu_s: float  # CPU used on the machine by everything but the server and wrk


@dataclass
class Totals:
    slices: list[Slice] = field(default_factory=list)

    def add(self, s: Slice) -> None:
        self.slices.append(s)

    def summary(self) -> dict[str, Any]:
        requests = sum(s.requests for s in self.slices)
        seconds = sum(s.seconds for s in self.slices)
        merged: dict[int, float] = {}
        for s in self.slices:
            for us, n in s.histogram.items():
                merged[us] = merged.get(us, 0) + n
        errors: dict[str, int] = {}
        for s in self.slices:
            for k, v in s.errors.items():
                errors[k] = errors.get(k, 0) + v
        return {
            "requests": requests,
            "seconds": seconds,
            "rps": requests / seconds if seconds else 0.0,
            "p50_ms": percentile(merged, 50) / 1e3,
            "p90_ms": percentile(merged, 90) / 1e3,
            "p99_ms": percentile(merged, 99) / 1e3,
            "max_ms": max(merged, default=0) / 1e3,
            "server_cpu_us_per_request": sum(s.server_cpu_s for s in self.slices) / requests * 1e6
            if requests
            else 0.0,
            "other_load_cores": sum(s.other_cpu_s for s in self.slices) / seconds if seconds else 0.0,
            "errors": errors,
            "slice_rps": [round(s.requests / s.seconds, 1) for s in self.slices],
        }


def percentile(histogram: dict[int, float], p: float) -> float:
    """The smallest latency at or below which p% of the requests fall."""
    total = sum(histogram.values())
    if not total:
        return 0.0
    rank = total * p / 100 * (1 - 1e-9)
    seen = 0.0
    for us in sorted(histogram):
        seen += histogram[us]
        if seen >= rank:
            return float(us)
    return float(max(histogram))


def busy_cpu_seconds() -> float:
    with open("/proc/stat") as fh:
        parts = fh.readline().split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in parts[:8])
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def run_wrk(server: Server, script: Path, seconds: float, connections: int, threads: int) -> Slice:
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s"]
    argv += ["-s", str(script), server.url + PATHS[server.name]]
    cpu0, busy0 = server.cpu_seconds(), busy_cpu_seconds()
    child0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    child1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu1, busy1 = server.cpu_seconds(), busy_cpu_seconds()
    if proc.returncode != 0:
        raise BenchError(
            f"wrk failed on {server.name} ({proc.returncode}): {proc.stderr.strip() or proc.stdout}"
        )
    summary: list[int] | None = None
    quantiles: list[int] = []
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH summary "):
            summary = [int(x) for x in line.split()[2:]]
        elif line.startswith("BENCH q "):
            quantiles.append(int(line.split()[2]))
    if summary is None or len(quantiles) != GRID:
        raise BenchError(f"wrk printed no summary for {server.name}:\n{proc.stdout}\n{proc.stderr}")
    requests, duration_us, connect, read, write, status, timeout = summary
    histogram: dict[int, float] = {}
    for us in quantiles:
        histogram[us] = histogram.get(us, 0.0) + requests / GRID
    wrk_cpu = (child1.ru_utime + child1.ru_stime) - (child0.ru_utime + child0.ru_stime)
    return Slice(
        requests=requests,
        seconds=duration_us / 1e6,
        errors={"connect": connect, "read": read, "write": write, "status": status, "timeout": timeout},
        histogram=histogram,
        server_cpu_s=cpu1 - cpu0,
        wrk_cpu_s=wrk_cpu,
        other_cpu_s=max(0.0, (busy1 - busy0) - (cpu1 - cpu0) - wrk_cpu),
    )


def check_call(server: Server, body: bytes, key: str) -> dict[str, Any]:
    request = urllib.request.Request(
        server.url + PATHS[server.name],
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            answer: dict[str, Any] = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        raise BenchError(
            f"{server.name} answered {exc.code}: {exc.read()[:500]!r}\n{server.tail()}"
        ) from None
    return answer


# -- one model ---------------------------------------------------------------------------------------


def bench_model(
    kind: str, model: Any, info: dict[str, Any], row: dict[str, Any], args: argparse.Namespace, workdir: Path
) -> dict[str, Any]:
    model_dir = workdir / kind
    model_dir.mkdir()
    model_path = model_dir / "model.joblib"
    joblib.dump(model, model_path)
    targets: list[str] = args.targets
    key = ""
    if "shipyard" in targets:
        print(f"  creating a Shipyard instance in {model_dir / 'shipyard'}")
        key = make_instance(model_dir / "shipyard", model_path, f"bench: {kind} model")
    body = json.dumps({"inputs": row}).encode()
    script = model_dir / "request.lua"
    script.write_text(lua_script(body.decode(), key, args.think_ms))

    servers = make_servers(targets, model_path, model_dir / "shipyard", model_dir, args.bentoml_venv)
    totals = {s.name: Totals() for s in servers}
    try:
        for server in servers:
            server.start()
        for server in servers:
            server.wait_healthy(args.start_timeout)
        answers = {s.name: check_call(s, body, key) for s in servers}
        for name, answer in answers.items():
            print(f"  {name:9} answers {json.dumps(answer)[:160]}")
        outputs = {(a.get("output"), round(float(a.get("confidence") or 0), 9)) for a in answers.values()}
        if len(outputs) != 1:
            raise BenchError(f"the targets disagree on the answer: {answers}")
        for server in servers:
            print(f"  warm-up   {server.name} ({args.warmup:g} s)")
            warm = run_wrk(server, script, args.warmup, args.connections, args.wrk_threads)
            if any(warm.errors.values()):
                raise BenchError(
                    f"{server.name} had errors during the warm-up: {warm.errors}\n{server.tail()}"
                )
        slice_s = args.duration / args.rounds
        for r in range(args.rounds):
            order = servers[r % len(servers) :] + servers[: r % len(servers)]
            for server in order:
                s = run_wrk(server, script, slice_s, args.connections, args.wrk_threads)
                totals[server.name].add(s)
                print(
                    f"  round {r + 1}/{args.rounds} {server.name:9} {s.requests / s.seconds:8.1f} req/s  "
                    f"other load {s.other_cpu_s / s.seconds:.2f} cores"
                    + (f"  errors {s.errors}" if any(s.errors.values()) else "")
                )
    finally:
        for server in servers:
            server.stop()
    results = {name: t.summary() for name, t in totals.items()}
    return {"model": info, "bare": args.bare, "think_ms": args.think_ms, "targets": results}


def lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def lua_script(body: str, key: str, think_ms: float = 0.0) -> str:
    """The wrk script: POST `body` with the API key; with think_ms, each connection waits that long
    between a response and its next request (an offered load below saturation)."""
    delay = f"delay = function() return {think_ms:g} end\n" if think_ms > 0 else ""
    return LUA.format(
        body=lua_string(body), auth=lua_string(f"Bearer {key or 'none'}"), delay=delay, grid=GRID
    )


# -- report ------------------------------------------------------------------------------------------


def print_table(kind: str, result: dict[str, Any]) -> None:
    info, targets = result["model"], result["targets"]
    print(f"\n{kind} model: {info['description']}")
    print(f"(bare: the {result['bare']!r} endpoint, {PATHS['bare']})")
    if result.get("think_ms"):
        print(f"(each connection pauses {result['think_ms']:g} ms between requests)")
    header = (
        f"{'target':10} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'vs bare':>8} {'server CPU µs/req':>18} "
        f"{'other load':>12}"
    )
    print(header)
    print("-" * len(header))
    bare = targets.get("bare")
    for name in TARGETS:
        t = targets.get(name)
        if t is None:
            continue
        ratio = f"{t['rps'] / bare['rps']:.2f}x" if bare and bare["rps"] else "-"
        print(
            f"{name:10} {t['rps']:9.1f} {t['p50_ms']:8.2f} {t['p99_ms']:8.2f} {ratio:>8} "
            f"{t['server_cpu_us_per_request']:18.0f} {t['other_load_cores']:6.2f} cores"
        )
        if any(t["errors"].values()):
            print(f"{'':10} errors: {t['errors']}")
    print("(other load: CPU time other processes used on the machine while the target was measured)")


def verdicts(results: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    real = results.get("real", {}).get("targets", {})
    if "bare" in real and "shipyard" in real:
        ship, bare = real["shipyard"]["rps"], real["bare"]["rps"]
        ratio = ship / bare
        out.append(
            {
                "target": f"real model: Shipyard req/s >= {MIN_THROUGHPUT_RATIO}x bare",
                "measured": f"{ratio:.2f}x ({ship:.0f} vs {bare:.0f} req/s)",
                "pass": ratio >= MIN_THROUGHPUT_RATIO,
            }
        )
    noop = results.get("noop", {}).get("targets", {})
    if "bare" in noop and "shipyard" in noop:
        extra = noop["shipyard"]["p99_ms"] - noop["bare"]["p99_ms"]
        out.append(
            {
                "target": f"no-op model: Shipyard p99 <= bare p99 + {MAX_P99_EXTRA_MS:g} ms",
                "measured": f"{noop['shipyard']['p99_ms']:.2f} ms vs {noop['bare']['p99_ms']:.2f} ms "
                f"({extra:+.2f} ms)",
                "pass": extra <= MAX_P99_EXTRA_MS,
            }
        )
    return out


def machine() -> dict[str, Any]:
    cpu = platform.processor()
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        for line in subprocess.run(
            ["lscpu"], capture_output=True, text=True, check=False
        ).stdout.splitlines():
            if line.startswith("Model name:"):
                cpu = line.split(":", 1)[1].strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "loadavg_at_start": Path("/proc/loadavg").read_text().split()[:3],
        "shipyard_commit": _git("rev-parse", "--short", "HEAD"),
        "shipyard_src_modified": [line[3:] for line in _git("status", "--porcelain", "src").splitlines()],
    }


def _git(*args: str) -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        proc = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        if proc.returncode == 0:
            return proc.stdout.rstrip()
    return ""


# -- main --------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--duration", type=float, default=20.0, help="measured seconds per target and model (20)")
    p.add_argument("--rounds", type=int, default=4, help="interleaved slices the duration is cut into (4)")
    p.add_argument("--warmup", type=float, default=5.0, help="warm-up seconds per target and model (5)")
    p.add_argument("--connections", type=int, default=32, help="wrk connections (32)")
    p.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (1)")
    p.add_argument(
        "--bare",
        choices=sorted(BARE_ROUTES),
        default="def",
        help="how the bare endpoint calls the model: def (FastAPI's threadpool; default), async (on\n"
        "the event loop) or executor (run_in_executor on 40 threads, as Shipyard does)",
    )
    p.add_argument(
        "--think-ms",
        type=float,
        default=0.0,
        help="pause per connection between requests (0: saturate; else a lighter, fixed offered load)",
    )
    p.add_argument(
        "--model-ms", type=float, default=2.5, help="CPU ms per single-row predict, real model (2.5)"
    )
    p.add_argument("--models", default=",".join(MODELS), help="comma-separated: real,noop")
    p.add_argument("--targets", default=",".join(TARGETS), help="comma-separated: bare,bentoml,shipyard")
    p.add_argument("--bentoml-venv", type=Path, default=BENCH / ".venv-bentoml", help="BentoML's virtualenv")
    p.add_argument("--start-timeout", type=float, default=120.0, help="seconds to wait for each server")
    p.add_argument("--results", type=Path, default=BENCH / "results", help="where the JSON goes")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (server logs, instances)")
    args = p.parse_args()
    args.models = [m for m in args.models.split(",") if m]
    args.targets = [t for t in TARGETS if t in args.targets.split(",")]  # bare first, always
    PATHS["bare"] = BARE_ROUTES[args.bare]
    if unknown := set(args.models) - set(MODELS):
        p.error(f"unknown models: {', '.join(sorted(unknown))}")
    if not args.targets:
        p.error("no known target")
    if args.rounds < 1 or args.duration / args.rounds < 1:
        p.error("each slice (duration / rounds) must be at least 1 s")
    return args


def preflight(args: argparse.Namespace) -> None:
    if shutil.which("wrk") is None:
        raise BenchError("wrk is not installed (Debian/Ubuntu: apt-get install wrk); it drives the load")
    if "bentoml" in args.targets and not (args.bentoml_venv / "bin" / "bentoml").exists():
        raise BenchError(
            f"no BentoML in {args.bentoml_venv}: create it (see bench/README.md), or leave it out with "
            "--targets bare,shipyard"
        )
    if "shipyard" in args.targets and not (Path(sys.executable).parent / "shipyard").exists():
        raise BenchError(f"no shipyard command next to {sys.executable}: run this with Shipyard's virtualenv")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM takes Ctrl-C's path, so the servers are stopped either way


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, _interrupt)
    started = dt.datetime.now(dt.UTC)
    workdir = Path(tempfile.mkdtemp(prefix="shipyard-invoke-bench-"))
    try:
        preflight(args)
        info = machine()
        load = " ".join(info["loadavg_at_start"])
        print(f"machine: {info['cpu']}, {info['cores']} cores, load average {load}")
        features, labels = split_features(generate_claims(4000))
        row = features[0]
        results: dict[str, Any] = {}
        for kind in args.models:
            if kind == "real":
                print(f"\ncalibrating the real model to {args.model_ms:g} ms of CPU per row ...")
                model, trees, cost = build_real_model(features, labels, args.model_ms)
                description = (
                    f"DictVectorizer + StandardScaler + RandomForest ({trees} trees, depth 12); "
                    f"single-row predict_proba: {cost:.2f} ms CPU"
                )
                model_info = {"kind": kind, "trees": trees, "per_row_ms": cost, "description": description}
            else:
                model = NoopModel(QUEUES)
                cost = per_row_cost_ms(model, row)
                description = f"constant output; single-row predict_proba: {cost * 1e3:.1f} µs CPU"
                model_info = {"kind": kind, "per_row_ms": cost, "description": description}
            print(f"{kind} model: {description}")
            results[kind] = bench_model(kind, model, model_info, row, args, workdir)
            print_table(kind, results[kind])
        checks = verdicts(results)
        print()
        for c in checks:
            print(f"{'PASS' if c['pass'] else 'FAIL'}  {c['target']}: {c['measured']}")
        real = results.get("real", {}).get("targets", {})
        if "bentoml" in real and "bare" in real:
            print(
                f"(reference) real model: BentoML at {real['bentoml']['rps'] / real['bare']['rps']:.2f}x bare"
            )
        args.results.mkdir(parents=True, exist_ok=True)
        out = args.results / f"invoke_overhead-{started:%Y%m%d-%H%M%S}.json"
        settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
        out.write_text(
            json.dumps(
                {
                    "started": started.isoformat(),
                    "machine": info,
                    "settings": settings,
                    "results": results,
                    "verdicts": checks,
                },
                indent=2,
            )
        )
        print(f"raw results: {out}")
        return 0 if all(c["pass"] for c in checks) else 1
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted; servers stopped", file=sys.stderr)
        return 130
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
