"""What the benchmarks share: real servers as subprocesses, a fresh Shipyard instance, the machine's facts.

A server runs in a session of its own (Ctrl-C in the terminal does not reach it) and `stop()` ends it
and every process it started, and only those. `shipyard_server` starts ``shipyard serve`` on a free
port with an instance home; `new_instance` makes that home and `instance_session` opens a unit of work
on it, to register services and versions the way the CLI does.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from shipyard.audit.service import Actor
    from shipyard.core.config import Settings
    from shipyard.registry.artifacts import ArtifactStore

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


class BenchError(Exception):
    """A setup or run failure, reported as one line."""


@dataclass
class Server:
    name: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    port: int
    log: Path
    health: str = "/healthz"
    path: str = "/"  # the URL path load generators drive
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
                with urllib.request.urlopen(self.url + self.health, timeout=2) as resp:
                    if resp.status == 200:
                        return
            time.sleep(0.25)
        raise BenchError(f"{self.name} did not answer {self.health} within {timeout_s:g} s:\n{self.tail()}")

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


def base_env(model_path: Path | None = None, *, threads: int = 1) -> dict[str, str]:
    """The environment every benchmark server gets: `threads` BLAS/OpenMP threads and bench/ importable."""
    env = dict(os.environ)
    for name in THREAD_ENV:
        env[name] = str(threads)  # a deliberate model thread pool, not one thread per core per call
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(BENCH), env.get("PYTHONPATH", "")) if p)
    if model_path is not None:
        env["BENCH_MODEL"] = str(model_path)
    env.pop("VIRTUAL_ENV", None)
    return env


def shipyard_server(
    home: Path, workdir: Path, env: dict[str, str], *, name: str = "shipyard", workers: int = 1
) -> Server:
    """``shipyard serve`` on a free loopback port for the instance in `home` (not started yet)."""
    shipyard = Path(sys.executable).parent / "shipyard"
    if not shipyard.exists():
        raise BenchError(f"no shipyard command next to {sys.executable}: run this with Shipyard's virtualenv")
    port = free_port()
    argv = [str(shipyard), "serve", "--port", str(port), "--workers", str(workers), "--log-level", "warning"]
    return Server(name, argv, {**env, "SHIPYARD_HOME": str(home)}, BENCH, port, workdir / f"{name}.log")


def new_instance(home: Path) -> Settings:
    """A fresh embedded instance (SQLite) in `home`, with its admin user and no example services."""
    from shipyard.core.config import Settings
    from shipyard.instance import init_instance

    return init_instance(Settings(home=home), examples=False).settings


@contextlib.contextmanager
def instance_session(settings: Settings) -> Iterator[tuple[Session, Actor, ArtifactStore]]:
    """One unit of work on the instance, as the system actor "bench", with its artifact store."""
    from shipyard.audit.service import Actor
    from shipyard.db.engine import make_engine
    from shipyard.db.session import make_sessionmaker, unit_of_work
    from shipyard.registry.artifacts import ArtifactStore

    engine = make_engine(settings.database_url)
    try:
        with unit_of_work(make_sessionmaker(engine)) as session:
            yield session, Actor.system("bench"), ArtifactStore(settings.artifacts_dir)
    finally:
        engine.dispose()


def busy_cpu_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (all cores)."""
    with open("/proc/stat") as fh:
        parts = fh.readline().split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in parts[:8])
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def loadavg() -> list[str]:
    return Path("/proc/loadavg").read_text().split()[:3]


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
        "loadavg_at_start": loadavg(),
        "shipyard_commit": git("rev-parse", "--short", "HEAD"),
        "shipyard_src_modified": [line[3:] for line in git("status", "--porcelain", "src").splitlines()],
    }


def git(*args: str) -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        proc = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        if proc.returncode == 0:
            return proc.stdout.rstrip()
    return ""


def interrupt(signum: int, frame: object) -> None:
    """A SIGTERM handler: take Ctrl-C's path, so the servers are stopped either way."""
    raise KeyboardInterrupt


def print_verdicts(checks: list[dict[str, Any]]) -> None:
    for c in checks:
        print(f"{'PASS' if c['pass'] else 'FAIL'}  {c['target']}: {c['measured']}")


def save_results(args: Any, name: str, started: dt.datetime, **sections: Any) -> Path:
    """Write the run's settings and `sections` to <results>/<name>-<time>.json; print where."""
    args.results.mkdir(parents=True, exist_ok=True)
    out: Path = args.results / f"{name}-{started:%Y%m%d-%H%M%S}.json"
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    body = {"started": started.isoformat(), "settings": settings, **sections}
    out.write_text(json.dumps(body, indent=2, default=str))
    print(f"raw results: {out}")
    return out
