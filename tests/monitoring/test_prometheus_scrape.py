"""A real scrape: Debian's Prometheus scrapes `shipyard serve --workers 2` on PostgreSQL, and the series
are checked through Prometheus's own query API."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import PG_ADMIN_URL, _psql
from tests.faults.harness.server import ROOT, SHIPYARD, Instance
from tests.servers import free_port, wait_until_up

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(PROMETHEUS), reason="needs Debian's prometheus (scripts/test)"),
]


@pytest.fixture
def database() -> Iterator[str]:
    name = f"shipyard_scrape_{uuid.uuid4().hex[:10]}"
    _psql(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        _psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Process:
    def __init__(self, argv: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.log = log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)


def serve(instance: Instance, workers: int, log: Path) -> tuple[Process, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHIPYARD_", "PROMETHEUS_"))}
    # src/ first: the server must run this tree's code even where the virtualenv's install is another's.
    path = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
    env.update(SHIPYARD_DATABASE_URL=instance.database_url, PYTHONPATH=path)
    argv = [str(SHIPYARD), "serve", "--home", str(instance.home), "--port", str(port)]
    argv += ["--workers", str(workers), "--log-level", "warning"]
    return Process(argv, log, env), f"http://127.0.0.1:{port}"


def prometheus(tmp: Path, target: str) -> tuple[Process, str]:
    port = free_port()
    config = tmp / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        "scrape_configs:\n  - job_name: shipyard\n    static_configs:\n"
        f"      - targets: ['{target.removeprefix('http://')}']\n"
    )
    argv = [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp / 'data'}"]
    argv += [f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"]
    return Process(argv, tmp / "prometheus.log"), f"http://127.0.0.1:{port}"


def query(url: str, promql: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{url}/api/v1/query", params={"query": promql}, timeout=10)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def wait_for(url: str, promql: str, expected: float, timeout_s: float = 90) -> float:
    """Poll a one-number query until Prometheus has scraped the expected value."""
    deadline = time.monotonic() + timeout_s
    got: float | None = None
    while time.monotonic() < deadline:
        result = query(url, promql)
        got = float(result[0]["value"][1]) if result else None
        if got == expected:
            return got
        time.sleep(0.5)
    raise AssertionError(f"{promql} = {got} after {timeout_s} s, expected {expected}")


def test_prometheus_scrapes_every_worker(tmp_path: Path, database: str) -> None:
    instance = Instance(tmp_path / "instance", database)
    instance.service("echo", "tests.factories:double")
    instance.service("broken", "tests.factories:boom")
    instance.service("saved", "tests.factories:boom", policy={"fallbacks": [{"kind": "fixed", "output": 0}]})
    counted = tmp_path / "instance" / "metrics"
    counted.mkdir(parents=True)
    (counted / "counter_999999.db").write_bytes(b"a previous run's counts")  # serve empties the folder
    server, url = serve(instance, 2, tmp_path / "shipyard.log")
    prom: Process | None = None
    try:
        wait_until_up(url, server.proc, server.log, path="/readyz", timeout_s=120)
        prom, prom_url = prometheus(tmp_path, url)
        wait_until_up(prom_url, prom.proc, prom.log, path="/-/ready", timeout_s=60)

        # Calls on fresh connections, eight at a time, until both workers have answered some.
        headers = {"Authorization": f"Bearer {instance.consumer_key}"}

        def call(slug: str, x: int) -> int:
            r = httpx.post(f"{url}/v1/services/{slug}/invoke", json={"inputs": {"x": x}}, headers=headers)
            return r.status_code

        assert not (counted / "counter_999999.db").exists()
        made = {"echo": 0, "broken": 0, "saved": 0}
        deadline = time.monotonic() + 60
        with ThreadPoolExecutor(8) as pool:
            while len(list(counted.glob("counter_*.db"))) < 2 or made["echo"] < 40:
                children = subprocess.run(
                    ["pgrep", "-P", str(server.proc.pid)], capture_output=True, text=True
                )
                assert time.monotonic() < deadline, (
                    f"one worker answered every call: {sorted(p.name for p in counted.iterdir())}, "
                    f"workers {children.stdout.split()}"
                )
                statuses = list(pool.map(call, ["echo"] * 16, range(16)))
                assert statuses == [200] * 16
                made["echo"] += 16
        assert call("broken", 1) == 502 and call("saved", 1) == 200
        made["broken"] += 1
        made["saved"] += 1
        pids = {p.name.split("_")[1] for p in counted.glob("counter_*.db")}
        assert len(pids) == 2, pids

        wait_for(prom_url, 'sum(shipyard_calls_total{service="echo"})', made["echo"])
        wait_for(prom_url, 'sum(shipyard_calls_total{service="echo",outcome="served"})', made["echo"])
        wait_for(prom_url, 'sum(shipyard_calls_total{service="broken",outcome="failed"})', 1)
        wait_for(prom_url, 'sum(shipyard_errors_total{service="broken",code="model_failed"})', 1)
        wait_for(prom_url, 'sum(shipyard_fallbacks_total{service="saved",step="fixed"})', 1)
        wait_for(prom_url, 'sum(shipyard_call_latency_seconds_count{service="echo"})', made["echo"])
        wait_for(prom_url, 'up{job="shipyard"}', 1)

        # p95 from the histogram is computable (over everything so far: the calls came in a burst).
        p95 = query(
            prom_url,
            'histogram_quantile(0.95, sum by (le) (shipyard_call_latency_seconds_bucket{service="echo"}))',
        )
        assert len(p95) == 1 and 0 < float(p95[0]["value"][1]) <= 30
        # State gauges from both workers add up: nothing is in flight once the calls have answered.
        wait_for(prom_url, 'sum(shipyard_lane_in_flight{service="echo"})', 0)
        assert query(prom_url, 'max(shipyard_breaker_state{service="broken"})')
        cpu = query(prom_url, 'sum(shipyard_model_cpu_seconds_total{service="echo"})')
        assert cpu and float(cpu[0]["value"][1]) > 0
    except BaseException:
        print(server.log.read_text(errors="replace")[-4000:])  # noqa: T201 - shown when the test fails
        raise
    finally:
        if prom is not None:
            prom.stop()
        server.stop()
