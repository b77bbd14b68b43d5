"""Several worker processes, one /metrics: prometheus_client's multiprocess files, written by real
processes, summed by whichever process answers the scrape."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.monitoring.test_metrics import value

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    directory = tmp_path / "metrics"
    directory.mkdir()
    path = os.pathsep.join([str(ROOT), str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory), "PYTHONPATH": path}


@pytest.fixture
def workers() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()


def start(env: dict[str, str], *args: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.monitoring.mp_worker", "worker", *map(str, args)],
        env=env,
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready", f"the worker exited with {proc.wait(timeout=30)}"
    return proc


def scrape(env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tests.monitoring.mp_worker", "scrape"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def test_one_scrape_sums_every_worker(env: dict[str, str], workers: list[subprocess.Popen[str]]) -> None:
    # worker: calls, lane in flight, breaker state, drift score (set in this order: b's is the latest)
    a = start(env, 5, 2, 0, 0.5)
    workers.append(a)
    b = start(env, 7, 3, 2, 0.2)
    workers.append(b)

    text = scrape(env)  # a third process answers for both
    svc = {"service": "svc", "version": "1"}
    assert value(text, "shipyard_calls_total", **svc, outcome="served") == 12
    assert value(text, "shipyard_calls_total", **svc, outcome="abstained") == 0
    assert value(text, "shipyard_errors_total", **svc, code="model_failed") == 2
    assert value(text, "shipyard_call_latency_seconds_count", **svc) == 14
    assert value(text, "shipyard_call_latency_seconds_bucket", **svc, le="0.025") == 14
    assert value(text, "shipyard_model_cpu_seconds_total", **svc) == pytest.approx(0.012)
    assert value(text, "shipyard_llm_tokens_total", **svc, direction="in") == 120
    assert value(text, "shipyard_cost_total", **svc) == pytest.approx(6.0)
    assert value(text, "shipyard_lane_in_flight", **svc) == 5  # livesum
    assert value(text, "shipyard_spool_backlog_records") == 20
    assert value(text, "shipyard_breaker_state", **svc) == 2  # the worst a live worker sees
    assert value(text, "shipyard_test_drift_score", service="svc") == 0.2  # mostrecent

    # A worker killed without a word: its counts stay (they happened), its live gauges go.
    b.send_signal(signal.SIGKILL)
    b.wait(timeout=30)
    text = scrape(env)
    assert value(text, "shipyard_calls_total", **svc, outcome="served") == 12
    assert value(text, "shipyard_lane_in_flight", **svc) == 2
    assert value(text, "shipyard_breaker_state", **svc) == 0
    assert value(text, "shipyard_spool_backlog_records") == 10

    # A worker that stops cleanly retires its own live gauges.
    assert a.stdin is not None
    a.stdin.write("exit\n")
    a.stdin.flush()
    assert a.wait(timeout=30) == 0
    text = scrape(env)
    assert value(text, "shipyard_lane_in_flight", **svc) == 0
    assert value(text, "shipyard_calls_total", **svc, outcome="served") == 12
