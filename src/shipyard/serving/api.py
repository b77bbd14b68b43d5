"""POST /v1/services/{slug}/invoke — the governed model call."""

from __future__ import annotations

import math
import time
from typing import Annotated, Any

import anyio.to_thread
import orjson
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response
from starlette.routing import Route

from shipyard.auth.principal import Principal
from shipyard.core.errors import InvalidInput, NotFound
from shipyard.serving import predictions
from shipyard.serving.schemas import PredictionRead, RuntimeRead
from shipyard.serving.service import invoke
from shipyard.serving.state import reset_breaker, runtime_view
from shipyard.web.deps import Require, actor, get_ctx

router = APIRouter(prefix="/v1/services", tags=["invoke"])


class InvokeRequest(BaseModel):
    inputs: Any = Field(description="One input object, validated against the service's input schema.")


class FallbackInfo(BaseModel):
    step: str = Field(description="What answered: version:N, rule:module:function or fixed.")
    cause: str = Field(description="The error code of the failure that triggered the fallback.")
    detail: str
    message: str | None = None


class ReviewTicket(BaseModel):
    action: str = Field(description="hold: the answer waits for a reviewer; queue: answered, checked later.")
    rule: str = Field(description="low_confidence, restricted_term, abstained or sample.")
    reason: str
    status_url: str = Field(description="Where the caller reads the decision and the released answer.")


class InvokeResponse(BaseModel):
    output: Any
    confidence: float | None
    outcome: str = Field(description="served, abstained, fallback, held_for_review, rejected, shed or failed")
    version: int
    service: str
    request_id: str
    fallback: FallbackInfo | None = Field(None, description="Present when outcome is fallback.")
    review: ReviewTicket | None = Field(
        None, description="Present when the call went to human review (held: no output until decided)."
    )


DEADLINE_HEADER = "x-deadline-ms"
INVOKE_PERMISSION = Require("service:invoke")
INVOKE_SPAN = "POST /v1/services/{slug}/invoke"


async def invoke_service(request: Request) -> Response:
    """Run the service's live model version on one input and record the call.

    The input is validated against the service's JSON Schema (422 lists every violation); a paused
    service answers 503 saying who paused it and why. When the model fails and the service has a
    fallback chain, the answer says `outcome: fallback` and which step answered. Over capacity the call
    is shed at once with 503 and Retry-After. An `X-Deadline-Ms` header gives the milliseconds the
    caller will wait: work that cannot start in time is dropped, not computed. When the service's review
    policy holds the answer for a person (low confidence, a restricted term), the reply is 202 with
    `outcome: held_for_review`, no output, and a `review.status_url` that gives the decision later.
    """
    # A plain Starlette route: FastAPI's dependency solving costs more per call than the rest of the
    # governed path together, and this route has one dependency and no parameters to coerce.
    slug: str = request.path_params["slug"]
    ctx = get_ctx(request)
    request_id = request.state.request_id
    with ctx.tracing.request(INVOKE_SPAN, request_id, slug, request.headers):
        with ctx.tracing.step("auth"):
            principal = await INVOKE_PERMISSION(request)
        deadline = _deadline(request.headers.get(DEADLINE_HEADER))
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
        with ctx.tracing.step("route"):
            config = await ctx.service_config(slug)
            ctx.tracing.note(version=config.live.number if config.live else None)
        result = await invoke(ctx, principal, config, body["inputs"], request_id, deadline=deadline)
        # 202: accepted and recorded, the answer comes from a reviewer (GET the review's status_url).
        status = 202 if result.held else 200
        return Response(orjson.dumps(result.as_dict(slug)), status_code=status, media_type="application/json")


def _deadline(header: str | None) -> float | None:
    if header is None:
        return None
    try:
        budget_ms = float(header)
    except ValueError:
        budget_ms = math.nan
    if not (math.isfinite(budget_ms) and 0 < budget_ms <= 3_600_000):
        raise InvalidInput(
            f"X-Deadline-Ms must be a number of milliseconds between 0 and 3600000, got {header!r}",
            code="bad_deadline",
        )
    return time.monotonic() + budget_ms / 1000


invoke_service.permission = INVOKE_PERMISSION  # type: ignore[attr-defined]  # read by the route audit
invoke_route = Route("/v1/services/{slug}/invoke", invoke_service, methods=["POST"])

INVOKE_OPENAPI: dict[str, Any] = {
    "post": {
        "tags": ["invoke"],
        "summary": "Invoke a service",
        "operationId": "invoke_service",
        "description": invoke_service.__doc__,
        "parameters": [
            {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}},
            {
                "name": "X-Deadline-Ms",
                "in": "header",
                "required": False,
                "description": "How long the caller will wait, in ms; work past it is dropped.",
                "schema": {"type": "number", "exclusiveMinimum": 0},
            },
        ],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": InvokeRequest.model_json_schema()}},
        },
        "responses": {
            "200": {
                "description": "The model's answer",
                "content": {"application/json": {"schema": InvokeResponse.model_json_schema()}},
            },
            "202": {
                "description": "Held for human review: recorded, no output until a reviewer decides",
                "content": {"application/json": {"schema": InvokeResponse.model_json_schema()}},
            },
            "default": {
                "description": "A problem (RFC 9457)",
                "content": {"application/problem+json": {"schema": {"type": "object"}}},
            },
        },
        "security": [{"bearer": []}],
    }
}


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


@router.get("/{slug}/runtime", response_model=RuntimeRead)
async def runtime_state(
    slug: str, request: Request, principal: Annotated[Principal, Depends(Require("service:read"))]
) -> RuntimeRead:
    """This server process's view of the service: breaker state, running and queued calls per version,
    worker processes when isolated. Each worker process keeps its own, so with several workers each
    answer shows one of them (its `pid` says which)."""
    ctx = get_ctx(request)
    return runtime_view(ctx, await ctx.service_config(slug))


@router.post("/{slug}/versions/{number}/breaker/reset", response_model=RuntimeRead)
async def reset_breaker_route(
    slug: str,
    number: int,
    request: Request,
    principal: Annotated[Principal, Depends(Require("service:pause"))],
) -> RuntimeRead:
    """Close a version's circuit breaker by hand in this process (when you know the cause is fixed)."""
    ctx = get_ctx(request)
    config = await ctx.service_config(slug)
    await anyio.to_thread.run_sync(reset_breaker, ctx, actor(request, principal), config, number)
    return runtime_view(ctx, config)
