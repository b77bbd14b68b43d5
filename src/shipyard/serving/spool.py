"""Append-only local spool for predictions: durable before the response, shipped to the database later.

Layout: ``<dir>/NNNNNNNNNNNNNNNNNNNN.seg`` segments of frames (4-byte big-endian length, 4-byte crc32,
orjson payload) and ``<dir>/cursor``, the acked (segment, offset). One writer thread drains every queued
append, writes them in one call and makes them durable with one fdatasync (group commit). Delivery to the
sink is at-least-once: after a crash, records after the last ack are shipped again and the sink
deduplicates them by key.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import itertools
import logging
import os
import queue
import shutil
import struct
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TypeAlias

import orjson

logger = logging.getLogger(__name__)

_HEADER = struct.Struct(">II")
# The smallest orjson dict is b"{}"; a zero length would also make a zero-filled tail parse as valid frames
# (crc32 of nothing is 0).
_MIN_PAYLOAD = 2
_SEGMENT_SUFFIX = ".seg"
_CURSOR_FILE = "cursor"
_DUMPS_OPTIONS = orjson.OPT_SERIALIZE_NUMPY

# Seams for tests that count fsyncs or inject ENOSPC/EIO; looked up at call time.
_pwrite = os.pwrite
_fdatasync: Callable[[int], None] = getattr(os, "fdatasync", os.fsync)


@dataclass(frozen=True, order=True, slots=True)
class SpoolCursor:
    """A position in the spool: the byte offset just past a frame in a segment."""

    segment: int
    offset: int


class _SyncWaiter:
    __slots__ = ("done", "error")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.error: OSError | None = None


_Waiter: TypeAlias = "asyncio.Future[None] | _SyncWaiter"
# None stops the writer; a None frame is a barrier that only waits for what was queued before it.
_Item: TypeAlias = "tuple[bytes | None, _Waiter] | None"


def _encode(record: dict[str, Any]) -> bytes:
    if not isinstance(record, dict):
        raise TypeError(f"a spool record must be a dict, not {type(record).__name__}")
    payload = orjson.dumps(record, option=_DUMPS_OPTIONS)
    return _HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def _write_error(cause: OSError) -> OSError:
    # One exception object per waiter: a shared one would collect every awaiting task's traceback.
    err = OSError(cause.errno, f"spool write failed: {cause.strerror or cause}")
    err.__cause__ = cause
    return err


def _resolve(futures: list[asyncio.Future[None]], error: OSError | None) -> None:
    for fut in futures:
        if fut.done():  # the caller was cancelled; the record may still be durable (at-least-once)
            continue
        if error is None:
            fut.set_result(None)
        else:
            fut.set_exception(_write_error(error))


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _valid_frames(buf: memoryview, pos: int) -> tuple[int, int]:
    """Walk the valid frames from pos: (how many, the end of the last one)."""
    count = 0
    while pos + _HEADER.size <= len(buf):
        length, crc = _HEADER.unpack_from(buf, pos)
        end = pos + _HEADER.size + length
        if length < _MIN_PAYLOAD or end > len(buf) or zlib.crc32(buf[pos + _HEADER.size : end]) != crc:
            break
        count, pos = count + 1, end
    return count, pos


def _frames_after_damage(buf: memoryview, pos: int) -> int:
    """Valid frames chained from the first offset after a bad frame at pos where one parses."""
    for start in range(pos + 1, len(buf) - _HEADER.size + 1):
        # Lengths of real frames start with a zero byte, so most offsets fail this cheap test.
        if _MIN_PAYLOAD <= _HEADER.unpack_from(buf, start)[0] <= len(buf) - start - _HEADER.size:
            count = _valid_frames(buf, start)[0]
            if count:
                return count
    return 0


class Spool:
    """Durable local queue of records; appends are fsync'd in groups by one writer thread."""

    def __init__(self, directory: Path, *, fsync: bool = True, segment_bytes: int = 16 * 1024 * 1024) -> None:
        if segment_bytes <= _HEADER.size:
            raise ValueError("segment_bytes is too small")
        self.directory = Path(directory)
        self.fsync = fsync
        self.segment_bytes = segment_bytes
        # Set after each durable write, so the shipper wakes early instead of sleeping its interval.
        self.data_ready = threading.Event()
        self._lock = threading.Lock()  # positions and counters shared by the writer, read() and ack()
        self._qlock = threading.Lock()  # orders enqueue against close, so nothing is queued after the stop
        self._ack_lock = threading.Lock()
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = True
        self._fd = -1
        self._offset = 0  # the writer's end of the active segment, always durable between commits
        self._segments: list[int] = []  # live segments, ascending; the last one is being written
        self._sizes: dict[int, int] = {}  # durable end of each live segment
        self._acked = SpoolCursor(0, 0)
        self._written = self._written_bytes = self._acked_n = self._acked_bytes = 0
        self._last_read: tuple[SpoolCursor, SpoolCursor, int] | None = None

    # -- lifecycle ---------------------------------------------------------------------------------

    def open(self) -> None:
        """Create the directory, recover from a crash, and start the writer thread."""
        if not self._closed:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        for stale in self.directory.glob("*.tmp"):
            stale.unlink(missing_ok=True)
        acked = self._load_cursor()
        found = sorted(self._segment_numbers())
        for n in found:
            if n < acked.segment:  # a crash between persisting the cursor and deleting what it covers
                self._path(n).unlink(missing_ok=True)
        live = [n for n in found if n >= acked.segment]
        if live and live[0] != acked.segment:
            logger.error(
                "spool %s: acked segment %d is missing; resuming at %d",
                self.directory,
                acked.segment,
                live[0],
            )
            acked = SpoolCursor(live[0], 0)
        sizes: dict[int, int] = {}
        count = nbytes = 0
        for i, n in enumerate(live):
            start = acked.offset if n == acked.segment else 0
            start, end, frames = self._recover_segment(n, start, last=i == len(live) - 1)
            if n == acked.segment:
                acked = SpoolCursor(n, start)
            sizes[n] = end
            count, nbytes = count + frames, nbytes + end - start
        if not live:
            n = acked.segment + 1
            os.close(os.open(self._path(n), os.O_WRONLY | os.O_CREAT, 0o644))
            if self.fsync:
                _fsync_dir(self.directory)
            live, sizes, acked = [n], {n: 0}, SpoolCursor(n, 0)
        self._segments, self._sizes, self._acked = live, sizes, acked
        self._written, self._written_bytes, self._acked_n, self._acked_bytes = count, nbytes, 0, 0
        self._last_read = None
        self._fd = os.open(self._path(live[-1]), os.O_WRONLY)
        self._offset = sizes[live[-1]]
        if count:
            logger.info("spool %s: %d unshipped records (%d bytes) recovered", self.directory, count, nbytes)
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="shipyard-spool-writer", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Make everything queued durable, then stop the writer thread. Idempotent."""
        with self._qlock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.data_ready.set()

    def __enter__(self) -> Spool:
        self.open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- appending ---------------------------------------------------------------------------------

    async def append(self, record: dict[str, Any]) -> None:
        """Append a record; returns once it is durable. Raises TypeError for a record orjson cannot encode."""
        frame = _encode(record)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._put(frame, fut)
        await fut

    def append_sync(self, record: dict[str, Any]) -> None:
        """Blocking append, for code without an event loop."""
        waiter = _SyncWaiter()
        self._put(_encode(record), waiter)
        waiter.done.wait()
        if waiter.error is not None:
            raise waiter.error

    def _put(self, frame: bytes | None, waiter: _Waiter) -> None:
        with self._qlock:
            if self._closed:
                raise RuntimeError(f"spool {self.directory} is not open")
            self._queue.put((frame, waiter))

    def _barrier(self, timeout_s: float | None = None) -> None:
        """Wait until every append queued before this call has been written (or failed)."""
        waiter = _SyncWaiter()
        try:
            self._put(None, waiter)
        except RuntimeError:
            return  # closed: close() already drained the queue
        waiter.done.wait(timeout_s)

    # -- the writer thread -------------------------------------------------------------------------

    def _run(self) -> None:
        get, get_nowait = self._queue.get, self._queue.get_nowait
        stopping = False
        while not stopping:
            batch = [get()]
            with contextlib.suppress(queue.Empty):
                while True:
                    batch.append(get_nowait())
            items = [item for item in batch if item is not None]
            stopping = len(items) < len(batch)  # the stop item is always last: _qlock orders it
            try:
                self._commit(items)
            except Exception:  # _commit settles its waiters itself; this only keeps the writer alive
                logger.exception("spool %s: writer failed", self.directory)
        try:
            if not self.fsync:
                _fdatasync(self._fd)  # a clean shutdown is durable even when per-append fsync is off
        except OSError:
            logger.exception("spool %s: final fsync failed", self.directory)
        finally:
            os.close(self._fd)
            self._fd = -1

    def _commit(self, items: list[tuple[bytes | None, _Waiter]]) -> None:
        """Write the batch (rolling segments as needed), fsync once per segment, settle the waiters."""
        done = 0  # items[:done] are durable; a prefix, since they are written in order
        group: list[bytes] = []
        size = self._offset
        wrote = False
        try:
            for i, (frame, _) in enumerate(items):
                if frame is None:
                    continue
                if size > 0 and size + len(frame) > self.segment_bytes:
                    if group:
                        self._write(group)
                        done, group, wrote = i, [], True
                    self._roll()
                    size = 0
                group.append(frame)
                size += len(frame)
            if group:
                self._write(group)
                wrote = True
            done = len(items)
        except Exception as exc:
            if isinstance(exc, OSError):
                err = exc
                logger.error(
                    "spool %s: write failed, %d appends fail: %s", self.directory, len(items) - done, err
                )
            else:
                err = OSError(errno.EIO, f"spool writer failed: {exc!r}")
                logger.exception("spool %s: unexpected writer error", self.directory)
            self._settle([w for _, w in items[done:]], err)
        finally:
            self._settle([w for _, w in items[:done]], None)
            if wrote:
                self.data_ready.set()

    def _write(self, frames: list[bytes]) -> None:
        data = frames[0] if len(frames) == 1 else b"".join(frames)
        start = self._offset
        try:
            view, pos = memoryview(data), start
            while len(view):
                n = _pwrite(self._fd, view, pos)
                if n <= 0:
                    raise OSError(errno.EIO, "short write to the spool")
                view, pos = view[n:], pos + n
            if self.fsync:
                _fdatasync(self._fd)
        except OSError:
            # Cut back to the last durable frame so a failed batch never reappears after a restart.
            try:
                os.ftruncate(self._fd, start)
            except OSError:
                logger.exception("spool %s: could not truncate a failed write", self.directory)
            raise
        self._offset = start + len(data)
        with self._lock:
            self._sizes[self._segments[-1]] = self._offset
            self._written += len(frames)
            self._written_bytes += len(data)

    def _roll(self) -> None:
        n = self._segments[-1] + 1
        # O_TRUNC rather than O_EXCL: a file already there can only be an empty leftover of a failed roll.
        fd = os.open(self._path(n), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            if self.fsync:
                _fsync_dir(self.directory)
        except OSError:
            os.close(fd)
            raise
        os.close(self._fd)
        self._fd, self._offset = fd, 0
        with self._lock:
            self._segments.append(n)
            self._sizes[n] = 0

    def _settle(self, waiters: list[_Waiter], error: OSError | None) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
        for waiter in waiters:
            if isinstance(waiter, _SyncWaiter):
                waiter.error = None if error is None else _write_error(error)
                waiter.done.set()
            else:
                by_loop.setdefault(waiter.get_loop(), []).append(waiter)
        # One wake-up per event loop per batch, not one per append.
        for loop, futures in by_loop.items():
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
                loop.call_soon_threadsafe(_resolve, futures, error)

    # -- reading and acknowledging -----------------------------------------------------------------

    def read(self, max_records: int) -> tuple[list[dict[str, Any]], SpoolCursor]:
        """The next unshipped durable records in append order, and the cursor just past them.

        Safe beside appends in other threads; read() and ack() belong to one consumer (the shipper).
        """
        if max_records < 1:
            raise ValueError("max_records must be at least 1")
        with self._lock:
            start = self._acked
            segments = [n for n in self._segments if n >= start.segment]
            sizes = {n: self._sizes[n] for n in segments}
        records: list[dict[str, Any]] = []
        seg, off, i = start.segment, start.offset, 0
        while True:
            end = sizes[seg]
            if off < end:
                off = self._read_frames(seg, off, end, max_records - len(records), records)
            if len(records) >= max_records or off < end or i + 1 >= len(segments):
                break
            i += 1
            seg, off = segments[i], 0  # past a sealed segment, so ack() can delete it
        cursor = SpoolCursor(seg, off)
        with self._lock:
            self._last_read = (start, cursor, len(records))
        return records, cursor

    def _read_frames(self, seg: int, off: int, end: int, limit: int, out: list[dict[str, Any]]) -> int:
        with open(self._path(seg), "rb", buffering=1 << 16) as f:
            f.seek(off)
            while off < end and limit > 0:
                header = f.read(_HEADER.size)
                length, crc = _HEADER.unpack(header) if len(header) == _HEADER.size else (0, 0)
                payload = f.read(length)
                if length < _MIN_PAYLOAD or len(payload) != length or zlib.crc32(payload) != crc:
                    raise OSError(errno.EIO, f"spool frame at {self._path(seg)}:{off} failed its checksum")
                out.append(orjson.loads(payload))
                off += _HEADER.size + length
                limit -= 1
        return off

    def ack(self, cursor: SpoolCursor) -> None:
        """Records up to cursor are shipped: persist the cursor and delete the segments before it."""
        with self._ack_lock:
            with self._lock:
                old = self._acked
                if cursor <= old:
                    return
                if cursor.offset > self._sizes.get(cursor.segment, -1):
                    raise ValueError(f"{cursor} is past the durable end of the spool")
                nbytes = self._sizes[old.segment] - old.offset if cursor.segment != old.segment else 0
                nbytes += sum(self._sizes[n] for n in self._segments if old.segment < n < cursor.segment)
                nbytes += cursor.offset - (old.offset if cursor.segment == old.segment else 0)
                memo = self._last_read
            count = memo[2] if memo is not None and memo[:2] == (old, cursor) else self._count(old, cursor)
            self._write_cursor(cursor)
            with self._lock:
                self._acked = cursor
                self._acked_n += count
                self._acked_bytes += nbytes
                dead = [n for n in self._segments if n < cursor.segment]
                self._segments = [n for n in self._segments if n >= cursor.segment]
                for n in dead:
                    del self._sizes[n]
            for n in dead:
                self._path(n).unlink(missing_ok=True)

    def _count(self, start: SpoolCursor, stop: SpoolCursor) -> int:
        """Frames between two cursors, reading headers only (for an ack that no read() produced)."""
        with self._lock:
            ends = {n: self._sizes[n] for n in self._segments if start.segment <= n <= stop.segment}
        count = 0
        for n, size in sorted(ends.items()):
            off = start.offset if n == start.segment else 0
            end = stop.offset if n == stop.segment else size
            with open(self._path(n), "rb") as f:
                while off < end:
                    f.seek(off)
                    header = f.read(_HEADER.size)
                    if len(header) < _HEADER.size:
                        break
                    off += _HEADER.size + _HEADER.unpack(header)[0]
                    count += 1
            if off != end:
                raise ValueError(f"{stop} is not on a frame boundary")
        return count

    def _write_cursor(self, cursor: SpoolCursor) -> None:
        tmp = self.directory / f"{_CURSOR_FILE}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, orjson.dumps({"segment": cursor.segment, "offset": cursor.offset}))
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.directory / _CURSOR_FILE)
        if self.fsync:
            _fsync_dir(self.directory)

    def backlog(self) -> int:
        """Durable records not yet acked."""
        with self._lock:
            return self._written - self._acked_n

    def backlog_bytes(self) -> int:
        """Bytes of durable frames not yet acked."""
        with self._lock:
            return self._written_bytes - self._acked_bytes

    # -- recovery ----------------------------------------------------------------------------------

    def _path(self, n: int) -> Path:
        return self.directory / f"{n:020d}{_SEGMENT_SUFFIX}"

    def _segment_numbers(self) -> list[int]:
        return [
            int(p.stem)
            for p in self.directory.glob(f"*{_SEGMENT_SUFFIX}")
            if len(p.stem) == 20 and p.stem.isdigit()
        ]

    def _load_cursor(self) -> SpoolCursor:
        try:
            raw = (self.directory / _CURSOR_FILE).read_bytes()
        except FileNotFoundError:
            return SpoolCursor(0, 0)
        try:
            data = orjson.loads(raw)
            return SpoolCursor(int(data["segment"]), int(data["offset"]))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            # Renamed into place atomically, so this is damage; re-shipping everything is the safe side.
            logger.error("spool %s: unreadable cursor file; shipping every segment again", self.directory)
            return SpoolCursor(0, 0)

    def _recover_segment(self, n: int, start: int, *, last: bool) -> tuple[int, int, int]:
        """Validate frames from start; cut off a torn or corrupt tail. Returns (start, valid end, frames)."""
        path = self._path(n)
        view = memoryview(path.read_bytes())  # one segment, so bounded by segment_bytes plus one record
        if start > len(view):
            logger.error("spool %s: acked offset %d is past its end %d", path, start, len(view))
            start = len(view)
        frames, pos = _valid_frames(view, start)
        if pos == len(view):
            return start, pos, frames
        later = _frames_after_damage(view, pos)
        if last and later == 0:
            logger.warning(
                "spool %s: dropped a torn %d-byte tail at offset %d (a write cut short, never acknowledged)",
                path,
                len(view) - pos,
                pos,
            )
        else:
            aside = self._preserve(path)
            logger.error(
                "spool %s: bad frame at offset %d with %d valid-looking frames after it; the segment is cut "
                "there and its full original is kept as %s for manual recovery",
                path,
                pos,
                later,
                aside.name,
            )
        with open(path, "r+b") as f:
            f.truncate(pos)
            if self.fsync:
                os.fsync(f.fileno())
        return start, pos, frames

    def _preserve(self, path: Path) -> Path:
        """Copy a damaged segment aside (tmp + rename, so the copy is whole) before it is cut."""
        for i in itertools.count():
            aside = path.with_name(f"{path.name}.corrupt" if i == 0 else f"{path.name}.{i}.corrupt")
            if not aside.exists():
                break
        tmp = aside.with_name(aside.name + ".tmp")
        shutil.copyfile(path, tmp)
        if self.fsync:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(tmp, aside)
        if self.fsync:
            _fsync_dir(self.directory)
        return aside
