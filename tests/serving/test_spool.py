"""The prediction spool: durability, group commit, recovery after crashes, and shipping to a sink."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import shipyard.serving.spool as spool_mod
from shipyard.serving.shipper import Shipper
from shipyard.serving.spool import Spool, SpoolCursor

LOGGER = "shipyard.serving.spool"


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Spool]:
    s = Spool(tmp_path / "spool")
    s.open()
    yield s
    s.close()


def read_all(s: Spool) -> list[dict[str, Any]]:
    records, _ = s.read(1_000_000)
    return records


def segments(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.seg"))


async def test_appends_read_back_in_order(spool: Spool) -> None:
    for i in range(100):
        await spool.append({"id": i, "payload": {"text": "é" * (i % 7)}})
    assert spool.backlog() == 100
    assert spool.backlog_bytes() > 100 * 8

    records, cursor = spool.read(1000)
    assert records == [{"id": i, "payload": {"text": "é" * (i % 7)}} for i in range(100)]
    assert spool.read(1000)[0] == records  # reading does not consume; only ack does

    first, c10 = spool.read(10)
    assert [r["id"] for r in first] == list(range(10))
    assert c10 < cursor

    spool.ack(cursor)
    assert spool.backlog() == 0
    assert spool.backlog_bytes() == 0
    assert spool.read(1000) == ([], cursor)


async def test_unencodable_record_fails_only_that_call(spool: Spool) -> None:
    with pytest.raises(TypeError):
        await spool.append({"x": object()})
    with pytest.raises(TypeError):
        spool.append_sync(["not", "a", "dict"])  # type: ignore[arg-type]
    await spool.append({"id": 1})
    assert read_all(spool) == [{"id": 1}]


async def test_concurrent_appends_share_fsyncs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = spool_mod._fdatasync

    def counting_fdatasync(fd: int) -> None:
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(spool_mod, "_fdatasync", counting_fdatasync)
    s = Spool(tmp_path / "spool")
    s.open()
    tasks, per_task = 64, 32

    async def worker(w: int) -> None:
        for i in range(per_task):
            await s.append({"task": w, "i": i})

    await asyncio.gather(*(worker(w) for w in range(tasks)))
    records = read_all(s)
    s.close()

    appends = tasks * per_task
    assert len(records) == appends
    assert {(r["task"], r["i"]) for r in records} == {(w, i) for w in range(tasks) for i in range(per_task)}
    for w in range(tasks):  # each task's appends land in the order it made them
        assert [r["i"] for r in records if r["task"] == w] == list(range(per_task))
    assert 0 < len(calls) < appends / 4, f"{len(calls)} fsyncs for {appends} appends: no group commit"


def test_append_sync_from_threads(spool: Spool) -> None:
    def worker(w: int) -> None:
        for i in range(100):
            spool.append_sync({"thread": w, "i": i})

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    records = read_all(spool)
    assert sorted((r["thread"], r["i"]) for r in records) == [(w, i) for w in range(8) for i in range(100)]


def test_segments_roll_over_and_are_deleted_after_ack(tmp_path: Path) -> None:
    directory = tmp_path / "spool"
    s = Spool(directory, segment_bytes=1024)
    s.open()
    for i in range(200):
        s.append_sync({"id": i, "pad": "x" * 80})
    assert len(segments(directory)) > 15
    total_bytes = s.backlog_bytes()

    shipped: list[int] = []
    while True:
        records, cursor = s.read(7)
        if not records:
            break
        shipped += [r["id"] for r in records]
        s.ack(cursor)
        assert s.backlog() == 200 - len(shipped)
        assert segments(directory)[0].stem == f"{cursor.segment:020d}"
    assert shipped == list(range(200))
    assert s.backlog_bytes() == 0 < total_bytes
    assert len(segments(directory)) == 1

    s.append_sync({"id": 200})
    assert read_all(s) == [{"id": 200}]
    s.close()


def test_ack_of_an_older_cursor_counts_its_records(spool: Spool) -> None:
    for i in range(30):
        spool.append_sync({"id": i})
    _, c10 = spool.read(10)
    _, c5 = spool.read(5)  # the last read is no longer the one being acked
    spool.ack(c10)
    assert spool.backlog() == 20
    spool.ack(c5)  # stale: already covered
    assert spool.backlog() == 20
    assert [r["id"] for r in read_all(spool)] == list(range(10, 30))
    with pytest.raises(ValueError):
        spool.ack(SpoolCursor(c10.segment, 10**9))


def test_reopen_resumes_from_the_acked_cursor(tmp_path: Path) -> None:
    directory = tmp_path / "spool"
    with Spool(directory, segment_bytes=2048) as s:
        for i in range(50):
            s.append_sync({"id": i, "pad": "y" * 40})
        _, cursor = s.read(20)
        s.ack(cursor)
        left_bytes = s.backlog_bytes()
    s.close()  # idempotent

    with Spool(directory, segment_bytes=2048) as again:
        assert again.backlog() == 30
        assert again.backlog_bytes() == left_bytes
        assert [r["id"] for r in read_all(again)] == list(range(20, 50))
        again.append_sync({"id": 50, "pad": ""})
        assert [r["id"] for r in read_all(again)] == list(range(20, 51))


@pytest.mark.parametrize(
    "tail",
    [
        pytest.param(b"\x00\x00\x00\x64\x12\x34\x56\x78" + b"{" * 20, id="short-payload"),
        pytest.param(b"\x00\x00", id="short-header"),
        pytest.param(b"\x00" * 4096, id="zero-filled"),
        pytest.param(b"\x00\x00\x00\x02\xde\xad\xbe\xef{}", id="bad-crc"),
    ],
)
def test_torn_tail_is_truncated_on_open(
    tmp_path: Path, tail: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / "spool"
    with Spool(directory) as s:
        for i in range(10):
            s.append_sync({"id": i})
    last = segments(directory)[-1]
    good_size = last.stat().st_size
    with last.open("ab") as f:
        f.write(tail)

    with caplog.at_level(logging.WARNING, logger=LOGGER), Spool(directory) as s:
        assert [r["id"] for r in read_all(s)] == list(range(10))
        assert last.stat().st_size == good_size
        s.append_sync({"id": 10})
        assert [r["id"] for r in read_all(s)] == list(range(11))
    assert any(r.levelno == logging.WARNING and "torn" in r.getMessage() for r in caplog.records)
    assert not list(directory.glob("*.corrupt"))


def test_corruption_mid_segment_is_kept_aside(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    directory = tmp_path / "spool"
    with Spool(directory) as s:
        for i in range(10):
            s.append_sync({"id": i, "pad": "z" * 20})
    seg = segments(directory)[-1]
    original = bytearray(seg.read_bytes())
    frame = len(original) // 10
    original[5 * frame + 12] ^= 0xFF  # a payload byte of record 5; records 6..9 stay valid after it
    seg.write_bytes(bytes(original))

    with caplog.at_level(logging.WARNING, logger=LOGGER), Spool(directory) as s:
        assert [r["id"] for r in read_all(s)] == list(range(5))
        s.append_sync({"id": 10})
    aside = seg.with_name(seg.name + ".corrupt")
    assert aside.read_bytes() == bytes(original)  # nothing is lost for good: the full original is kept
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any("4 valid-looking frames" in m for m in errors), errors


CHILD = """
import asyncio
import sys
from pathlib import Path

