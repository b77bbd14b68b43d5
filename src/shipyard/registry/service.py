"""Services and model versions: create, change, pause, register, make live. Every change audited."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shipyard.audit.service import Actor, record
from shipyard.auth.models import User
from shipyard.core.errors import Conflict, InvalidInput, NotFound
from shipyard.db.changes import bump
from shipyard.registry.artifacts import ArtifactStore
from shipyard.registry.cache import SchemaValidator, read_policy
from shipyard.registry.loaders import LoadSpec, get_loader
from shipyard.registry.loaders.callable import needs_host
from shipyard.registry.models import ModelVersion, Service
from shipyard.registry.schemas import ServiceCreate, ServiceRead, ServiceUpdate, VersionCreate, VersionRead
from shipyard.serving.policy import FixedFallback, RuleFallback, RuntimePolicy, VersionFallback

TOPIC = "registry"


def get_service(session: Session, slug: str) -> Service:
    service = session.scalar(select(Service).where(Service.slug == slug))
    if service is None:
        raise NotFound(f"no service {slug!r}")
    return service


def list_services(session: Session) -> list[Service]:
    return list(session.scalars(select(Service).order_by(Service.slug)))


def _owner_id(session: Session, username: str | None) -> str | None:
    if username is None:
        return None
    user_id = session.scalar(select(User.id).where(User.username == username))
    if user_id is None:
        raise InvalidInput(f"owner {username!r} is not a user")
    return user_id


def _view(session: Session, service: Service) -> dict[str, Any]:
    return to_read(session, service).model_dump(mode="json", exclude={"created_at", "updated_at"})


def to_read(session: Session, service: Service) -> ServiceRead:
    owner = session.get(User, service.owner_id) if service.owner_id else None
    live = session.get(ModelVersion, service.live_version_id) if service.live_version_id else None
    return ServiceRead(
        slug=service.slug,
        name=service.name,
        description=service.description,
        scope=service.scope,
        owner=owner.username if owner else None,
        input_schema=service.input_schema,
        output_schema=service.output_schema,
        latency_slo_ms=service.latency_slo_ms,
        timeout_ms=service.timeout_ms,
        policy=read_policy(service),
        live_version=live.number if live else None,
        paused=service.paused,
        paused_reason=service.paused_reason,
        paused_by=service.paused_by,
        paused_at=service.paused_at,
        created_at=service.created_at,
        updated_at=service.updated_at,
    )


def create_service(
    session: Session, actor: Actor, data: ServiceCreate, *, default_owner: str | None = None
) -> Service:
    if session.scalar(select(Service.id).where(Service.slug == data.slug)):
        raise Conflict(f"a service {data.slug!r} already exists")
    now = actor.clock.now()
    service = Service(
        slug=data.slug,
        name=data.name,
        description=data.description,
        scope=data.scope,
        owner_id=_owner_id(session, data.owner or default_owner),
        input_schema=data.input_schema,
        output_schema=data.output_schema,
        latency_slo_ms=data.latency_slo_ms,
        timeout_ms=data.timeout_ms,
        created_at=now,
        updated_at=now,
    )
    session.add(service)
    session.flush()
    if data.policy is not None:
        _check_policy(session, service, data.policy)
        service.policy = data.policy.model_dump(mode="json", exclude_defaults=True)
    record(
        session,
        actor,
        "service.create",
        "service",
        service.slug,
        service=service.slug,
        after=_view(session, service),
    )
    bump(session, TOPIC)
    return service


def update_service(session: Session, actor: Actor, slug: str, data: ServiceUpdate) -> Service:
    service = get_service(session, slug)
    before = _view(session, service)
    changes = data.model_dump(exclude_unset=True)
    if "owner" in changes:
        service.owner_id = _owner_id(session, changes.pop("owner"))
    for field, value in changes.items():
        setattr(service, field, value)
    if "output_schema" in changes:  # the fixed answers of the fallback chain must still fit
        _check_policy(session, service, read_policy(service))
    service.updated_at = actor.clock.now()
    session.flush()
    record(
        session,
        actor,
        "service.update",
        "service",
        slug,
        service=slug,
        before=before,
        after=_view(session, service),
    )
    bump(session, TOPIC)
    return service


def set_policy(session: Session, actor: Actor, slug: str, policy: RuntimePolicy) -> Service:
    """Replace the service's runtime policy (timeouts stay on the service itself)."""
    service = get_service(session, slug)
    _check_policy(session, service, policy)
    before = read_policy(service).model_dump(mode="json")
    # Only what differs from the defaults is stored, so improved defaults reach untouched settings.
    service.policy = policy.model_dump(mode="json", exclude_defaults=True)
    service.updated_at = actor.clock.now()
    session.flush()
    record(
        session,
        actor,
        "service.policy",
        "service",
        slug,
        service=slug,
        before=before,
        after=policy.model_dump(mode="json"),
    )
    bump(session, TOPIC)
    return service


