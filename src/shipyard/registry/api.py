"""JSON routes for services and model versions."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from pydantic import ValidationError

from shipyard.auth.principal import Principal
from shipyard.core.errors import InvalidInput
from shipyard.registry import service as registry
from shipyard.registry.schemas import (
    PauseRequest,
    ServiceCreate,
    ServiceRead,
    ServiceUpdate,
    VersionCreate,
    VersionRead,
)
from shipyard.serving.policy import RuntimePolicy
from shipyard.web.deps import Require, actor, get_ctx

router = APIRouter(prefix="/v1/services", tags=["registry"])


@router.get("", response_model=list[ServiceRead])
def list_services(
    request: Request, principal: Annotated[Principal, Depends(Require("service:read"))]
) -> list[ServiceRead]:
    """All services, with their live version and paused state."""
    with get_ctx(request).uow() as session:
        services = registry.list_services(session)
        if principal.services is not None:  # a key limited to some services sees only those
            services = [s for s in services if s.slug in principal.services]
        return [registry.to_read(session, s) for s in services]


@router.post("", response_model=ServiceRead, status_code=201)
def create_service(
    data: ServiceCreate, request: Request, principal: Annotated[Principal, Depends(Require("service:create"))]
) -> ServiceRead:
    """Create a service. Its owner defaults to the caller."""
    with get_ctx(request).uow() as session:
        default_owner = principal.name if principal.kind == "user" else None
        if principal.kind == "key" and principal.user_id:
            from shipyard.auth.models import User

            owner = session.get(User, principal.user_id)
            default_owner = owner.username if owner else None
        service = registry.create_service(
            session, actor(request, principal), data, default_owner=default_owner
        )
        return registry.to_read(session, service)


@router.get("/{slug}", response_model=ServiceRead)
def get_service(
    slug: str, request: Request, principal: Annotated[Principal, Depends(Require("service:read"))]
) -> ServiceRead:
    with get_ctx(request).uow() as session:
        return registry.to_read(session, registry.get_service(session, slug))


@router.patch("/{slug}", response_model=ServiceRead)
def update_service(
    slug: str,
    data: ServiceUpdate,
    request: Request,
    principal: Annotated[Principal, Depends(Require("service:update"))],
) -> ServiceRead:
    """Change a service's description, owner, schemas, SLO or timeout."""
    with get_ctx(request).uow() as session:
        service = registry.update_service(session, actor(request, principal), slug, data)
        return registry.to_read(session, service)


@router.get("/{slug}/policy", response_model=RuntimePolicy)
def get_policy(
    slug: str, request: Request, principal: Annotated[Principal, Depends(Require("service:read"))]
) -> RuntimePolicy:
    """The service's runtime policy, defaults filled in."""
    with get_ctx(request).uow() as session:
        return registry.to_read(session, registry.get_service(session, slug)).policy


@router.put("/{slug}/policy", response_model=RuntimePolicy)
def put_policy(
    slug: str,
    policy: RuntimePolicy,
    request: Request,
    principal: Annotated[Principal, Depends(Require("service:update"))],
) -> RuntimePolicy:
    """Replace the runtime policy: retries, breaker, fallback chain, admission limits, batching,
    isolation, rate limit and what to do when the recorder is full. Omitted fields take their defaults.
    Applies to every worker within a second, without a restart; audited with before and after."""
    with get_ctx(request).uow() as session:
        service = registry.set_policy(session, actor(request, principal), slug, policy)
        return registry.to_read(session, service).policy


@router.post("/{slug}/pause", response_model=ServiceRead)
def pause_service(
    slug: str,
    data: PauseRequest,
    request: Request,
    principal: Annotated[Principal, Depends(Require("service:pause"))],
) -> ServiceRead:
    """The kill switch: every call answers 503 with who paused the service and why."""
    with get_ctx(request).uow() as session:
        return registry.to_read(
            session, registry.pause(session, actor(request, principal), slug, data.reason)
        )


@router.post("/{slug}/resume", response_model=ServiceRead)
def resume_service(
    slug: str, request: Request, principal: Annotated[Principal, Depends(Require("service:pause"))]
) -> ServiceRead:
    with get_ctx(request).uow() as session:
        return registry.to_read(session, registry.resume(session, actor(request, principal), slug))


@router.get("/{slug}/versions", response_model=list[VersionRead])
def list_versions(
    slug: str, request: Request, principal: Annotated[Principal, Depends(Require("service:read"))]
) -> list[VersionRead]:
    with get_ctx(request).uow() as session:
        service = registry.get_service(session, slug)
        return [registry.version_read(service, v) for v in registry.list_versions(session, slug)]


@router.post("/{slug}/versions", response_model=VersionRead, status_code=201)
async def register_version(
    slug: str,
    request: Request,
    principal: Annotated[Principal, Depends(Require("version:create"))],
    meta: Annotated[str, Form(description="VersionCreate as JSON: loader, entrypoint, config, ...")],
    artifact: Annotated[UploadFile | None, File(description="The model file or a tar of a directory")] = None,
) -> VersionRead:
    """Register an immutable model version (multipart: `meta` JSON and an optional `artifact` file).

    The artifact is stored content-addressed and loaded once before the version is accepted.
    """
    try:
        data = VersionCreate.model_validate_json(meta)
    except ValidationError as exc:
        raise InvalidInput(
            "meta is not a valid version description",
            code="invalid_input",
            errors=[
                {"loc": "/" + "/".join(map(str, e["loc"])), "message": e["msg"], "rule": e["type"]}
                for e in exc.errors()
            ],
        ) from None
    ctx = get_ctx(request)
    who = actor(request, principal)

    def work(path: Path | None) -> VersionRead:
        with ctx.uow() as session:
            version = registry.register_version(
                session, who, ctx.store, slug, data, path, host=ctx.host_resources()
            )
            return registry.version_read(registry.get_service(session, slug), version)

    if artifact is None:
        return await anyio.to_thread.run_sync(work, None)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(artifact.filename or "artifact").name
        with path.open("wb") as fh:
            await anyio.to_thread.run_sync(shutil.copyfileobj, artifact.file, fh)
        if data.config.pop("artifact_is_tar", False):  # the client tars directories for upload
            import tarfile

            unpacked = Path(tmp) / "unpacked"
            with tarfile.open(path) as tar:
                tar.extractall(unpacked, filter="data")
            path = unpacked
        return await anyio.to_thread.run_sync(work, path)


@router.post("/{slug}/versions/{number}/live", response_model=ServiceRead)
def make_live(
    slug: str,
    number: int,
    request: Request,
    principal: Annotated[Principal, Depends(Require("version:promote"))],
) -> ServiceRead:
    """Send all of the service's traffic to this version."""
    with get_ctx(request).uow() as session:
        return registry.to_read(session, registry.set_live(session, actor(request, principal), slug, number))
