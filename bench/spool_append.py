"""Spool append throughput and latency: N concurrent asyncio tasks appending M records each.

Baseline, measured in the same run: the same appends with one write + fdatasync each (no group commit),
done in a worker thread under a lock. Candidates: the spool's group commit with fsync on and off. The
floor row is a no-op append (one yield), to read the loop-CPU column against: the spool's own cost per
append is its loop CPU minus the floor's.

On a VM an idle vCPU can take a timer tick (~4 ms) to wake for an I/O completion, which turns a 0.07 ms
fdatasync into 4 ms whenever nothing else is running; --busy keeps one CPU spinning, as a loaded server's
would be. The fdatasync probe printed with the results shows which regime the run was in.

    python bench/spool_append.py --tasks 32 --records 500
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zlib
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import orjson

from shipyard.serving.spool import Spool

Append = Callable[[dict[str, Any]], Awaitable[None]]
HEADER = struct.Struct(">II")  # the spool's frame header: length, crc32


def record(task: int, i: int) -> dict[str, Any]:
    return {
        "request_id": uuid.uuid4().hex,
        "service": "billing-policy-assistant",
        "version": 3,
        "caller": f"key:{task}",
        "inputs": {"question": "Is a late fee refundable after 30 days?", "account": f"A-{i:06d}"},
        "output": {"answer": "yes", "citations": ["policy-7.2"]},
        "confidence": 0.93,
        "outcome": "served",
        "latency_ms": 41.7,
    }


async def drive(append: Append, tasks: int, records: int) -> dict[str, float]:
    latencies: list[float] = []

    async def worker(t: int) -> None:
        for i in range(records):
            rec = record(t, i)
            start = time.perf_counter()
            await append(rec)
            latencies.append(time.perf_counter() - start)

    cpu0, wall0 = time.thread_time(), time.perf_counter()
    await asyncio.gather(*(worker(t) for t in range(tasks)))
    cpu, wall = time.thread_time() - cpu0, time.perf_counter() - wall0
    n = len(latencies)
    q = statistics.quantiles(latencies, n=100)
    # Loop CPU includes building the records and the benchmark's own task switching: an upper bound.
    return {"rate": n / wall, "p50": q[49] * 1e3, "p99": q[98] * 1e3, "loop_us": cpu / n * 1e6}


async def noop(rec: dict[str, Any]) -> None:
    await asyncio.sleep(0)


async def run_spool(directory: Path, fsync: bool, tasks: int, records: int) -> dict[str, float]:
    spool = Spool(directory, fsync=fsync)
    spool.open()
    try:
        await spool.append(record(0, 0))  # warm up: the writer thread and the first page
        return await drive(spool.append, tasks, records)
    finally:
        spool.close()


async def run_baseline(directory: Path, tasks: int, records: int) -> dict[str, float]:
    directory.mkdir(parents=True)
    fd = os.open(directory / "baseline.seg", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    lock = threading.Lock()

    def write(frame: bytes) -> None:
        with lock:
            os.write(fd, frame)
            os.fdatasync(fd)

    async def append(rec: dict[str, Any]) -> None:
        payload = orjson.dumps(rec)
        await asyncio.to_thread(write, HEADER.pack(len(payload), zlib.crc32(payload)) + payload)

    try:
        return await drive(append, tasks, records)
    finally:
        os.close(fd)


def fdatasync_p50_ms(directory: Path, n: int = 200) -> float:
    fd = os.open(directory / "probe", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        times = []
        for _ in range(n):
            os.write(fd, b"x" * 300)
            start = time.perf_counter()
            os.fdatasync(fd)
            times.append(time.perf_counter() - start)
    finally:
        os.close(fd)
    return statistics.median(times) * 1e3


def line(name: str, r: dict[str, float], base: dict[str, float]) -> str:
    return (
        f"{name:<28} {r['rate']:>10,.0f}/s {r['p50']:>8.3f} {r['p99']:>8.3f} {r['loop_us']:>9.1f}"
        f"   x{r['rate'] / base['rate']:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--tasks", type=int, default=32)
    parser.add_argument("--records", type=int, default=500, help="appends per task")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds; medians are printed")
    parser.add_argument("--dir", type=Path, default=None, help="where to write (default: a temp dir)")
    parser.add_argument("--busy", action="store_true", help="keep one CPU spinning (see above)")
    args = parser.parse_args()
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if args.busy else None
    try:
        bench(args)
    finally:
        if spinner is not None:
            spinner.kill()
            spinner.wait()


def bench(args: argparse.Namespace) -> None:

    t, m = args.tasks, args.records
    modes: dict[str, Callable[[Path], Coroutine[Any, Any, dict[str, float]]]] = {
        "baseline: fsync per append": lambda d: run_baseline(d, t, m),
        "spool, group fsync": lambda d: run_spool(d, True, t, m),
        "spool, fsync off": lambda d: run_spool(d, False, t, m),
        "floor: no-op append": lambda d: drive(noop, t, m),
    }
    results: dict[str, list[dict[str, float]]] = {name: [] for name in modes}
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        root = Path(tmp)
        probe_before = fdatasync_p50_ms(root)
        # Interleaved rounds, so a disk that slows down mid-run (a shared machine) hits every mode alike.
        for r in range(args.repeat):
            for i, (name, run) in enumerate(modes.items()):
                results[name].append(asyncio.run(run(root / f"{r}-{i}")))
        probe_after = fdatasync_p50_ms(root)
    med = {name: {k: statistics.median(x[k] for x in rs) for k in rs[0]} for name, rs in results.items()}

    base = med["baseline: fsync per append"]
    size = len(orjson.dumps(record(0, 0)))
    busy = ", one CPU kept busy" if args.busy else ""
    print(f"{t} tasks x {m} appends, {size}-byte records, median of {args.repeat}{busy}")
    print(f"fdatasync p50 on this disk: {probe_before:.3f} ms before, {probe_after:.3f} ms after")
    print(f"{'':<28} {'appends':>12} {'p50 ms':>8} {'p99 ms':>8} {'loop us':>9}   vs baseline")
    for name, row in med.items():
        print(line(name, row, base))


if __name__ == "__main__":
    main()
