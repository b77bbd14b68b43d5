"""GET /v1/services/{slug}/rollups — a service's call history from the database, no Prometheus needed."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from shipyard.auth.principal import Principal
from shipyard.monitoring.rollups import service as rollups
from shipyard.monitoring.rollups.schemas import Resolution, RollupSeries
from shipyard.registry import service as registry
from shipyard.web.deps import Require, get_ctx

router = APIRouter(prefix="/v1/services", tags=["monitoring"])


@router.get("/{slug}/rollups", response_model=RollupSeries)
def get_rollups(
    slug: str,
    request: Request,
    principal: Annotated[Principal, Depends(Require("service:read"))],
    start: Annotated[datetime | None, Query(description="Default: 24 hours before `end`.")] = None,
    end: Annotated[datetime | None, Query(description="Default: now.")] = None,
    resolution: Annotated[
        Resolution | None,
        Query(description="minute, hour or day; default: the finest still kept, at most 500 buckets."),
    ] = None,
    version: Annotated[
        int | None, Query(description="One version (0: calls refused before routing).")
    ] = None,
) -> RollupSeries:
    """Calls by outcome, latency histogram and percentiles, slow replies and cost, bucketed over time.

    Buckets with no calls are left out. Minute buckets are kept 48 hours, hours 90 days and days two
    years by default; a range is answered from the finest resolution still kept at its start. Numbers
    lag the calls by up to a minute (the rollup job's interval) plus the recorder's shipping delay.
    """
    ctx = get_ctx(request)
    now = ctx.clock.now()
    end = end or now
    start = start or end - timedelta(hours=24)
    rollups.check_range(start, end, resolution)
    kept = ctx.settings.monitoring.rollups
    with ctx.uow() as session:
        registry.get_service(session, slug)  # 404 for a service that does not exist
        res, buckets = rollups.series(
            session, slug, start, end, kept=kept, now=now, resolution=resolution, version=version
        )
    return RollupSeries(
        service=slug,
        version=version,
        resolution=res,
        start=start,
        end=end,
        buckets=buckets,
        totals=rollups.merge(buckets),
    )
