"""Console pages for sign-in and sign-out, users, and your API keys."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlparse

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from shipyard.auth import service as auth
from shipyard.auth.api import login_user, set_session_cookie
from shipyard.auth.principal import Principal
from shipyard.auth.roles import ROLES
from shipyard.auth.schemas import KeyCreate, KeyRead, UserCreate, UserRead, UserUpdate
from shipyard.core.errors import ShipyardError, TooManyAttempts, Unauthenticated
from shipyard.web.console import render
from shipyard.web.deps import SESSION_COOKIE, Require, actor, get_ctx, public
from shipyard.web.problems import status_for

router = APIRouter(include_in_schema=False)

HOME = "/dashboard"  # where signing in lands: the morning dashboard


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths, so the login form cannot be used as an open redirect."""
    if not target:
        return HOME
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return HOME
    # Browsers read "/\\host" as "//host" and drop tabs and newlines, so refuse those outright.
    if "\\" in target or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return HOME
    return target


@router.get("/", dependencies=[Depends(public)])
def home() -> RedirectResponse:
    return RedirectResponse(HOME, status_code=303)


@router.get("/login", response_class=HTMLResponse, dependencies=[Depends(public)])
def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    return render(request, "login.html", next=_safe_next(next) if next else "", error=None, username="")


@router.post("/login", dependencies=[Depends(public)])
def login_submit(
    request: Request,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str | None, Form()] = None,
) -> Response:
    try:
        token, principal = login_user(request, username, password)
    except (Unauthenticated, TooManyAttempts) as exc:
        status = 429 if isinstance(exc, TooManyAttempts) else 401
        return render(
            request,
            "login.html",
            status_code=status,
            next=_safe_next(next) if next else "",
            error=exc.detail,
            username=username,
        )
    target = _safe_next(next)
    if not next and not principal.can("service:read"):
        target = "/keys"  # consumers have no services page; their keys are what they can use
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(request, response, token, int(get_ctx(request).settings.auth.session_hours * 3600))
    return response