def _check_policy(session: Session, service: Service, policy: RuntimePolicy) -> None:
    """Catch a broken fallback chain when it is written, not when the primary model first fails."""
    versions = list(session.scalars(select(ModelVersion).where(ModelVersion.service_id == service.id)))
    numbers = {v.number for v in versions}
    if policy.isolation.mode == "process":
        for v in versions:
            if v.loader == "callable" and v.artifact_sha256 is None and needs_host(v.entrypoint or ""):
                raise InvalidInput(
                    f"isolation: version {v.number} uses the serving process's resources (its model takes "
                    "`host`, e.g. the policy corpus), so it cannot run in a separate process",
                    code="bad_policy",
                )
    validator = SchemaValidator(service.output_schema) if service.output_schema else None
    for i, step in enumerate(policy.fallbacks):
        where = f"fallbacks[{i}]"
        if isinstance(step, VersionFallback) and step.version not in numbers:
            raise InvalidInput(f"{where}: {service.slug} has no version {step.version}", code="bad_policy")
        if isinstance(step, FixedFallback) and validator is not None:
            violations = validator.errors(step.output)
            if violations:
                raise InvalidInput(
                    f"{where}: the fixed output breaks the service's output schema",
                    code="bad_policy",
                    errors=violations,
                )
        if isinstance(step, RuleFallback):
            spec = LoadSpec(
                artifact_path=None,
                entrypoint=step.entrypoint,
                config={},
                input_schema=service.input_schema,
                returns_confidence=False,
            )
            try:
                get_loader("callable").load(spec).close()
            except InvalidInput as exc:
                raise InvalidInput(f"{where}: {exc.detail}", code="bad_policy") from exc


def pause(session: Session, actor: Actor, slug: str, reason: str) -> Service:
    """The kill switch: every call is refused with 503 until resumed."""
    service = get_service(session, slug)
    if not reason.strip():
        raise InvalidInput("a pause needs a reason")
    if service.paused:
        raise Conflict(f"{slug} is already paused (by {service.paused_by}: {service.paused_reason})")
    service.paused, service.paused_reason, service.paused_by = True, reason.strip(), actor.name
    service.paused_at = service.updated_at = actor.clock.now()
    record(
        session,
        actor,
        "service.pause",
        "service",
        slug,
        service=slug,
        before={"paused": False},
        after={"paused": True, "reason": service.paused_reason},
    )
    bump(session, TOPIC)
    return service


def resume(session: Session, actor: Actor, slug: str, reason: str | None = None) -> Service:
    service = get_service(session, slug)
    if not service.paused:
        raise Conflict(f"{slug} is not paused")
    before = {"paused": True, "reason": service.paused_reason, "by": service.paused_by}
    service.paused, service.paused_reason, service.paused_by, service.paused_at = False, None, None, None
    service.updated_at = actor.clock.now()
    record(
        session,
        actor,
        "service.resume",
        "service",
        slug,
        service=slug,
        before=before,
        after={"paused": False, "reason": reason},
    )
    bump(session, TOPIC)
    return service


# --- versions --------------------------------------------------------------------------------------


def list_versions(session: Session, slug: str) -> list[ModelVersion]:
    service = get_service(session, slug)
    return list(
        session.scalars(
            select(ModelVersion)
            .where(ModelVersion.service_id == service.id)
            .order_by(ModelVersion.number.desc())
        )
    )


