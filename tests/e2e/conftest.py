"""A real Shipyard server (subprocess, SQLite instance in a temp folder) and a real headless Chromium."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.factories import ECHO_SCHEMA
from tests.servers import free_port, wait_until_up

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass
class Server:
    url: str
    home: Path
    env: dict[str, str]
    admin_password: str
    analyst_password: str
    consumer_password: str
    consumer_key: str  # owned by admin, role consumer

    def cli(self, *args: str) -> str:
        """Run the `shipyard` command against this instance; returns its output."""
        return run_cli(self.env, *args)

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10)


def run_cli(env: dict[str, str], *args: str) -> str:
    """Run one `shipyard` command; returns its output."""
    return run_clis(env, list(args))[0]


def run_clis(env: dict[str, str], *commands: list[str]) -> list[str]:
    """Run `shipyard` commands side by side (they are independent; SQLite serializes their writes)."""
    # No console script: `python -c` keeps the repository root on sys.path, so the callable loader
    # can import tests.factories.
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", "from shipyard.cli import main; main()", *args],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in commands
    ]
    outputs = []
    for args, proc in zip(commands, procs, strict=True):
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, f"shipyard {' '.join(args)} failed:\n{out}\n{err}"
        outputs.append(out)
    return outputs


def _grab(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not found in:\n{text}"
    return match.group(1)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("e2e")
    home = root / "home"
    env = {
        **os.environ,
        "SHIPYARD_HOME": str(home),
        "SHIPYARD_ENV": "development",
        "PYTHONPATH": str(REPO),
        "COLUMNS": "200",  # rich must not wrap the secrets it prints
        "NO_COLOR": "1",
        "TERM": "dumb",
        "SHIPYARD_MONITORING__ROLLUPS__EVERY_S": "2",  # the dashboard test need not wait a minute
        "SHIPYARD_MONITORING__TICK_S": "1",
    }
    env.pop("SHIPYARD_DATABASE_URL", None)
    out = run_cli(env, "init", "--home", str(home), "--no-examples")
    admin_password = _grab(r"password:\s+(\S+)", out)

    spec = root / "echo.json"
    spec.write_text(
        json.dumps(
            {
                "slug": "echo",
                "name": "Echo doubler",
                "description": "Doubles x. A stand-in model for console tests.",
                "scope": "Test traffic only; never customer data.",
                "owner": "admin",
                "input_schema": ECHO_SCHEMA,
                "latency_slo_ms": 250,
            }
        )
    )
    run_cli(env, "services", "create", str(spec))
    run_cli(
        env,
        "versions",
        "register",
        "echo",
        "--loader",
        "callable",
        "--entrypoint",
        "tests.factories:double",
        "--confidence",
        "--live",
    )
    ann, carl, key = run_clis(
        env,
        ["users", "create", "ann", "--roles", "analyst"],
        ["users", "create", "carl", "--roles", "consumer"],
        ["keys", "create", "--user", "admin", "--roles", "consumer", "--name", "e2e"],
    )
    analyst_password = _grab(r"one-time password:\s+(\S+)", ann)
    consumer_password = _grab(r"one-time password:\s+(\S+)", carl)
    consumer_key = _grab(r"(sy_\S+)", key)

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = root / "server.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from shipyard.cli import main; main()",
                "serve",
                "--home",
                str(home),
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            cwd=REPO,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until_up(url, proc, log)
            yield Server(url, home, env, admin_password, analyst_password, consumer_password, consumer_key)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookies) per test; fails on script errors or CSP violations."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    problems: list[str] = []
    tab.on("pageerror", lambda exc: problems.append(f"script error: {exc}"))
    # 4xx pages log "Failed to load resource", which is expected; anything else is not.
    tab.on(
        "console",
        lambda msg: (
            problems.append(msg.text)
            if msg.type == "error" and "Failed to load resource" not in msg.text
            else None
        ),
    )
    try:
        yield tab
    finally:
        context.close()
    assert not problems, problems
