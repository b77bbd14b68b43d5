"""Console pages for services: the list, one service's detail, and its pause, resume and go-live forms."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from shipyard.auth.principal import Principal
from shipyard.core.errors import ShipyardError
from shipyard.registry import service as registry
from shipyard.registry.schemas import PauseRequest
from shipyard.serving import predictions
from shipyard.serving.policy import RuntimePolicy
from shipyard.serving.state import reset_breaker, runtime_view
from shipyard.web.console import render
from shipyard.web.deps import Require, actor, get_ctx
from shipyard.web.problems import status_for

router = APIRouter(include_in_schema=False)

# Flash messages travel as a fixed key in the redirect (?flash=paused), never as free text, so a
# crafted link cannot make the console display words of an attacker's choosing.
FLASHES: dict[str, tuple[str, str]] = {
    "paused": ("ok", "Paused. Every call now answers 503 with your reason."),
    "resumed": ("ok", "Resumed. The service takes calls again."),
    "live": ("ok", "The version is live and takes all traffic."),
    "policy": ("ok", "Policy saved. Every worker applies it within seconds."),
    "breaker": ("ok", "Breaker closed in this process; the next call goes to the version again."),
}
RECENT_PREDICTIONS = 20


def _flashes(request: Request) -> list[tuple[str, str]]:
    found = FLASHES.get(request.query_params.get("flash", ""))
    return [found] if found else []


@router.get("/services", response_class=HTMLResponse)
def services_page(
    request: Request, principal: Annotated[Principal, Depends(Require("service:read"))]
) -> HTMLResponse:
    with get_ctx(request).uow() as session:
        services = [
            registry.to_read(session, row)
            for row in registry.list_services(session)
            # Show only what the principal may open: owners see their own services, limited keys theirs.
            if principal.can("service:read", service=row.slug, service_owner=row.owner_id)
        ]
    return render(request, "services.html", services=services, flashes=_flashes(request))


def _detail(
    request: Request,
    principal: Principal,
    slug: str,
    *,
    status_code: int = 200,
    flashes: list[tuple[str, str]] | None = None,
    policy_text: str | None = None,
) -> HTMLResponse:
    ctx = get_ctx(request)
    with ctx.uow() as session:
        row = registry.get_service(session, slug)
        service = registry.to_read(session, row)
        versions = [registry.version_read(row, v) for v in registry.list_versions(session, slug)]
        allowed = {
            perm
            for perm in ("service:pause", "service:update", "version:promote", "prediction:read")
            if principal.can(perm, service=slug, service_owner=row.owner_id)
        }
        # Payload reads are audited by serving.predictions; the page shows metadata only.
        recent = (
            predictions.recent(session, actor(request, principal), slug, limit=RECENT_PREDICTIONS)
            if "prediction:read" in allowed
            else None
        )
    return render(
        request,
        "service_detail.html",
        status_code=status_code,
        service=service,
        versions=versions,
        allowed=allowed,
        recent=recent,
        flashes=flashes if flashes is not None else _flashes(request),
        slug=slug,
        runtime=runtime_view(ctx, ctx.services.load(slug)),
        can_reset="service:pause" in allowed,
        policy_text=policy_text,
        policy_error=policy_text is not None,
    )


@router.get("/services/{slug}", response_class=HTMLResponse)
def service_page(
    slug: str, request: Request, principal: Annotated[Principal, Depends(Require("service:read"))]
) -> HTMLResponse:
    return _detail(request, principal, slug)


def _failed(request: Request, principal: Principal, slug: str, exc: ShipyardError) -> HTMLResponse:
    """Show the page again with what went wrong (e.g. someone else paused it first)."""
    return _detail(request, principal, slug, status_code=status_for(exc), flashes=[("error", exc.detail)])


def _back(slug: str, flash: str) -> RedirectResponse:
    return RedirectResponse(f"/services/{quote(slug)}?flash={flash}", status_code=303)


@router.post("/services/{slug}/pause")
def pause_submit(
    slug: str,
    request: Request,
    principal: Annotated[Principal, Depends(Require("service:pause"))],
    reason: Annotated[str, Form()] = "",
) -> Response:
    try:
        data = PauseRequest(reason=reason.strip())
    except ValidationError:
        return _detail(
            request,
            principal,
            slug,
            status_code=422,
            flashes=[("error", "Give a reason of at least 3 characters; every caller will see it.")],
        )
    try:
        with get_ctx(request).uow() as session:
            registry.pause(session, actor(request, principal), slug, data.reason)
    except ShipyardError as exc:
        return _failed(request, principal, slug, exc)
    return _back(slug, "paused")


@router.post("/services/{slug}/resume")
def resume_submit(
    slug: str, request: Request, principal: Annotated[Principal, Depends(Require("service:pause"))]
) -> Response:
    try:
        with get_ctx(request).uow() as session:
            registry.resume(session, actor(request, principal), slug)
    except ShipyardError as exc:
        return _failed(request, principal, slug, exc)
    return _back(slug, "resumed")


@router.get("/services/{slug}/runtime", response_class=HTMLResponse)
def runtime_fragment(
    slug: str, request: Request, principal: Annotated[Principal, Depends(Require("service:read"))]
) -> HTMLResponse:
    """The runtime panel alone, for htmx to refresh in place."""
    ctx = get_ctx(request)
    config = ctx.services.load(slug)
    return render(
        request,
        "_runtime.html",
        slug=slug,
        runtime=runtime_view(ctx, config),
        can_reset=principal.can("service:pause", service=slug, service_owner=config.owner_id),
    )


@router.post("/services/{slug}/policy")
def policy_submit(
    slug: str,
    request: Request,
    principal: Annotated[Principal, Depends(Require("service:update"))],
    policy: Annotated[str, Form()] = "",
) -> Response:
    try:
        data = RuntimePolicy.model_validate_json(policy or "{}")
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'policy'}: {e['msg']}" for e in exc.errors()[:5]
        )
        return _detail(
            request, principal, slug, status_code=422, flashes=[("error", problems)], policy_text=policy
        )
    try:
        with get_ctx(request).uow() as session:
            registry.set_policy(session, actor(request, principal), slug, data)
    except ShipyardError as exc:
        return _detail(
            request,
            principal,
            slug,
            status_code=status_for(exc),
            flashes=[("error", exc.detail)],
            policy_text=policy,
        )
    return _back(slug, "policy")


@router.post("/services/{slug}/versions/{number}/breaker/reset")
def breaker_submit(
    slug: str,
    number: int,
    request: Request,
    principal: Annotated[Principal, Depends(Require("service:pause"))],
) -> Response:
    ctx = get_ctx(request)
    try:
        reset_breaker(ctx, actor(request, principal), ctx.services.load(slug), number)
    except ShipyardError as exc:
        return _failed(request, principal, slug, exc)
    return _back(slug, "breaker")


@router.post("/services/{slug}/versions/{number}/live")
def live_submit(
    slug: str,
    number: int,
    request: Request,
    principal: Annotated[Principal, Depends(Require("version:promote"))],
) -> Response:
    try:
        with get_ctx(request).uow() as session:
            registry.set_live(session, actor(request, principal), slug, number)
    except ShipyardError as exc:
        return _failed(request, principal, slug, exc)
    return _back(slug, "live")
