"""Console predictions browser: recorded calls filtered by service, version, outcome, time and SLO.

The list shows metadata only; opening one prediction shows its payload, and that read is audited.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from shipyard.auth.principal import Principal
from shipyard.core.errors import Forbidden, NotFound
from shipyard.registry import service as registry
from shipyard.serving import predictions
from shipyard.serving.schemas import OUTCOMES
from shipyard.web.console import render
from shipyard.web.deps import Require, actor, get_ctx

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
TIME_FORMAT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends; always UTC here


def browse_url(**filters: Any) -> str:
    """A link to the predictions browser with these filters (datetimes as UTC minutes)."""
    query = {}
    for key, value in filters.items():
        if value is None or value == "" or value is False:
            continue
        if isinstance(value, datetime):
            value = value.astimezone(UTC).strftime(TIME_FORMAT)
        query[key] = "1" if value is True else str(value)
    return "/predictions?" + urlencode(query) if query else "/predictions"


def _time(value: str, label: str, problems: list[str]) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace(" ", "T"))
    except ValueError:
        problems.append(f"'{label}' must be a UTC time like 2026-01-31T09:30; it was ignored")
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def readable_services(session: Any, principal: Principal) -> dict[str, int]:
    """The services whose predictions `principal` may read, with their latency SLO (ms)."""
    return {
        row.slug: row.latency_slo_ms
        for row in registry.list_services(session)
        if principal.can("prediction:read", service=row.slug, service_owner=row.owner_id)
    }


@router.get("/predictions", response_class=HTMLResponse)
def predictions_page(
    request: Request,
    principal: Annotated[Principal, Depends(Require("prediction:read"))],
    service: str = "",
    version: str = "",
    outcome: str = "",
    start: str = "",
    end: str = "",
    slow: str = "",
    page: str = "",
) -> HTMLResponse:
    # Parameters are read as text and checked here, so a bad value gets a message on the page.
    problems: list[str] = []
    number = int(version) if version.strip().isdigit() else None
    if version.strip() and number is None:
        problems.append("'version' must be a number (0: calls refused before a version was chosen)")
    if outcome and outcome not in OUTCOMES:
        problems.append(f"'outcome' must be one of {', '.join(OUTCOMES)}; it was ignored")
        outcome = ""
    since, until = _time(start, "start", problems), _time(end, "end", problems)
    page_no = int(page) if page.isdigit() and int(page) > 0 else 1
    with get_ctx(request).uow() as session:
        readable = readable_services(session, principal)
        if service and service not in readable:
            registry.get_service(session, service)  # 404 when there is no such service
            raise Forbidden(f"{principal.name} may not prediction:read on {service}", code="forbidden")
        slos = {service: readable[service]} if service else readable
        query = predictions.Search(
            services=list(slos),
            version=number,
            outcome=outcome or None,
            start=since,
            end=until,
            slow_slos=slos if slow else None,
        )
        rows = predictions.search(session, query, offset=(page_no - 1) * PAGE_SIZE, limit=PAGE_SIZE + 1)
    filters = {
        "service": service,
        "version": "" if number is None else str(number),
        "outcome": outcome,
        "start": since.strftime(TIME_FORMAT) if since else "",
        "end": until.strftime(TIME_FORMAT) if until else "",
        "slow": "1" if slow else "",
    }
    kept = {k: v for k, v in filters.items() if v}
    return render(
        request,
        "predictions.html",
        rows=rows[:PAGE_SIZE],
        filters=filters,
        filtered=bool(kept),
        services=sorted(readable),
        outcomes=OUTCOMES,
        slos=slos,
        page=page_no,
        newer=browse_url(**kept, page=page_no - 1 if page_no > 2 else None) if page_no > 1 else None,
        older=browse_url(**kept, page=page_no + 1) if len(rows) > PAGE_SIZE else None,
        flashes=[("error", p) for p in problems],
    )


@router.get("/predictions/{request_id}", response_class=HTMLResponse)
def prediction_page(
    request_id: str,
    request: Request,
    principal: Annotated[Principal, Depends(Require("prediction:read"))],
) -> HTMLResponse:
    """One prediction with its payload; the read is audited."""
    with get_ctx(request).uow() as session:
        slug = predictions.service_of(session, request_id)
        try:
            owner = registry.get_service(session, slug).owner_id
        except NotFound:
            owner = None
        # Checked before the payload is read, so a refused reader leaves no audited read behind.
        if not principal.can("prediction:read", service=slug, service_owner=owner):
            raise Forbidden(f"{principal.name} may not prediction:read on {slug}", code="forbidden")
        row = predictions.get(session, actor(request, principal), request_id)
        return render(request, "prediction.html", p=row, back=browse_url(service=slug))
