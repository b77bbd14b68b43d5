"""Server-rendered console: the template environment, role-aware navigation, error pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from shipyard import __version__
from shipyard.auth.principal import Principal

WEB_DIR = Path(__file__).parent
STATIC_DIR = WEB_DIR / "static"
_DOMAINS = Path(__file__).parent.parent

# Each domain keeps its own templates/ folder; the layout lives in web/templates.
templates = Jinja2Templates(
    directory=[
        WEB_DIR / "templates",
        _DOMAINS / "auth" / "templates",
        _DOMAINS / "registry" / "templates",
        _DOMAINS / "audit" / "templates",
        _DOMAINS / "batchjobs" / "templates",
        _DOMAINS / "documents" / "templates",
        _DOMAINS / "review" / "templates",
        _DOMAINS / "review" / "queue" / "templates",
        _DOMAINS / "assistants" / "policy" / "templates",
        _DOMAINS / "monitoring" / "drift" / "templates",
        _DOMAINS / "serving" / "templates",
        _DOMAINS / "monitoring" / "rollups" / "templates",
        _DOMAINS / "monitoring" / "alerts" / "templates",
    ]
)
templates.env.globals["version"] = __version__

# (label, path, permission) — a link shows only when the principal holds the permission.
NAV: list[tuple[str, str, str]] = [
    ("Dashboard", "/dashboard", "service:read"),
    ("Services", "/services", "service:read"),
    ("Predictions", "/predictions", "prediction:read"),
    ("Reviews", "/reviews", "review:read"),
    ("Jobs", "/jobs", "job:read"),
    ("Ask", "/ask", "service:invoke"),
    ("Documents", "/documents", "document:read"),
    ("Alerts", "/alerts", "alert:read"),
    ("Audit log", "/audit", "audit:read"),
    ("Users", "/users", "user:read"),
    ("API keys", "/keys", "self"),
]


def nav_for(principal: Principal | None) -> list[tuple[str, str]]:
    if principal is None:
        return []
    return [(label, path) for label, path, perm in NAV if principal.can(perm)]


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    principal: Principal | None = getattr(request.state, "principal", None)
    return templates.TemplateResponse(
        request,
        template,
        {
            "principal": principal,
            "nav": nav_for(principal),
            "path": request.url.path,
            "csrf_token": principal.csrf_token if principal else "",
            "request_id": getattr(request.state, "request_id", ""),
            **context,
        },
        status_code=status_code,
    )


def render_error(request: Request, status: int, title: str, detail: str) -> HTMLResponse:
    return render(request, "error.html", status_code=status, status=status, title=title, detail=detail)