@router.post("/logout")
def logout_submit(request: Request, principal: Annotated[Principal, Depends(Require("self"))]) -> Response:
    if principal.session_id:
        with get_ctx(request).uow() as session:
            auth.end_session(session, actor(request, principal), principal.session_id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# --- users -----------------------------------------------------------------------------------------

# Flash messages travel as a fixed key in the redirect (?flash=...), never as free text, so a crafted
# link cannot make the console display words of an attacker's choosing.
FLASHES: dict[str, tuple[str, str]] = {
    "roles": ("ok", "Roles saved. They apply to the user's next request."),
    "disabled": ("ok", "User disabled: sign-in and the user's API keys stop working."),
    "enabled": ("ok", "User enabled (any sign-in lockout is cleared)."),
    "revoked": ("ok", "Key revoked. It stops working at once."),
}


def _flashes(request: Request) -> list[tuple[str, str]]:
    found = FLASHES.get(request.query_params.get("flash", ""))
    return [found] if found else []


def _invalid(exc: ValidationError) -> list[tuple[str, str]]:
    return [
        ("error", f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}")
        for e in exc.errors(include_url=False)
    ]


def _users_page(
    request: Request,
    principal: Principal,
    *,
    status_code: int = 200,
    flashes: list[tuple[str, str]] | None = None,
    one_time: tuple[str, str, str] | None = None,  # (username, password, why)
    form: dict[str, Any] | None = None,
) -> HTMLResponse:
    ctx = get_ctx(request)
    with ctx.uow() as session:
        users = [UserRead.model_validate(u) for u in auth.list_users(session)]
    return render(
        request,
        "users.html",
        status_code=status_code,
        users=users,
        roles=ROLES,
        now=ctx.clock.now(),
        can_manage=principal.can("user:manage"),
        one_time=one_time,
        form=form or {},
        flashes=flashes if flashes is not None else _flashes(request),
    )


@router.get("/users", response_class=HTMLResponse)
def users_page(
    request: Request, principal: Annotated[Principal, Depends(Require("user:read"))]
) -> HTMLResponse:
    return _users_page(request, principal)


@router.post("/users", response_class=HTMLResponse)
def user_create_submit(
    request: Request,
    principal: Annotated[Principal, Depends(Require("user:manage"))],
    username: Annotated[str, Form()] = "",
    display_name: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    roles: Annotated[list[str] | None, Form()] = None,
) -> HTMLResponse:
    form = {"username": username, "display_name": display_name, "email": email, "roles": roles or []}
    try:
        data = UserCreate(
            username=username.strip(),
            display_name=display_name.strip(),
            email=email.strip() or None,
            roles=roles or [],
        )
    except ValidationError as exc:
        return _users_page(request, principal, status_code=422, flashes=_invalid(exc), form=form)
    try:
        with get_ctx(request).uow() as session:
            user, password = auth.create_user(session, actor(request, principal), data)
            created = user.username
    except ShipyardError as exc:
        return _users_page(
            request, principal, status_code=status_for(exc), flashes=[("error", exc.detail)], form=form
        )
    # The password is in this response only: never in a URL, a log or the database.
    return _users_page(
        request,
        principal,
        flashes=[("ok", f"Created {created}.")],
        one_time=(created, password or "", "created"),
    )


def _update(request: Request, principal: Principal, username: str, data: UserUpdate, flash: str) -> Response:
    try:
        with get_ctx(request).uow() as session:
            auth.update_user(session, actor(request, principal), username, data)
    except ShipyardError as exc:
        return _users_page(request, principal, status_code=status_for(exc), flashes=[("error", exc.detail)])
    return RedirectResponse(f"/users?flash={flash}", status_code=303)


def _refuse_self(request: Request, principal: Principal, username: str, what: str) -> Response | None:
    """An admin must not lock themselves out from the console by accident."""
    if principal.kind == "user" and username == principal.name:
        return _users_page(request, principal, status_code=409, flashes=[("error", what)])
    return None


@router.post("/users/{username}/roles")
def user_roles_submit(
    username: str,
    request: Request,
    principal: Annotated[Principal, Depends(Require("user:manage"))],
    roles: Annotated[list[str] | None, Form()] = None,
) -> Response:
    if not roles:
        return _users_page(
            request,
            principal,
            status_code=422,
            flashes=[("error", "Pick at least one role, or disable the user instead.")],
        )
    if "admin" not in roles:
        refused = _refuse_self(request, principal, username, "You cannot remove your own admin role.")
        if refused:
            return refused
    try:
        data = UserUpdate(roles=roles)
    except ValidationError as exc:
        return _users_page(request, principal, status_code=422, flashes=_invalid(exc))
    return _update(request, principal, username, data, "roles")


@router.post("/users/{username}/disable")
def user_disable_submit(
    username: str, request: Request, principal: Annotated[Principal, Depends(Require("user:manage"))]
) -> Response:
    refused = _refuse_self(request, principal, username, "You cannot disable your own account.")
    return refused or _update(request, principal, username, UserUpdate(is_active=False), "disabled")


@router.post("/users/{username}/enable")
def user_enable_submit(
    username: str, request: Request, principal: Annotated[Principal, Depends(Require("user:manage"))]
) -> Response:
    return _update(request, principal, username, UserUpdate(is_active=True), "enabled")


@router.post("/users/{username}/reset-password", response_class=HTMLResponse)
def user_reset_submit(
    username: str, request: Request, principal: Annotated[Principal, Depends(Require("user:manage"))]
) -> HTMLResponse:
    try:
        with get_ctx(request).uow() as session:
            password = auth.reset_password(session, actor(request, principal), username)
    except ShipyardError as exc:
        return _users_page(request, principal, status_code=status_for(exc), flashes=[("error", exc.detail)])
    return _users_page(
        request,
        principal,
        flashes=[("ok", f"New password for {username}; their console sessions were ended.")],
        one_time=(username, password, "reset"),
    )


# --- API keys --------------------------------------------------------------------------------------


def _offered_roles(principal: Principal) -> list[str]:
    """A key may hold only roles its creator holds (admins may grant any)."""
    return list(ROLES) if "admin" in principal.roles else [r for r in ROLES if r in principal.roles]


def _keys_page(
    request: Request,
    principal: Principal,
    *,
    status_code: int = 200,
    flashes: list[tuple[str, str]] | None = None,
    secret: tuple[str, str] | None = None,  # (key name, secret)
    form: dict[str, Any] | None = None,
) -> HTMLResponse:
    ctx = get_ctx(request)
    keys: list[KeyRead] = []
    # An SSO principal has no local user; list_keys(None) would mean every user's keys.
    if principal.user_id is not None:
        with ctx.uow() as session:
            keys = [KeyRead.model_validate(k) for k in auth.list_keys(session, principal.user_id)]
    return render(
        request,
        "keys.html",
        status_code=status_code,
        keys=keys,
        roles=_offered_roles(principal),
        now=ctx.clock.now(),
        has_user=principal.user_id is not None,
        secret=secret,
        form=form or {"name": "", "roles": ["consumer"], "services": "", "expires_days": "90"},
        flashes=flashes if flashes is not None else _flashes(request),
    )


@router.get("/keys", response_class=HTMLResponse)
def keys_page(request: Request, principal: Annotated[Principal, Depends(Require("self"))]) -> HTMLResponse:
    return _keys_page(request, principal)


@router.post("/keys", response_class=HTMLResponse)
def key_create_submit(
    request: Request,
    principal: Annotated[Principal, Depends(Require("self"))],
    name: Annotated[str, Form()] = "",
    roles: Annotated[list[str] | None, Form()] = None,
    services: Annotated[str, Form()] = "",
    expires_days: Annotated[str, Form()] = "",
) -> HTMLResponse:
    form = {"name": name, "roles": roles or [], "services": services, "expires_days": expires_days}
    beyond = sorted(set(roles or []) - set(_offered_roles(principal)))
    if beyond:
        return _keys_page(
            request,
            principal,
            status_code=403,
            flashes=[("error", f"You cannot give a key roles you do not hold: {', '.join(beyond)}.")],
            form=form,
        )
    slugs = [s.strip() for s in services.split(",") if s.strip()]
    if principal.services is not None:  # a service-limited key cannot mint a wider one
        outside = sorted(set(slugs) - principal.services)
        if outside:
            return _keys_page(
                request,
                principal,
                status_code=403,
                flashes=[("error", f"Your credential does not cover these services: {', '.join(outside)}.")],
                form=form,
            )
        slugs = slugs or sorted(principal.services)
    days = expires_days.strip()
    try:
        data = KeyCreate.model_validate(
            {
                "name": name.strip(),
                "roles": roles or [],
                "services": slugs or None,
                "expires_in_days": None if days in ("", "0") else days,  # blank or 0: never expires
            }
        )
    except ValidationError as exc:
        return _keys_page(request, principal, status_code=422, flashes=_invalid(exc), form=form)
    try:
        with get_ctx(request).uow() as session:
            key, secret = auth.create_key(session, actor(request, principal), principal, data)
            key_name = key.name
    except ShipyardError as exc:
        return _keys_page(
            request, principal, status_code=status_for(exc), flashes=[("error", exc.detail)], form=form
        )
    # The secret is in this response only: never in a URL, a log or the database (only its digest).
    return _keys_page(request, principal, secret=(key_name, secret))


@router.post("/keys/{key_id}/revoke")
def key_revoke_submit(
    key_id: str, request: Request, principal: Annotated[Principal, Depends(Require("self"))]
) -> Response:
    try:
        with get_ctx(request).uow() as session:
            auth.revoke_key(session, actor(request, principal), principal, key_id)
    except ShipyardError as exc:
        return _keys_page(request, principal, status_code=status_for(exc), flashes=[("error", exc.detail)])
    return RedirectResponse("/keys?flash=revoked", status_code=303)
