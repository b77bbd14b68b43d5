"""Content-addressed artifact storage on the local filesystem.

Files are stored by the sha256 of their bytes; directories (an MLflow model, a code folder) as a
deterministic tar whose sha256 names it. Every load re-hashes the stored bytes, so a tampered or
corrupted artifact is refused rather than served.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
import tempfile
from pathlib import Path

from shipyard.core.errors import IntegrityFailure, InvalidInput, NotFound

_CHUNK = 1 << 20


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _deterministic_tar(directory: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path in sorted(p for p in directory.rglob("*")):
            if path.is_symlink():
                raise InvalidInput(f"artifact directories may not contain symlinks: {path}")
            info = tar.gettarinfo(str(path), arcname=str(path.relative_to(directory)))
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            info.mode = 0o755 if path.is_dir() else 0o644
            if path.is_file():
                with path.open("rb") as fh:
                    tar.addfile(info, fh)
            else:
                tar.addfile(info)
    return buf.getvalue()


class ArtifactStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _blob(self, sha256: str) -> Path:
        return self.root / "sha256" / sha256[:2] / sha256

    def put(self, source: Path) -> tuple[str, str]:
        """Store a file or directory; returns (sha256, kind) with kind 'file' or 'dir'."""
        if not source.exists():
            raise InvalidInput(f"artifact {source} does not exist")
        if source.is_dir():
            return self.put_bytes(_deterministic_tar(source)), "dir"
        sha = _hash_file(source)
        target = self._blob(sha)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(".tmp")
            shutil.copyfile(source, tmp)
            os.replace(tmp, target)
        return sha, "file"

    def put_bytes(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        target = self._blob(sha)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(fh.name, target)
        return sha

    def path_for(self, sha256: str, kind: str) -> Path:
        """Verify the stored bytes and return a usable path (a directory is unpacked once)."""
        blob = self._blob(sha256)
        if not blob.exists():
            raise NotFound(f"artifact {sha256} is missing from the store at {self.root}")
        actual = _hash_file(blob)
        if actual != sha256:
            raise IntegrityFailure(f"artifact {sha256} fails its checksum (stored bytes hash to {actual})")
        if kind == "file":
            return blob
        target = self.root / "unpacked" / sha256
        if not target.exists():
            tmp = Path(tempfile.mkdtemp(dir=self.root, prefix=".unpack-"))
            with tarfile.open(blob) as tar:
                tar.extractall(tmp, filter="data")
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                tmp.rename(target)
            except OSError:
                shutil.rmtree(tmp, ignore_errors=True)
                if not target.is_dir():  # not a lost race with another process: a real failure
                    raise
        return target