from shipyard.serving.spool import Spool


async def main() -> None:
    spool = Spool(Path(sys.argv[1]), segment_bytes=32 * 1024)
    spool.open()

    async def worker(w: int) -> None:
        i = 0
        while True:
            await spool.append({"id": f"{w}-{i}", "pad": "p" * 64})
            sys.stdout.write(f"{w}-{i}\\n")
            sys.stdout.flush()
            i += 1

    await asyncio.gather(*(worker(w) for w in range(16)))


asyncio.run(main())
"""


def test_every_acknowledged_append_survives_sigkill(tmp_path: Path) -> None:
    directory = tmp_path / "spool"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    src = str(Path(spool_mod.__file__).resolve().parents[2])  # works installed or from a checkout
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p)}
    proc = subprocess.Popen(
        [sys.executable, str(script), str(directory)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    acked: list[str] = []
    try:
        deadline = time.monotonic() + 30
        while len(acked) < 500 and time.monotonic() < deadline:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                continue
            if line is None:
                break
            acked.append(line)
        proc.send_signal(signal.SIGKILL)
        reader.join(10)  # whatever it printed before dying was acknowledged too
        while not lines.empty():
            if (line := lines.get_nowait()) is not None:
                acked.append(line)
    finally:
        proc.kill()
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    assert len(acked) >= 500, err
    acked_ids = {line.strip() for line in acked if line.endswith("\n")}

    with Spool(directory, segment_bytes=32 * 1024) as s:
        ids = [r["id"] for r in read_all(s)]
        assert len(ids) == len(set(ids)), "a record was duplicated in the spool"
        assert acked_ids <= set(ids), f"lost acknowledged records: {sorted(acked_ids - set(ids))[:10]}"
        for w in range(16):  # a worker appends its next record only after the previous one was durable
            seq = [int(i.split("-")[1]) for i in ids if i.startswith(f"{w}-")]
            assert seq == list(range(len(seq)))
        s.append_sync({"id": "after-crash"})
        assert read_all(s)[-1] == {"id": "after-crash"}


@pytest.mark.parametrize("failing", ["_pwrite", "_fdatasync"])
async def test_write_failure_fails_the_waiters_and_the_spool_recovers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    directory = tmp_path / "spool"
    s = Spool(directory)
    s.open()
    for i in range(5):
        await s.append({"id": i})
    size = segments(directory)[-1].stat().st_size

    real_pwrite, real_fdatasync = spool_mod._pwrite, spool_mod._fdatasync
    failed = threading.Event()

    def pwrite_then_no_space(fd: int, data: memoryview, offset: int) -> int:
        if failed.is_set():
            return real_pwrite(fd, data, offset)
        failed.set()
        real_pwrite(fd, data[: len(data) // 2], offset)  # a partial write, then the disk is full
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def fdatasync_eio(fd: int) -> None:
        if failed.is_set():
            return real_fdatasync(fd)
        failed.set()
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(spool_mod, failing, pwrite_then_no_space if failing == "_pwrite" else fdatasync_eio)
    expected = errno.ENOSPC if failing == "_pwrite" else errno.EIO
    with pytest.raises(OSError) as info:
        await s.append({"id": "lost", "pad": "q" * 200})
    assert info.value.errno == expected
    assert segments(directory)[-1].stat().st_size == size  # cut back to the last durable frame
    assert [r["id"] for r in read_all(s)] == list(range(5))
    assert s.backlog() == 5

    await asyncio.gather(*(s.append({"id": i}) for i in range(5, 10)))
    s.close()
    with Spool(directory) as again:
        assert [r["id"] for r in read_all(again)] == list(range(10))


async def test_append_after_close_is_refused(tmp_path: Path) -> None:
    s = Spool(tmp_path / "spool")
    s.open()
    s.close()
    with pytest.raises(RuntimeError):
        await s.append({"id": 1})


# -- shipper --------------------------------------------------------------------------------------


def test_shipper_ships_everything_in_order(spool: Spool) -> None:
    got: list[dict[str, Any]] = []
    shipper = Shipper(spool, got.extend, batch=50, interval_s=5.0)
    shipper.start()
    try:
        for i in range(1000):
            spool.append_sync({"id": i})
        assert shipper.flush(timeout_s=10)
        assert [r["id"] for r in got] == list(range(1000))
        assert shipper.shipped_total == 1000
        assert spool.backlog() == 0
        assert shipper.last_error is None
    finally:
        shipper.stop()


async def test_shipper_reads_while_many_tasks_append(spool: Spool) -> None:
    got: list[dict[str, Any]] = []
    shipper = Shipper(spool, got.extend, batch=100)
    shipper.start()

    async def worker(w: int) -> None:
        for i in range(40):
            await spool.append({"task": w, "i": i})

    await asyncio.gather(*(worker(w) for w in range(64)))
    assert await asyncio.to_thread(shipper.flush, 10.0)
    await asyncio.to_thread(shipper.stop)
    assert len(got) == 64 * 40
    for w in range(64):
        assert [r["i"] for r in got if r["task"] == w] == list(range(40))


class FlakySink:
    """Fails its first calls: some before storing, some after (a commit whose reply was lost)."""

    def __init__(self, failures: list[str]) -> None:
        self.failures = failures
        self.rows: list[dict[str, Any]] = []

    def __call__(self, batch: list[dict[str, Any]]) -> None:
        mode = self.failures.pop(0) if self.failures else "ok"
        if mode == "before":
            raise ConnectionError("database is down")
        self.rows.extend(batch)
        if mode == "after":
            raise TimeoutError("connection lost after commit")


def dedup(rows: list[dict[str, Any]], key: Callable[[dict[str, Any]], Any]) -> list[Any]:
    seen: dict[Any, None] = {}
    for row in rows:
        seen.setdefault(key(row), None)
    return list(seen)


def test_shipper_retries_a_failing_sink_without_loss_or_reordering(spool: Spool) -> None:
    sink = FlakySink(["before", "before", "after", "before", "after"])
    shipper = Shipper(spool, sink, batch=64, interval_s=0.05, min_backoff_s=0.01, max_backoff_s=0.05)
    shipper.start()
    try:
        for i in range(500):
            spool.append_sync({"id": i})
        assert shipper.flush(timeout_s=10)
    finally:
        shipper.stop()
    assert dedup(sink.rows, lambda r: r["id"]) == list(range(500))
    ids = [r["id"] for r in sink.rows]
    high = -1
    for i in ids:  # a retry repeats a batch, but nothing is ever skipped past
        assert i <= high + 1
        high = max(high, i)
    assert len(ids) > 500  # the "after" failures really did deliver twice
    assert sink.failures == []
    assert shipper.last_error is None
    assert shipper.shipped_total == 500


def test_shipper_stop_drains_the_remainder(spool: Spool) -> None:
    got: list[dict[str, Any]] = []
    shipper = Shipper(spool, got.extend, batch=10, interval_s=10.0)
    for i in range(300):
        spool.append_sync({"id": i})
    shipper.start()
    shipper.stop(drain=True, timeout_s=10)
    assert [r["id"] for r in got] == list(range(300))
    assert spool.backlog() == 0


def test_appends_keep_working_while_the_sink_is_down(tmp_path: Path) -> None:
    directory = tmp_path / "spool"
    calls = 0

    def down(batch: list[dict[str, Any]]) -> None:
        nonlocal calls
        calls += 1
        raise ConnectionError("database is down")

    with Spool(directory) as s:
        shipper = Shipper(s, down, batch=50, min_backoff_s=0.01, max_backoff_s=0.02)
        shipper.start()
        for i in range(200):
            s.append_sync({"id": i})
        assert not shipper.flush(timeout_s=0.3)
        started = time.monotonic()
        shipper.stop(drain=True, timeout_s=0.5)
        assert time.monotonic() - started < 2
        assert calls > 1
        assert shipper.last_error == "ConnectionError: database is down"
        assert s.backlog() == 200

    # After a restart, the backlog ships from disk.
    got: list[dict[str, Any]] = []
    with Spool(directory) as s:
        shipper = Shipper(s, got.extend)
        shipper.start()
        assert shipper.flush(timeout_s=10)
        shipper.stop()
    assert [r["id"] for r in got] == list(range(200))
