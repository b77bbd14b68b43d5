"""JSON routes for drift: reference data per version, thresholds, the latest runs, run-now."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Depends, Query, Request

from shipyard.auth.principal import Principal
from shipyard.core.errors import InvalidInput
from shipyard.monitoring.drift import history
from shipyard.monitoring.drift import service as drift
from shipyard.monitoring.drift.jobs import publish
from shipyard.monitoring.drift.schemas import (
    CaptureRequest,
    DriftRead,
    ReferenceRead,
    RunRead,
    ThresholdsRead,
    ThresholdsUpdate,
)
from shipyard.registry import service as registry
from shipyard.web.deps import Require, actor, get_ctx
from shipyard.web.uploads import TABLE_UPLOAD_OPENAPI, receive_table_file

router = APIRouter(prefix="/v1/services/{slug}", tags=["drift"])


def parse_kinds(text: str | None) -> dict[str, str]:
    """`kinds` as given on a query string or form: JSON ({"comment": "text"}) or name=kind,name=kind."""
    if not text:
        return {}
    if text.lstrip().startswith("{"):
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise InvalidInput(f"kinds is not valid JSON: {exc}", code="bad_kind") from None
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise InvalidInput("kinds must map field names to kinds", code="bad_kind")
        return value
    out = {}
    for part in text.split(","):
        name, sep, kind = part.partition("=")
        if not sep or not name.strip():
            raise InvalidInput(f"kinds: expected name=kind, got {part!r}", code="bad_kind")
        out[name.strip()] = kind.strip()
    return out


@router.post(
    "/versions/{number}/reference",
    response_model=ReferenceRead,
    status_code=201,
    openapi_extra=TABLE_UPLOAD_OPENAPI,
)
async def upload_reference(
    slug: str,
    number: int,
    request: Request,
    principal: Annotated[Principal, Depends(Require("service:update"))],
    fmt: Annotated[str | None, Query(alias="format", description="csv or jsonl")] = None,
    output_column: Annotated[str | None, Query(description="the column holding the model's output")] = None,
    confidence_column: Annotated[str | None, Query(description="the column holding the confidence")] = None,
    kinds: Annotated[str | None, Query(description='override kinds: "comment=text,zip=categorical"')] = None,
) -> ReferenceRead:
    """Set (or replace) the version's reference data from a CSV (header row) or JSONL file of inputs,
    optionally with outputs and confidences. Only a bounded profile is stored, never the rows. Audited."""
    ctx = get_ctx(request)
    who = actor(request, principal)
    declared = parse_kinds(kinds)
    with tempfile.TemporaryDirectory() as tmp:
        path, name, named = await receive_table_file(request, Path(tmp), fmt, "reference")

        def work() -> ReferenceRead:
            with ctx.uow() as session:
                ref = drift.upload_reference(
                    session,
                    who,
                    ctx.settings.monitoring.drift,
                    slug,
                    number,
                    path,
                    name,
                    fmt=named,
                    output_column=output_column,
                    confidence_column=confidence_column,
                    kinds=declared,
                )
                return drift.reference_read(ref)

        return await anyio.to_thread.run_sync(work)


@router.post("/versions/{number}/reference/capture", response_model=ReferenceRead, status_code=201)
def capture_reference(
    slug: str,
    number: int,
    data: CaptureRequest,
    request: Request,
    principal: Annotated[Principal, Depends(Require("service:update"))],
) -> ReferenceRead:
    """Set (or replace) the version's reference from its own recorded calls in [start, end). Audited."""
    ctx = get_ctx(request)
    with ctx.uow() as session:
        ref = drift.capture_reference(
            session,
            actor(request, principal),
            ctx.settings.monitoring.drift,
            slug,
            number,
            data.start,
            data.end,
            data.kinds,
        )
        return drift.reference_read(ref)


@router.get("/versions/{number}/reference", response_model=ReferenceRead)
def get_reference(
    slug: str,
    number: int,
    request: Request,
    principal: Annotated[Principal, Depends(Require("service:read"))],
) -> ReferenceRead:
    """The version's reference data: where it came from, its rows and the features profiled."""
    with get_ctx(request).uow() as session:
        return drift.reference_read(drift.get_reference(session, slug, number))


def drift_read(request: Request, slug: str, limit: int) -> DriftRead:
    with get_ctx(request).uow() as session:
        registry.get_service(session, slug)
        latest = history.latest_runs(session, slug)
        features = history.features_of(session, [r.id for r in latest])
        latest_ids = {r.id for r in latest}
        earlier = [
            r for r in history.runs(session, slug, limit=limit + len(latest)) if r.id not in latest_ids
        ]
        return DriftRead(
            service=slug,
            latest=[history.run_read(r, features[r.id]) for r in latest],
            history=[history.run_read(r) for r in earlier[:limit]],
            references=[drift.reference_read(r) for r in drift.list_references(session, slug)],
        )


@router.get("/drift", response_model=DriftRead)
def get_drift(
    slug: str,
    request: Request,
    principal: Annotated[Principal, Depends(Require("service:read"))],
    limit: Annotated[int, Query(ge=0, le=1000)] = 100,
) -> DriftRead:
    """The latest drift run of each version (verdict, per-feature statistics, data-quality findings,
    histograms), earlier runs, and the references in use."""
    return drift_read(request, slug, limit)


@router.post("/drift/check", response_model=list[RunRead])
def check_now(
    slug: str, request: Request, principal: Annotated[Principal, Depends(Require("drift:check"))]
) -> list[RunRead]:
    """Run the drift check now over the latest window, for every version with a reference. Audited."""
    ctx = get_ctx(request)
    with ctx.uow() as session:
        runs = drift.check_service(session, actor(request, principal), ctx.settings.monitoring.drift, slug)
        features = history.features_of(session, [r.id for r in runs])
        for run in runs:
            publish(session, run)
        return [history.run_read(r, features[r.id]) for r in runs]


@router.get("/drift/thresholds", response_model=ThresholdsRead)
def get_thresholds(
    slug: str, request: Request, principal: Annotated[Principal, Depends(Require("service:read"))]
) -> ThresholdsRead:
    """The thresholds the service's drift checks use, and which of them the service sets itself."""
    with get_ctx(request).uow() as session:
        return drift.thresholds_read(session, slug)


@router.put("/drift/thresholds", response_model=ThresholdsRead)
def put_thresholds(
    slug: str,
    data: ThresholdsUpdate,
    request: Request,
    principal: Annotated[Principal, Depends(Require("service:update"))],
) -> ThresholdsRead:
    """Replace the service's own drift thresholds; fields left out use the defaults. Audited."""
    with get_ctx(request).uow() as session:
        return drift.set_thresholds(session, actor(request, principal), slug, data)
