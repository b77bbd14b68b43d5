"""Request dependencies. Every route declares `Require(permission)` or `public`; nothing else."""

from __future__ import annotations

from typing import Annotated

import anyio.to_thread
from fastapi import Depends, Request

from shipyard.audit.service import Actor
from shipyard.auth import service as auth_service
from shipyard.auth.permissions import SERVICE_SCOPED, roles_for
from shipyard.auth.principal import Principal
from shipyard.core.crypto import constant_time_equals, token_digest
from shipyard.core.errors import Forbidden, Unauthenticated
from shipyard.web.context import AppContext

SESSION_COOKIE = "shipyard_session"
CSRF_HEADER = "x-csrf-token"
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def get_ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


Ctx = Annotated[AppContext, Depends(get_ctx)]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("the Authorization header must be 'Bearer <token>'", code="bad_auth_header")
        return token.strip()
    return request.headers.get("x-api-key")


async def _resolve(ctx: AppContext, digest: str, load: object) -> auth_service.Resolved:
    cached = ctx.principals.peek(digest)
    if cached is not None:
        return cached

    def fill() -> auth_service.Resolved:
        def loader() -> auth_service.Resolved:
            with ctx.sessions() as session:
                return load(session, ctx.clock)  # type: ignore[operator,no-any-return]

        return ctx.principals.fill(digest, loader)

    return await anyio.to_thread.run_sync(fill)


async def authenticate(request: Request) -> Principal:
    """API key, OIDC bearer token, or console session cookie; cached, so usually no DB trip."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    ctx = get_ctx(request)
    token = _bearer(request)
    if token is not None:
        if token.startswith(auth_service.KEY_PREFIX):
            resolved = await _resolve(
                ctx, token_digest(token), lambda s, clock: auth_service.resolve_key(s, clock, token)
            )
            if resolved.principal is None:
                raise Unauthenticated(resolved.reason, code="bad_api_key")
            principal = resolved.principal
        elif ctx.oidc is not None and token.count(".") == 2:
            identity = await ctx.oidc.verify(token)
            principal = Principal(
                id=f"oidc:{identity.username}",
                name=identity.username,
                kind="oidc",
                roles=identity.roles,
                expires_at=identity.expires_at,
            )
        else:
            raise Unauthenticated(
                "the bearer token is not a Shipyard API key" + (" or a valid SSO token" if ctx.oidc else ""),
                code="bad_api_key",
            )
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            raise Unauthenticated("sign in, or send an API key as 'Authorization: Bearer <key>'")
        resolved = await _resolve(
            ctx,
            "session:" + token_digest(cookie),
            lambda s, clock: auth_service.resolve_session(s, clock, cookie),
        )
        if resolved.principal is None:
            raise Unauthenticated(resolved.reason, code="session_ended")
        principal = resolved.principal
        if request.method in _UNSAFE:
            await _check_csrf(request, principal)
    request.state.principal = principal
    return principal


async def _check_csrf(request: Request, principal: Principal) -> None:
    sent = request.headers.get(CSRF_HEADER)
    form = None
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    if not sent or not principal.csrf_token or not constant_time_equals(sent, principal.csrf_token):
        if form is not None:
            await form.close()  # uploaded files spooled to disk, which the refused route never closes
        raise Forbidden("missing or wrong CSRF token; reload the page and try again", code="csrf")


class Require:
    """Declare a route's permission. Service-scoped permissions check the {slug} in the path."""

    def __init__(self, permission: str) -> None:
        roles_for(permission)  # fail at import time on a typo
        self.permission = permission

    def __repr__(self) -> str:
        return f"Require({self.permission!r})"

    async def __call__(self, request: Request) -> Principal:
        principal = await authenticate(request)
        if not principal.roles & roles_for(self.permission):
            raise Forbidden(f"{principal.name} may not {self.permission}", code="forbidden")
        await check_service(request, principal, self.permission, request.path_params.get("slug"))
        return principal


async def check_service(request: Request, principal: Principal, permission: str, slug: str | None) -> None:
    """The service-scoped half of a permission check, for routes that name the service elsewhere than
    in the path (the OpenAI-compatible route takes it from the body)."""
    owner = None
    if slug is not None and permission in SERVICE_SCOPED:
        if principal.services is not None and slug not in principal.services:
            raise Forbidden(f"{principal.name} is limited to other services", code="forbidden")
        if principal.roles & roles_for(permission) == {"owner"}:
            owner = (await get_ctx(request).service_config(slug)).owner_id
    if not principal.can(permission, service=slug, service_owner=owner):
        raise Forbidden(f"{principal.name} may not {permission} on {slug}", code="forbidden")


def public() -> None:
    """Marks a route that needs no principal (sign-in, health). Listed explicitly so the route audit
    test can tell a deliberate public route from a forgotten permission."""


def actor(request: Request, principal: Principal) -> Actor:
    return Actor(
        principal.name, principal.kind, getattr(request.state, "request_id", None), get_ctx(request).clock
    )
