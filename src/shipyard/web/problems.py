"""The one place errors become HTTP: RFC 9457 problem+json for the API, pages for the console."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from shipyard.core import errors
from shipyard.web.responses import JSONBytes

log = logging.getLogger(__name__)

STATUS: dict[type[errors.ShipyardError], int] = {
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.PayloadTooLarge: 413,
    errors.InvalidInput: 422,
    errors.Unauthenticated: 401,
    errors.Forbidden: 403,
    errors.TooManyAttempts: 429,
    errors.RateLimited: 429,
    errors.Timeout: 504,
    errors.Paused: 503,
    errors.Unavailable: 503,
    errors.ModelFailed: 502,
    errors.IntegrityFailure: 500,
}


def status_for(exc: errors.ShipyardError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def problem(status: int, code: str, title: str, detail: str, request: Request, /, **extra: Any) -> JSONBytes:
    body = {
        **extra,  # first, so an error's extras can never overwrite the problem's own fields
        "type": f"https://shipyard.dev/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "instance": request.url.path,
        "request_id": getattr(request.state, "request_id", None),
    }
    headers = {}
    if "retry_after" in extra:
        headers["Retry-After"] = str(extra["retry_after"])
    return JSONBytes(body, status_code=status, media_type="application/problem+json", headers=headers)


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith(
        ("/v1/", "/metrics", "/healthz")
    ) and "text/html" in request.headers.get("accept", "")


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.ShipyardError)
    async def _shipyard(request: Request, exc: errors.ShipyardError) -> Response:
        status = status_for(exc)
        if _wants_html(request):
            if isinstance(exc, errors.Unauthenticated):
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
            from shipyard.web.console import render_error

            return render_error(request, status, exc.title, exc.detail)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        response = problem(status, exc.code, exc.title, exc.detail, request, **exc.extra)
        if headers:
            response.headers.update(headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errs = [
            {
                "loc": "/" + "/".join(str(p) for p in e.get("loc", ())),
                "message": e.get("msg", ""),
                "rule": e.get("type", ""),
            }
            for e in exc.errors()
        ]
        return problem(
            422,
            "invalid_input",
            "Invalid input",
            f"the request is not valid ({len(errs)} problem{'s' if len(errs) != 1 else ''})",
            request,
            errors=errs,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        if _wants_html(request):
            from shipyard.web.console import render_error

            return render_error(request, exc.status_code, str(exc.detail), "")
        return problem(exc.status_code, code, str(exc.detail), str(exc.detail), request)

    @app.exception_handler(sa_exc.OperationalError)
    @app.exception_handler(sa_exc.InterfaceError)
    @app.exception_handler(sa_exc.TimeoutError)
    async def _database_down(request: Request, exc: Exception) -> Response:
        # The database being down is an outage to report, not a bug: 503, and come back later. The hot
        # path only gets here on a cache miss (a new key, a changed service) while it is down.
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
        detail = "the database is unavailable; retry shortly"
        if _wants_html(request):
            from shipyard.web.console import render_error

            return render_error(request, 503, "Database unavailable", detail)
        return problem(503, "database_unavailable", "Database unavailable", detail, request, retry_after=5)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(
            500,
            "internal_error",
            "Internal error",
            "an unexpected error occurred; it has been logged with this request id",
            request,
        )
