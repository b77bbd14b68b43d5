"""Several real processes append to one audit chain at once: it stays gap-free, linear and verifiable."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from shipyard.audit import service as audit
from shipyard.audit.models import AuditEvent, AuditHead
from shipyard.audit.service import GENESIS, VerifyReport
from shipyard.db.engine import make_engine
from shipyard.db.session import make_sessionmaker, unit_of_work

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
EVENTS_PER_WRITER = 100

WRITER = """
import sys, time
from pathlib import Path
from shipyard.audit.service import Actor, record
from shipyard.db.engine import make_engine
from shipyard.db.session import make_sessionmaker, unit_of_work

url, name, count, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
engine = make_engine(url)
factory = make_sessionmaker(engine)
with engine.connect():  # connected and imported before the start signal, so the writers overlap
    pass
Path(go.parent / f"{name}.ready").touch()
deadline = time.monotonic() + 60
while not go.exists():
    if time.monotonic() > deadline:
        sys.exit("no start signal")
    time.sleep(0.005)
actor = Actor(name, "system")
for i in range(count):  # one transaction per event
    with unit_of_work(factory) as session:
        record(session, actor, "writer.append", "writer", name, after={"i": i, "writer": name})
engine.dispose()
"""


def test_concurrent_writers_keep_one_linear_chain(db_url: str, tmp_path: Path) -> None:
    # SQLite serializes writers (BEGIN IMMEDIATE + busy_timeout), so two processes prove the point there.
    writers = 2 if db_url.startswith("sqlite") else 4
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    go = tmp_path / "go"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), db_url, f"w{i}", str(EVENTS_PER_WRITER), str(go)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(writers)
    ]
    try:
        deadline = time.monotonic() + 60
        while not all((tmp_path / f"w{i}.ready").exists() for i in range(writers)):
            assert time.monotonic() < deadline, "writers did not start"
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs if p.poll()]
            time.sleep(0.02)
        go.touch()
        results = [p.communicate(timeout=240) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, (_, stderr) in zip(procs, results, strict=True):
        assert p.returncode == 0, stderr

    total = writers * EVENTS_PER_WRITER
    engine = make_engine(db_url)
    try:
        factory = make_sessionmaker(engine)
        with factory() as s:
            rows = list(s.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
            head = s.get(AuditHead, 1)
        assert len(rows) == total
        assert [e.seq for e in rows] == list(range(1, total + 1))
        assert rows[0].prev_hash == GENESIS
        assert all(b.prev_hash == a.hash for a, b in zip(rows, rows[1:], strict=False))
        assert head is not None and (head.seq, head.hash) == (total, rows[-1].hash)
        # every writer's events are all there, each once, in its own order
        for i in range(writers):
            mine = [(e.after or {})["i"] for e in rows if e.actor == f"w{i}"]
            assert mine == list(range(EVENTS_PER_WRITER))
        if not db_url.startswith("sqlite"):  # SQLite's lock hand-off is unfair, so only PG must interleave
            switches = sum(1 for a, b in zip(rows, rows[1:], strict=False) if a.actor != b.actor)
            assert switches >= 10 * writers
        with unit_of_work(factory) as s:
            assert audit.verify(s) == VerifyReport(True, total)
    finally:
        engine.dispose()
