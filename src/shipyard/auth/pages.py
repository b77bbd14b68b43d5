"""Console sign-in and sign-out."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlparse

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shipyard.auth import service as auth
from shipyard.auth.api import login_user, set_session_cookie
from shipyard.auth.principal import Principal
from shipyard.core.errors import TooManyAttempts, Unauthenticated
from shipyard.web.console import render
from shipyard.web.deps import SESSION_COOKIE, Require, actor, get_ctx, public

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths, so the login form cannot be used as an open redirect."""
    if not target:
        return "/services"
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return "/services"
    return target


@router.get("/", dependencies=[Depends(public)])
def home() -> RedirectResponse:
    return RedirectResponse("/services", status_code=303)


@router.get("/login", response_class=HTMLResponse, dependencies=[Depends(public)])
def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    return render(request, "login.html", next=_safe_next(next), error=None, username="")


@router.post("/login", dependencies=[Depends(public)])
def login_submit(
    request: Request,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str | None, Form()] = None,
) -> Response:
    try:
        token, _ = login_user(request, username, password)
    except (Unauthenticated, TooManyAttempts) as exc:
        status = 429 if isinstance(exc, TooManyAttempts) else 401
        return render(
            request,
            "login.html",
            status_code=status,
            next=_safe_next(next),
            error=exc.detail,
            username=username,
        )
    response = RedirectResponse(_safe_next(next), status_code=303)
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
