"""A full disk under the spool: each service's policy decides, nothing crashes, and it recovers.

The spool lives on a real 512 KiB tmpfs that the test fills up (the test runs as root on CI machines;
elsewhere the spool's write seam raises the same ENOSPC the kernel would)."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import anyio.to_thread
import httpx
import pytest
from sqlalchemy import select

from shipyard.core.config import Settings
from shipyard.serving import spool as spool_module
from shipyard.serving.models import Prediction
from tests.factories import World, bearer


class Disk:
    """A small filesystem the test can fill and free."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.filler = path / "filler"
        self.real = (
            subprocess.run(
                ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(path)], capture_output=True
            ).returncode
            == 0
        )
        self._full = False

    def fill(self) -> None:
        if self.real:
            fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                for chunk in (65536, 4096, 512, 1):
                    with contextlib.suppress(OSError):
                        while True:
                            os.write(fd, b"\0" * chunk)
            finally:
                os.close(fd)
        self._full = True

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)
        self._full = False

    def pwrite(self, fd: int, data: memoryview, offset: int) -> int:
        if self._full and not self.real:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return os.pwrite(fd, data, offset)

    def close(self) -> None:
        if self.real:
            subprocess.run(["umount", "-l", str(self.path)], check=False)


@pytest.fixture
def disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Disk]:
    folder = tmp_path / "spool-disk"
    folder.mkdir()
    disk = Disk(folder)
    monkeypatch.setattr(spool_module, "_pwrite", disk.pwrite)
    yield disk
    disk.close()


@pytest.fixture
def settings(settings: Settings, disk: Disk) -> Settings:
    recorder = settings.recorder.model_copy(update={"spool_dir": disk.path / "spool"})
    return settings.model_copy(update={"recorder": recorder})


async def call(client: httpx.AsyncClient, key: str, slug: str) -> httpx.Response:
    return await client.post(f"/v1/services/{slug}/invoke", json={"inputs": {"x": 1}}, headers=bearer(key))


async def test_disk_full_fails_closed_or_serves_per_service_then_recovers(
    client: httpx.AsyncClient, world: World, disk: Disk
) -> None:
    key = world.user_with_key("olive", ["owner"])
    world.service("strict", owner="olive")
    world.service("lenient", owner="olive")
    world.policy("lenient", {"on_recorder_full": "serve"})
    before = [await call(client, key, "strict"), await call(client, key, "lenient")]
    assert all(r.status_code == 200 for r in before)
    assert await anyio.to_thread.run_sync(world.ctx.shipper.flush)

    disk.fill()
    # The spool's last page may still hold a few records before the disk's lack of space shows.
    for _ in range(100):
        refused = await call(client, key, "strict")
        if refused.status_code != 200:
            break
        before.append(refused)
    assert refused.status_code == 503 and refused.json()["code"] == "recorder_unavailable"
    assert "No space left" in refused.json()["detail"] or "ENOSPC" in refused.json()["detail"]
    unrecorded = await call(client, key, "lenient")
    assert unrecorded.status_code == 200  # answered, on the service owner's choice, without a record
    assert "No space left" in (await client.get("/readyz")).json()["recorder_trouble"]

    disk.free()
    after = [await call(client, key, "strict"), await call(client, key, "lenient")]
    assert all(r.status_code == 200 for r in after), [r.text for r in after]
    assert "recorder_trouble" not in (await client.get("/readyz")).json()  # cleared by the next record
    assert await anyio.to_thread.run_sync(world.ctx.shipper.flush)
    with world.ctx.sessions() as s:
        recorded = set(s.scalars(select(Prediction.request_id)))
    acknowledged = {r.json()["request_id"] for r in before + after}
    assert recorded == acknowledged  # every answer on record but the one the lenient policy allowed
    assert unrecorded.json()["request_id"] not in recorded
