"""Loaded model versions, kept in memory. Versions are immutable, so a loaded runtime never goes stale.

A runtime is keyed by its version and, for process isolation, by the isolation settings: changing a
service's isolation policy starts a new runtime (the old one closes when the pool does).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from shipyard.registry.artifacts import ArtifactStore
from shipyard.registry.cache import ServiceConfig, VersionConfig
from shipyard.registry.loaders import LoadSpec, Runtime, get_loader
from shipyard.serving.policy import IsolationPolicy, RuleFallback

log = logging.getLogger(__name__)

_Key = tuple[str, IsolationPolicy | None]


class RuntimePool:
    def __init__(self, store: ArtifactStore) -> None:
        self._store = store
        self._runtimes: dict[_Key, Runtime] = {}
        self._locks: dict[_Key, threading.Lock] = {}
        self._guard = threading.Lock()
        self._retiring: list[threading.Timer] = []
        # What in-process models may use of the serving process (the app context sets it).
        self.host: Callable[[], dict[str, Any]] | None = None

    @staticmethod
    def _key(service: ServiceConfig, version_id: str) -> _Key:
        isolation = service.policy.isolation
        return (version_id, isolation if isolation.mode == "process" else None)

    def peek(self, service: ServiceConfig, version: VersionConfig) -> Runtime | None:
        return self._runtimes.get(self._key(service, version.id))

    def _once(self, key: _Key, build: Any, grace_s: float = 0.0) -> Runtime:
        """Build a runtime once per key, even when many calls arrive together."""
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            runtime = self._runtimes.get(key)
            if runtime is None:
                runtime = build()
                self._runtimes[key] = runtime
                self._retire_others(key, grace_s)
            return runtime

    def _retire_others(self, key: _Key, grace_s: float) -> None:
        """An isolation change replaced this version's runtime: close the old one once its calls end."""
        with self._guard:
            old = [k for k in self._runtimes if k[0] == key[0] and k != key]
            runtimes = [self._runtimes.pop(k) for k in old]
        for runtime in runtimes:
            timer = threading.Timer(grace_s, runtime.close)
            timer.daemon = True
            timer.start()
            self._retiring.append(timer)

    def load(self, service: ServiceConfig, version: VersionConfig) -> Runtime:
        """The version's runtime, loading it first if needed (call from a worker thread)."""
        key = self._key(service, version.id)

        def build() -> Runtime:
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
            if key[1] is not None:
                from shipyard.serving.isolation import ProcessRuntime

                return ProcessRuntime(version.loader, spec, key[1], label=f"{service.slug} v{version.number}")
            if self.host is not None:  # in process only: the host's resources do not cross a pipe
                spec = replace(spec, host=self.host())
            return get_loader(version.loader).load(spec)

        return self._once(key, build, grace_s=service.timeout_s + 1)

    def rule(self, service: ServiceConfig, step: RuleFallback) -> Runtime:
        """A rule-based fallback model: a plain function run in process, without a confidence."""
        spec = LoadSpec(
            artifact_path=None,
            entrypoint=step.entrypoint,
            config={},
            input_schema=service.input_schema,
            returns_confidence=False,
            timeout_s=service.timeout_s,
        )
        return self._once((f"rule:{step.entrypoint}", None), lambda: get_loader("callable").load(spec))

    def warm(self, configs: list[ServiceConfig]) -> None:
        """Load live and fallback versions ahead of their first call, so no caller pays a cold start."""
        for service in configs:
            versions = [service.live] if service.live else []
            versions += list((service.fallback_versions or {}).values())
            for version in versions:
                try:
                    self.load(service, version)
                except Exception as exc:  # the first call will report it properly
                    log.warning("could not pre-load %s v%s: %s", service.slug, version.number, exc)
            for step in service.policy.fallbacks:
                if isinstance(step, RuleFallback):
                    try:
                        self.rule(service, step)
                    except Exception as exc:
                        log.warning("could not load fallback rule %s: %s", step.entrypoint, exc)

    def stats(self) -> dict[str, Any]:
        """Per isolated runtime, what its worker processes are doing (for the runtime API)."""
        out: dict[str, Any] = {}
        for (version_id, isolation), runtime in list(self._runtimes.items()):
            stats = getattr(runtime, "stats", None)
            if isolation is not None and callable(stats):
                out[version_id] = stats()
        return out

    def close(self) -> None:
        with self._guard:
            runtimes, self._runtimes = list(self._runtimes.values()), {}
            timers, self._retiring = self._retiring, []
        for timer in timers:  # close what was waiting to retire now, not after its grace
            timer.cancel()
            timer.function(*timer.args, **timer.kwargs)
        for runtime in runtimes:
            runtime.close()
