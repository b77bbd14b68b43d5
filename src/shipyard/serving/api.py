"""POST /v1/services/{slug}/invoke — the governed model call."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from shipyard.auth.principal import Principal
from shipyard.core.errors import InvalidInput, NotFound
from shipyard.serving import predictions
from shipyard.serving.schemas import PredictionRead
from shipyard.serving.service import invoke
from shipyard.web.deps import Require, actor, get_ctx
from shipyard.web.responses import JSONBytes

router = APIRouter(prefix="/v1/services", tags=["invoke"])


class InvokeRequest(BaseModel):
    inputs: Any = Field(description="One input object, validated against the service's input schema.")


class InvokeResponse(BaseModel):
    output: Any
    confidence: float | None
    outcome: str = Field(description="served, abstained, fallback, held_for_review, rejected, shed or failed")
    version: int
    service: str
    request_id: str


@router.post(
    "/{slug}/invoke",
    response_model=InvokeResponse,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": InvokeRequest.model_json_schema()}},
        }
    },
)
async def invoke_service(
    slug: str, request: Request, principal: Annotated[Principal, Depends(Require("service:invoke"))]
) -> JSONBytes:
    """Run the service's live model version on one input and record the call.

    The input is validated against the service's JSON Schema (422 lists every violation); a paused
    service answers 503 saying who paused it and why.
    """
    ctx = get_ctx(request)
    raw = await request.body()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the body is not valid JSON: {exc}", code="bad_json") from None
    if not isinstance(body, dict) or "inputs" not in body:
        raise InvalidInput(
            'the body must be a JSON object with an "inputs" field',
            code="bad_body",
            errors=[{"loc": "/inputs", "message": "field required", "rule": "required"}],
        )
    config = await ctx.service_config(slug)
    result = await invoke(ctx, principal, config, body["inputs"], request.state.request_id)
    return JSONBytes(result.as_dict(slug))


@router.get("/{slug}/predictions", response_model=list[PredictionRead])
def list_predictions(
    slug: str,
    request: Request,
    principal: Annotated[Principal, Depends(Require("prediction:read"))],
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    outcome: str | None = None,
) -> list[PredictionRead]:
    """Recent recorded calls with their payloads, newest first. The read is audited."""
    ctx = get_ctx(request)
    with ctx.uow() as session:
        rows = predictions.recent(session, actor(request, principal), slug, limit=limit, outcome=outcome)
        return [PredictionRead.model_validate(r) for r in rows]


@router.get("/{slug}/predictions/{request_id}", response_model=PredictionRead)
def get_prediction(
    slug: str,
    request_id: str,
    request: Request,
    principal: Annotated[Principal, Depends(Require("prediction:read"))],
) -> PredictionRead:
    """One recorded call by its request id. The read is audited."""
    with get_ctx(request).uow() as session:
        row = predictions.get(session, actor(request, principal), request_id)
        if row.service != slug:
            raise NotFound(f"no recorded prediction {request_id!r} for {slug}")
        return PredictionRead.model_validate(row)
