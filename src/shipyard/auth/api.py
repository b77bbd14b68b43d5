"""Sign-in, users and API keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel

from shipyard.auth import service as auth
from shipyard.auth.principal import Principal
from shipyard.auth.schemas import (
    KeyCreate,
    KeyCreated,
    KeyRead,
    LoginRequest,
    PasswordChange,
    UserCreate,
    UserCreated,
    UserRead,
    UserUpdate,
    WhoAmI,
)
from shipyard.core.errors import Forbidden, ShipyardError
from shipyard.web.deps import SESSION_COOKIE, Require, actor, authenticate, get_ctx, public

router = APIRouter(prefix="/v1", tags=["auth"])


class LoginResponse(WhoAmI):
    csrf_token: str


def set_session_cookie(request: Request, response: Response, token: str, max_age: int) -> None:
    settings = get_ctx(request).settings
    secure = settings.auth.cookie_secure and not (
        settings.env != "production" and request.url.scheme == "http"
    )
    response.set_cookie(
        SESSION_COOKIE, token, max_age=max_age, httponly=True, secure=secure, samesite="lax", path="/"
    )


def login_user(request: Request, username: str, password: str) -> tuple[str, Principal]:
    """Check the password (counting failures even when it is wrong) and open a console session."""
    ctx = get_ctx(request)
    failure: ShipyardError | None = None
    with ctx.uow() as session:
        try:
            user = auth.authenticate(session, ctx.settings.auth, ctx.clock, username, password)
        except ShipyardError as exc:
            failure = exc  # commit the failure counters, then raise
        else:
            token, row = auth.start_session(
                session, ctx.settings.auth, ctx.clock, user, request.state.request_id
            )
            principal = auth.user_principal(user, session_row=row)
    if failure is not None:
        raise failure
    return token, principal


@router.post("/auth/login", response_model=LoginResponse, dependencies=[Depends(public)])
def login(data: LoginRequest, request: Request, response: Response) -> LoginResponse:
    """Sign in with a password; sets the session cookie. Send `csrf_token` as X-CSRF-Token on writes."""
    token, principal = login_user(request, data.username, data.password)
    set_session_cookie(request, response, token, int(get_ctx(request).settings.auth.session_hours * 3600))
    return LoginResponse(
        name=principal.name,
        kind=principal.kind,
        roles=sorted(principal.roles),
        services=None,
        csrf_token=principal.csrf_token or "",
    )


@router.post("/auth/logout", status_code=204)
async def logout(
    request: Request, response: Response, principal: Annotated[Principal, Depends(Require("self"))]
) -> Response:
    ctx = get_ctx(request)
    if principal.session_id:
        with ctx.uow() as session:
            auth.end_session(session, actor(request, principal), principal.session_id)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/auth/me", response_model=WhoAmI)
async def whoami(principal: Annotated[Principal, Depends(Require("self"))]) -> WhoAmI:
    """Who the credential you sent belongs to, and its roles."""
    return WhoAmI(
        name=principal.name,
        kind=principal.kind,
        roles=sorted(principal.roles),
        services=sorted(principal.services) if principal.services is not None else None,
    )


@router.post("/auth/password", status_code=204)
def change_password(
    data: PasswordChange, request: Request, principal: Annotated[Principal, Depends(Require("self"))]
) -> Response:
    if principal.kind != "user" or not principal.user_id:
        raise Forbidden("only signed-in users have a password to change", code="not_a_user")
    with get_ctx(request).uow() as session:
        auth.change_password(
            session,
            actor(request, principal),
            principal.user_id,
            data.current_password,
            data.new_password,
            keep_session=principal.session_id,
        )
    return Response(status_code=204)


@router.get("/users", response_model=list[UserRead])
def list_users(
    request: Request, principal: Annotated[Principal, Depends(Require("user:read"))]
) -> list[UserRead]:
    with get_ctx(request).uow() as session:
        return [UserRead.model_validate(u) for u in auth.list_users(session)]


@router.post("/users", response_model=UserCreated, status_code=201)
def create_user(
    data: UserCreate, request: Request, principal: Annotated[Principal, Depends(Require("user:manage"))]
) -> UserCreated:
    """Create a user. Without a password, a one-time password is generated and returned once."""
    with get_ctx(request).uow() as session:
        user, generated = auth.create_user(session, actor(request, principal), data)
        return UserCreated.model_validate(
            {**UserRead.model_validate(user).model_dump(), "password": generated}
        )


@router.patch("/users/{username}", response_model=UserRead)
def update_user(
    username: str,
    data: UserUpdate,
    request: Request,
    principal: Annotated[Principal, Depends(Require("user:manage"))],
) -> UserRead:
    """Change roles, name or e-mail; disable or re-enable (which also clears a lockout)."""
    with get_ctx(request).uow() as session:
        return UserRead.model_validate(auth.update_user(session, actor(request, principal), username, data))


class PasswordReset(BaseModel):
    password: str


@router.post("/users/{username}/reset-password", response_model=PasswordReset)
def reset_password(
    username: str, request: Request, principal: Annotated[Principal, Depends(Require("user:manage"))]
) -> PasswordReset:
    """Generate a new one-time password, clear any lockout and end the user's sessions."""
    with get_ctx(request).uow() as session:
        return PasswordReset(password=auth.reset_password(session, actor(request, principal), username))


@router.get("/keys", response_model=list[KeyRead])
def list_keys(
    request: Request, principal: Annotated[Principal, Depends(Require("self"))], all_users: bool = False
) -> list[KeyRead]:
    """Your API keys; admins may pass all_users=true."""
    if all_users and not principal.can("key:manage"):
        raise Forbidden("only admins may list every user's keys")
    with get_ctx(request).uow() as session:
        if not all_users and principal.user_id is None:
            return []  # SSO principals own no keys; never fall through to "every user's keys"
        rows = auth.list_keys(session, None if all_users else principal.user_id)
        return [KeyRead.model_validate(k) for k in rows]


@router.post("/keys", response_model=KeyCreated, status_code=201)
def create_key(
    data: KeyCreate, request: Request, principal: Annotated[Principal, Depends(Require("self"))]
) -> KeyCreated:
    """Create an API key. The secret is in the response and is never shown again."""
    with get_ctx(request).uow() as session:
        key, secret = auth.create_key(session, actor(request, principal), principal, data)
        return KeyCreated.model_validate({**KeyRead.model_validate(key).model_dump(), "key": secret})


@router.delete("/keys/{key_id}", response_model=KeyRead)
def revoke_key(
    key_id: str, request: Request, principal: Annotated[Principal, Depends(Require("self"))]
) -> KeyRead:
    """Revoke a key at once (yours, or any key for admins)."""
    with get_ctx(request).uow() as session:
        return KeyRead.model_validate(auth.revoke_key(session, actor(request, principal), principal, key_id))


__all__ = ["router", "authenticate", "login_user", "set_session_cookie"]
