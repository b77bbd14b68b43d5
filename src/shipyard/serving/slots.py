"""One spool per worker process. `shipyard serve --workers N` starts N processes on one host with the
same settings, and a spool has exactly one writer, so each process claims a numbered slot directory
under the spool root with an exclusive lock. The lock dies with the process (even on kill -9), so a
restarted worker takes the slot back and ships whatever its predecessor left."""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
MAX_SLOTS = 256


class SpoolSlot:
    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing drops the flock
            self._fd = -1


def _try_lock(path: Path) -> SpoolSlot | None:
    path.mkdir(parents=True, exist_ok=True)
    fd = os.open(path / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return SpoolSlot(path, fd)


def claim(root: Path) -> SpoolSlot:
    """The lowest free slot: stable across restarts, so a slot's leftovers are found again."""
    for n in range(MAX_SLOTS):
        slot = _try_lock(root / f"{n:03d}")
        if slot is not None:
            return slot
    raise RuntimeError(f"all {MAX_SLOTS} spool slots under {root} are held by running processes")


def drain_orphans(root: Path, ship: Callable[[Path], Any]) -> None:
    """Ship slots no process holds (left behind when the worker count went down)."""
    if not root.exists():
        return
    for path in sorted(p for p in root.iterdir() if p.is_dir()):
        if not any(f.suffix == ".seg" for f in path.iterdir()):
            continue
        slot = _try_lock(path)
        if slot is None:
            continue
        try:
            ship(path)
        except Exception as exc:  # retried at the next start
            log.warning("could not ship the orphaned spool %s: %s", path, exc)
        finally:
            slot.release()
