"""Each worker process gets its own spool directory; leftovers of vanished workers are shipped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from shipyard.serving import slots
from shipyard.serving.spool import Spool
from tests.factories import World, bearer


def test_slots_are_exclusive_and_lowest_free_first(tmp_path: Path) -> None:
    a = slots.claim(tmp_path)
    b = slots.claim(tmp_path)
    assert (a.path.name, b.path.name) == ("000", "001")
    a.release()
    c = slots.claim(tmp_path)
    assert c.path.name == "000"
    b.release()
    c.release()


def test_a_killed_process_frees_its_slot(tmp_path: Path) -> None:
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import pathlib, time; from shipyard.serving import slots; "
            f"s = slots.claim(pathlib.Path({str(tmp_path)!r})); print(s.path.name, flush=True); "
            "time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "000"
    mine = slots.claim(tmp_path)
    assert mine.path.name == "001"  # 000 is held by the child
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)
    child.stdout.close()
    again = slots.claim(tmp_path)
    assert again.path.name == "000"
    mine.release()
    again.release()


async def test_orphaned_spool_is_shipped_at_start(settings: object, tmp_path: Path) -> None:
    from shipyard.web.app import create_app

    root = settings.spool_dir  # type: ignore[attr-defined]
    orphan = Spool(root / "005")
    orphan.open()
    orphan.append_sync(
        {
            "request_id": "req_orphan",
            "service": "echo",
            "version_id": None,
            "version": None,
            "caller": "key:x",
            "caller_kind": "key",
            "inputs": {"x": 1},
            "output": 2,
            "confidence": None,
            "outcome": "served",
            "error_code": None,
            "error_detail": None,
            "started_at": "2026-01-01T00:00:00+00:00",
            "ended_at": "2026-01-01T00:00:00.001000+00:00",
            "latency_ms": 1.0,
        }
    )
    orphan.close()
    app = create_app(settings)  # type: ignore[arg-type]
    async with app.router.lifespan_context(app):
        world = World(app)
        key = world.user_with_key("ada", ["admin"])
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            deadline = time.monotonic() + 20
            while True:
                r = await client.get("/v1/services/echo/predictions/req_orphan", headers=bearer(key))
                if r.status_code == 200 or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
        assert r.status_code == 200, r.text
        assert r.json()["caller"] == "key:x"
    assert not any((root / "005").glob("*.seg")) or Spool(root / "005").backlog() == 0