def get_version(session: Session, slug: str, number: int) -> ModelVersion:
    service = get_service(session, slug)
    version = session.scalar(
        select(ModelVersion).where(ModelVersion.service_id == service.id, ModelVersion.number == number)
    )
    if version is None:
        raise NotFound(f"{slug} has no version {number}")
    return version


def version_read(service: Service, version: ModelVersion) -> VersionRead:
    read = VersionRead.model_validate(version)
    read.live = service.live_version_id == version.id
    return read


def register_version(
    session: Session,
    actor: Actor,
    store: ArtifactStore,
    slug: str,
    data: VersionCreate,
    artifact: Path | None = None,
    *,
    timeout_s: float = 10.0,
    host: Mapping[str, Any] | None = None,
) -> ModelVersion:
    """Store the artifact, prove the loader can load it, and record an immutable version.

    `host` is what the serving process offers in-process models (LoadSpec.host), for a model that
    needs it to load at all (the policy assistant needs the corpus).
    """
    service = get_service(session, slug)
    loader = get_loader(data.loader)
    sha, kind = store.put(artifact) if artifact is not None else (None, None)
    spec = LoadSpec(
        artifact_path=store.path_for(sha, kind) if sha and kind else None,
        entrypoint=data.entrypoint,
        config=data.config,
        input_schema=service.input_schema,
        returns_confidence=data.returns_confidence,
        timeout_s=timeout_s,
        host=host or {},
    )
    loader.validate(spec)
    if data.loader != "http":  # a remote endpoint may not be up yet; everything else must load now
        loader.load(spec).close()
    number = (
        session.scalar(select(func.max(ModelVersion.number)).where(ModelVersion.service_id == service.id))
        or 0
    ) + 1
    version = ModelVersion(
        service_id=service.id,
        number=number,
        loader=data.loader,
        artifact_sha256=sha,
        artifact_kind=kind,
        entrypoint=data.entrypoint,
        config=data.config,
        returns_confidence=data.returns_confidence,
        supports_batching=data.supports_batching,
        description=data.description,
        created_by=actor.name,
        created_at=actor.clock.now(),
    )
    session.add(version)
    session.flush()
    record(
        session,
        actor,
        "version.create",
        "model_version",
        f"{slug}@{number}",
        service=slug,
        after={
            "number": number,
            "loader": data.loader,
            "artifact_sha256": sha,
            "entrypoint": data.entrypoint,
            "config": data.config,
            "returns_confidence": data.returns_confidence,
            "supports_batching": data.supports_batching,
        },
    )
    if data.make_live:
        set_live(session, actor, slug, number)
    bump(session, TOPIC)
    return version


def register_object(
    session: Session,
    actor: Actor,
    store: ArtifactStore,
    slug: str,
    obj: object,
    *,
    returns_confidence: bool | None = None,
    description: str = "",
    config: dict[str, Any] | None = None,
    make_live: bool = False,
) -> ModelVersion:
    """Register a Python object (a fitted estimator, a pipeline, a callable) by pickling it with joblib."""
    import joblib

    if returns_confidence is None:
        returns_confidence = hasattr(obj, "predict_proba")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.joblib"
        joblib.dump(obj, path)
        return register_version(
            session,
            actor,
            store,
            slug,
            VersionCreate(
                loader="joblib",
                config=config or {},
                returns_confidence=returns_confidence,
                description=description,
                make_live=make_live,
            ),
            path,
        )


def set_live(session: Session, actor: Actor, slug: str, number: int) -> Service:
    """Make version `number` take all of the service's traffic."""
    service = get_service(session, slug)
    version = get_version(session, slug, number)
    previous = session.get(ModelVersion, service.live_version_id) if service.live_version_id else None
    if previous is not None and previous.id == version.id:
        return service
    service.live_version_id = version.id
    service.updated_at = actor.clock.now()
    record(
        session,
        actor,
        "version.live",
        "service",
        slug,
        service=slug,
        before={"live_version": previous.number if previous else None},
        after={"live_version": number},
    )
    bump(session, TOPIC)
    return service
