"""wrk as a closed-loop load generator: a Lua script per target, exact merged latency percentiles.

wrk (apt-get install wrk) keeps --connections connections busy, each sending its next request when the
last answer arrives. The script sends one fixed body with an Authorization header and prints, when
done, a summary line and the latency distribution as 2,000 quantiles, so slices of a run can be merged
and p50/p99 read to a twentieth of a percent. Each slice also measures the CPU the server, wrk and
everything else on the machine used meanwhile.
"""

from __future__ import annotations

import resource
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _server import BenchError, Server, busy_cpu_seconds

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


def run_wrk(server: Server, script: Path, seconds: float, connections: int, threads: int) -> Slice:
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s"]
    argv += ["-s", str(script), server.url + server.path]
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


def lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def lua_script(body: str, key: str, think_ms: float = 0.0) -> str:
    """The wrk script: POST `body` with the API key; with think_ms, each connection waits that long
    between a response and its next request (an offered load below saturation)."""
    delay = f"delay = function() return {think_ms:g} end\n" if think_ms > 0 else ""
    return LUA.format(
        body=lua_string(body), auth=lua_string(f"Bearer {key or 'none'}"), delay=delay, grid=GRID
    )
