"""Loaded model versions, kept in memory. Versions are immutable, so a loaded runtime never goes stale."""

from __future__ import annotations

import logging
import threading

from shipyard.registry.artifacts import ArtifactStore
from shipyard.registry.cache import ServiceConfig, VersionConfig
from shipyard.registry.loaders import LoadSpec, Runtime, get_loader

log = logging.getLogger(__name__)


class RuntimePool:
    def __init__(self, store: ArtifactStore) -> None:
        self._store = store
        self._runtimes: dict[str, Runtime] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def peek(self, version_id: str) -> Runtime | None:
        return self._runtimes.get(version_id)

    def load(self, service: ServiceConfig, version: VersionConfig) -> Runtime:
        """Load once per version, even when many calls arrive together (call from a worker thread)."""
        with self._guard:
            lock = self._locks.setdefault(version.id, threading.Lock())
        with lock:
            runtime = self._runtimes.get(version.id)
            if runtime is not None:
                return runtime
            path = (
                self._store.path_for(version.artifact_sha256, version.artifact_kind or "file")
                if version.artifact_sha256
                else None
            )
            spec = LoadSpec(
                artifact_path=path,
                entrypoint=version.entrypoint,
                config=version.config,
                input_schema=service.input_schema,
                returns_confidence=version.returns_confidence,
                timeout_s=service.timeout_s,
            )
            runtime = get_loader(version.loader).load(spec)
            self._runtimes[version.id] = runtime
            return runtime

    def warm(self, configs: list[tuple[ServiceConfig, VersionConfig]]) -> None:
        """Load live versions ahead of their first call, so no caller pays for a cold start."""
        for service, version in configs:
            try:
                self.load(service, version)
            except Exception as exc:  # the first call will report it properly
                log.warning("could not pre-load %s v%s: %s", service.slug, version.number, exc)

    def close(self) -> None:
        with self._guard:
            runtimes, self._runtimes = list(self._runtimes.values()), {}
        for runtime in runtimes:
            runtime.close()
