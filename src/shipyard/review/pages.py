"""Console page: accuracy per version of one service, per day, with an SVG chart."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from shipyard.auth.principal import Principal
from shipyard.review.api import accuracy_report
from shipyard.review.chart import accuracy_chart
from shipyard.web.console import render
from shipyard.web.deps import Require, get_ctx

router = APIRouter(include_in_schema=False)


@router.get("/services/{slug}/quality", response_class=HTMLResponse)
def quality_page(
    slug: str,
    request: Request,
    principal: Annotated[Principal, Depends(Require("service:read"))],
    days: Annotated[int, Query(ge=1, le=366)] = 30,
) -> HTMLResponse:
    report = accuracy_report(get_ctx(request), slug, days)
    return render(request, "quality.html", report=report, days=days, chart=accuracy_chart(report))
