"""What the hot path needs to know about a service, held in memory and dropped on change."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import fastjsonschema
from jsonschema import Draft202012Validator
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from shipyard.core.errors import NotFound
from shipyard.registry.models import ModelVersion, Service
from shipyard.serving.policy import DEFAULT_POLICY, RuntimePolicy, VersionFallback

log = logging.getLogger(__name__)

# Keywords fastjsonschema (drafts 4-7) does not know; schemas using them go straight to jsonschema.
_NEWER_KEYWORDS = {
    "prefixItems",
    "dependentRequired",
    "dependentSchemas",
    "unevaluatedProperties",
    "unevaluatedItems",
    "$dynamicRef",
    "$dynamicAnchor",
    "minContains",
    "maxContains",
}


def _uses_newer_keywords(node: Any) -> bool:
    if isinstance(node, dict):
        return bool(_NEWER_KEYWORDS & node.keys()) or any(_uses_newer_keywords(v) for v in node.values())
    if isinstance(node, list):
        return any(_uses_newer_keywords(v) for v in node)
    return False


class SchemaValidator:
    """Fast accept path (compiled); on failure, jsonschema lists every violation."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self._full = Draft202012Validator(schema)
        self._fast = None
        if not _uses_newer_keywords(schema):
            try:
                self._fast = fastjsonschema.compile({k: v for k, v in schema.items() if k != "$schema"})
            except Exception:  # anything it cannot compile is still checked by jsonschema
                self._fast = None

    def errors(self, value: Any) -> list[dict[str, str]]:
        if self._fast is not None:
            try:
                self._fast(value)
                return []
            except fastjsonschema.JsonSchemaException:
                pass
        return [
            {
                "loc": "/" + "/".join(str(p) for p in err.absolute_path),
                "message": err.message,
                "rule": str(err.validator),
            }
            for err in sorted(self._full.iter_errors(value), key=lambda e: list(map(str, e.absolute_path)))
        ]


@dataclass(frozen=True)
class VersionConfig:
    id: str
    number: int
    loader: str
    artifact_sha256: str | None
    artifact_kind: str | None
    entrypoint: str | None
    config: dict[str, Any]
    returns_confidence: bool
    supports_batching: bool

    @classmethod
    def of(cls, version: ModelVersion) -> VersionConfig:
        return cls(
            id=version.id,
            number=version.number,
            loader=version.loader,
            artifact_sha256=version.artifact_sha256,
            artifact_kind=version.artifact_kind,
            entrypoint=version.entrypoint,
            config=dict(version.config),
            returns_confidence=version.returns_confidence,
            supports_batching=version.supports_batching,
        )


@dataclass(frozen=True)
class ServiceConfig:
    id: str
    slug: str
    owner_id: str | None
    paused: bool
    paused_reason: str | None
    paused_by: str | None
    paused_at: datetime | None
    timeout_s: float
    latency_slo_ms: int
    input_schema: dict[str, Any]
    live: VersionConfig | None
    input_validator: SchemaValidator
    output_validator: SchemaValidator | None
    policy: RuntimePolicy = DEFAULT_POLICY
    # The versions the fallback chain names, by number (a version named but missing is left out).
    fallback_versions: dict[int, VersionConfig] | None = None


def read_policy(service: Service) -> RuntimePolicy:
    try:
        return RuntimePolicy.model_validate(service.policy or {})
    except ValueError as exc:  # written through the API, so valid; a hand-edited row falls back loudly
        log.error("service %s has an invalid stored policy, using the defaults: %s", service.slug, exc)
        return DEFAULT_POLICY


def load_config(session: Session, slug: str) -> ServiceConfig:
    service = session.scalar(select(Service).where(Service.slug == slug))
    if service is None:
        raise NotFound(f"no service {slug!r}")
    live = session.get(ModelVersion, service.live_version_id) if service.live_version_id else None
    policy = read_policy(service)
    numbers = [step.version for step in policy.fallbacks if isinstance(step, VersionFallback)]
    fallbacks = (
        session.scalars(
            select(ModelVersion).where(
                ModelVersion.service_id == service.id, ModelVersion.number.in_(numbers)
            )
        ).all()
        if numbers
        else []
    )
    return ServiceConfig(
        id=service.id,
        slug=service.slug,
        owner_id=service.owner_id,
        paused=service.paused,
        paused_reason=service.paused_reason,
        paused_by=service.paused_by,
        paused_at=service.paused_at,
        timeout_s=service.timeout_ms / 1000,
        latency_slo_ms=service.latency_slo_ms,
        input_schema=service.input_schema,
        live=VersionConfig.of(live) if live else None,
        input_validator=SchemaValidator(service.input_schema),
        output_validator=SchemaValidator(service.output_schema) if service.output_schema else None,
        policy=policy,
        fallback_versions={v.number: VersionConfig.of(v) for v in fallbacks},
    )


def live_configs(session: Session) -> list[ServiceConfig]:
    slugs = session.scalars(select(Service.slug).where(Service.live_version_id.is_not(None)))
    return [load_config(session, slug) for slug in slugs]


class ServiceCache:
    def __init__(self, factory: sessionmaker[Session]) -> None:
        self._factory = factory
        self._items: dict[str, ServiceConfig] = {}
        self._generation = 0
        self._lock = threading.Lock()

    def peek(self, slug: str) -> ServiceConfig | None:
        return self._items.get(slug)

    def load(self, slug: str) -> ServiceConfig:
        """Cache miss: read from the database (call from a worker thread)."""
        generation = self._generation
        with self._factory() as session:
            config = load_config(session, slug)
        with self._lock:
            if generation == self._generation:  # don't cache what an invalidation raced past
                self._items[slug] = config
        return config

    def invalidate(self) -> None:
        with self._lock:
            self._generation += 1
            self._items = {}
