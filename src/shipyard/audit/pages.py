"""Console pages for the audit trail: the filterable log with before/after diffs, and chain verification."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from shipyard.audit import service as audit
from shipyard.auth.principal import Principal
from shipyard.web.console import render
from shipyard.web.deps import Require, get_ctx

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50


@dataclass(frozen=True)
class DiffLine:
    key: str
    before: str | None  # JSON text; None when the key is absent on that side
    after: str | None
    kind: str  # added | removed | changed | same


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def diff(before: Any, after: Any) -> list[DiffLine]:
    """Field-by-field when both sides are objects (or absent); otherwise one line for the whole value."""
    if before is None and after is None:
        return []
    if isinstance(before, dict | None) and isinstance(after, dict | None):
        old, new = before or {}, after or {}
        keys = list(old) + [k for k in new if k not in old]
        lines = []
        for key in keys:
            b = _json(old[key]) if key in old else None
            a = _json(new[key]) if key in new else None
            kind = "added" if b is None else "removed" if a is None else "same" if a == b else "changed"
            lines.append(DiffLine(str(key), b, a, kind))
        return lines
    b, a = _json(before), _json(after)
    return [DiffLine("", b, a, "same" if a == b else "changed")]


def _day(value: str, label: str, problems: list[str]) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        problems.append(f"'{label}' must be a date like 2026-01-31; it was ignored")
        return None


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    principal: Annotated[Principal, Depends(Require("audit:read"))],
    actor: str = "",
    action: str = "",
    service: str = "",
    since: str = "",
    until: str = "",
    before_seq: str = "",
) -> HTMLResponse:
    # Parameters are read as text and checked here, so a bad value gets a message on the page
    # instead of a JSON validation error.
    problems: list[str] = []
    since_day = _day(since, "since", problems)
    until_day = _day(until, "until", problems)
    before = int(before_seq) if before_seq.isdigit() else None
    if before_seq and before is None:
        problems.append("'before_seq' must be a number; showing the newest events")
    filters = {
        "actor": actor.strip(),
        "action": action.strip(),
        "service": service.strip(),
        "since": since_day.isoformat() if since_day else "",
        "until": until_day.isoformat() if until_day else "",
    }
    flt = audit.AuditFilter(
        actor=filters["actor"] or None,
        action=filters["action"] or None,
        service=filters["service"] or None,
        since=datetime.combine(since_day, time(), UTC) if since_day else None,
        # "until" names the last day shown, so the bound is the next midnight.
        until=datetime.combine(until_day + timedelta(days=1), time(), UTC) if until_day else None,
    )
    with get_ctx(request).uow() as session:
        rows = audit.list_events(session, flt, limit=PAGE_SIZE + 1, before_seq=before)
    events = [(event, diff(event.before, event.after)) for event in rows[:PAGE_SIZE]]
    kept = {k: v for k, v in filters.items() if v}
    older = (
        "/audit?" + urlencode({**kept, "before_seq": rows[PAGE_SIZE - 1].seq})
        if len(rows) > PAGE_SIZE
        else None
    )
    newest = ("/audit?" + urlencode(kept) if kept else "/audit") if before is not None else None
    return render(
        request,
        "audit.html",
        events=events,
        filters=filters,
        filtered=bool(kept),
        older=older,
        newest=newest,
        can_verify=principal.can("audit:verify"),
        flashes=[("error", p) for p in problems],
    )


@router.get("/audit/verify", response_class=HTMLResponse)
def verify_fragment(
    request: Request, principal: Annotated[Principal, Depends(Require("audit:verify"))]
) -> HTMLResponse:
    """An HTML fragment for htmx: OK with the count of events, or the first problem."""
    with get_ctx(request).uow() as session:
        report = audit.verify(session)
    return render(request, "audit_verify.html", report=report)
