"""Private PostgreSQL and Redis servers that fault tests may stop, kill and restart at will.

The machine's shared instances (PostgreSQL on 5432, Redis on 6379) serve every other test; a fault
test that took one of them down would break its neighbours. These run on their own ports and in
their own directories, and are removed afterwards.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO, Any

import psycopg
import redis

from tests.servers import free_port

PG_ROOT = Path("/usr/lib/postgresql")
DB_NAME = "shipyard"


def pg_bin_dir() -> Path:
    """The newest installed PostgreSQL's bin directory (Debian layout), or the one on PATH."""
    versions = sorted(
        (p for p in PG_ROOT.glob("*/bin") if (p / "pg_ctl").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if versions:
        return versions[-1]
    found = shutil.which("pg_ctl")
    if found is None:
        raise RuntimeError(f"no PostgreSQL server binaries under {PG_ROOT} or on PATH")
    return Path(found).parent


class PrivatePostgres:
    """A throwaway cluster: initdb in `base_dir`, its own free port, trust auth for `postgres`.

    PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user and the
    cluster's directory belongs to it; `base_dir`'s parents must let that user through (a directory
    from `tempfile.mkdtemp()` does; pytest's `tmp_path` does not, its root is 0700). The postmaster
    is our child process, so we reap it: a crashed one leaves no zombie behind to look alive.
    """

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = base_dir
        self.root = base_dir / "pg"
        self.data = self.root / "data"
        self.sockets = self.root / "sock"
        self.log = self.root / "postgres.log"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/{DB_NAME}"
        self._bin = pg_bin_dir()
        self._proc: subprocess.Popen[bytes] | None = None
        self._created = False

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        """Start (or restart) the server, wait until it accepts connections; create the database once."""
        if self.running():
            return
        if not self.data.exists():
            self._init()
        # fsync=off: these tests crash the server process, not the machine; the kernel keeps every
        # write PostgreSQL made, so crash recovery runs the same, minus the disk flushes.
        settings = ["listen_addresses=127.0.0.1", "fsync=off", "full_page_writes=off", "shared_buffers=16MB"]
        with self.log.open("ab") as log:
            self._proc = subprocess.Popen(
                [
                    *(str(self._bin / "postgres"), "-D", str(self.data), "-p", str(self.port)),
                    *("-k", str(self.sockets)),
                    *(arg for setting in settings for arg in ("-c", setting)),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                **_as_postgres(),
            )
        self._wait_until_up()
        if not self._created:
            with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10) as conn:
                conn.execute(f'CREATE DATABASE "{DB_NAME}"')
            self._created = True

    def stop(self, mode: str = "immediate") -> None:
        """Stop the server as `pg_ctl stop -m <mode>` would: `immediate` aborts like a crash (the next
        start recovers from the WAL), `fast` disconnects everyone and shuts down cleanly."""
        if mode not in _STOP_SIGNALS:
            raise ValueError(f"unknown pg_ctl stop mode {mode!r}: use smart, fast or immediate")
        if self._proc is None or self._proc.poll() is not None:
            return
        self._proc.send_signal(_STOP_SIGNALS[mode])
        try:
            self._proc.wait(timeout=60)
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(f"PostgreSQL did not stop ({mode}) in 60 s:\n{self._log_tail()}") from exc

    def kill(self) -> None:
        """SIGKILL the postmaster and its backends at once, as the OOM killer or a power cut would."""
        if self._proc is None or self._proc.poll() is not None:
            return
        backends = _children(self._proc.pid)
        self._proc.kill()
        for pid in backends:
            _signal(pid, signal.SIGKILL)
        self._proc.wait(timeout=30)
        # A new postmaster refuses to start while an old process still holds the shared memory.
        deadline = time.monotonic() + 30
        while any(_alive(pid) for pid in backends):
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL backends {backends} survived SIGKILL")
            time.sleep(0.02)

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def close(self) -> None:
        """Stop the server and remove its directory."""
        try:
            self.stop("immediate")
        except RuntimeError:
            self.kill()
        shutil.rmtree(self.root, ignore_errors=True)

    def _init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.sockets.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            for path in (self.root, self.sockets):
                shutil.chown(path, "postgres", "postgres")
        result = subprocess.run(
            [
                *(str(self._bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust"),
                *("-E", "UTF8", "--no-sync", "--no-instructions"),
            ],
            cwd=self.root,  # the postgres user may not be allowed into ours
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=120,
            **_as_postgres(),
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"initdb failed in {self.root} (can the postgres user reach it?):\n{result.stdout}"
            )

    def _wait_until_up(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + 60  # crash recovery replays the WAL first
        while True:
            if self._proc.poll() is not None:
                raise RuntimeError(f"PostgreSQL exited with {self._proc.returncode}:\n{self._log_tail()}")
            try:
                with psycopg.connect(self.admin_url, connect_timeout=1):
                    return
            except psycopg.OperationalError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not accept connections in 60 s:\n{self._log_tail()}")
            time.sleep(0.05)

    def _log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-4000:]
        except FileNotFoundError:
            return "(no server log)"


class PrivateRedis:
    """A `redis-server` child process on its own port, with nothing persisted."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] = tempfile.TemporaryFile()
        self._frozen = False

    def start(self) -> None:
        """Start (or restart) the server on the same port and wait until it answers PING."""
        if self._proc is not None and self._proc.poll() is None:
            return
        self._proc = subprocess.Popen(
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", tempfile.gettempdir()),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        client = redis.Redis(port=self.port, socket_timeout=1, socket_connect_timeout=1)
        try:
            deadline = time.monotonic() + 30
            while True:
                if self._proc.poll() is not None:
                    raise RuntimeError(
                        f"redis-server exited with {self._proc.returncode}:\n{self._log_tail()}"
                    )
                try:
                    if client.ping():
                        return
                except redis.RedisError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not answer PING in 30 s:\n{self._log_tail()}")
                time.sleep(0.02)
        finally:
            client.close()

    def stop(self) -> None:
        """A clean shutdown (SIGTERM)."""
        if self._proc is None or self._proc.poll() is not None:
            return
        self._proc.terminate()
        self.thaw()  # a stopped process only acts on SIGTERM once it runs again
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL: connections drop at once, with no goodbye."""
        if self._proc is None or self._proc.poll() is not None:
            return
        self._proc.kill()
        self._proc.wait(timeout=30)
        self._frozen = False

    def freeze(self) -> None:
        """SIGSTOP: the port still accepts connections but nothing ever answers (a black hole)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGSTOP)
            self._frozen = True

    def thaw(self) -> None:
        """SIGCONT after freeze()."""
        if self._frozen and self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGCONT)
        self._frozen = False

    def close(self) -> None:
        self.kill()
        self._log.close()

    def _log_tail(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-4000:]


_STOP_SIGNALS = {"smart": signal.SIGTERM, "fast": signal.SIGINT, "immediate": signal.SIGQUIT}


def _as_postgres() -> dict[str, Any]:
    """Popen arguments that drop root to the postgres user (PostgreSQL will not run as root)."""
    if os.geteuid() != 0:
        return {}
    return {"user": "postgres", "group": "postgres", "extra_groups": []}


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command name may hold spaces or parentheses; the fields after its last ')' do not.
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return False
    return fields[0] != "Z"  # a zombie has let go of everything already


def _signal(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
