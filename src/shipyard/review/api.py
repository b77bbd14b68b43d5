"""Feedback on a prediction, bulk ground-truth labels, and accuracy per version."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Depends, Query, Request

from shipyard.auth.principal import Principal
from shipyard.core.errors import InvalidInput
from shipyard.registry import service as registry
from shipyard.review import service as review
from shipyard.review.schemas import (
    AccuracyRead,
    AccuracyReport,
    DailyAccuracyRead,
    FeedbackCreate,
    FeedbackRead,
    LabelsResult,
    LabelsUpload,
    QualityRead,
    QualityUpdate,
)
from shipyard.web.context import AppContext
from shipyard.web.deps import Require, actor, check_service, get_ctx

router = APIRouter(tags=["feedback"])
FEEDBACK_PERMISSION = "prediction:feedback"


@router.post("/v1/predictions/{request_id}/feedback", response_model=FeedbackRead, status_code=201)
async def give_feedback(
    request_id: str,
    data: FeedbackCreate,
    request: Request,
    principal: Annotated[Principal, Depends(Require(FEEDBACK_PERMISSION))],
) -> FeedbackRead:
    """Flag a prediction as correct, wrong, unclear, outdated or out of scope, optionally with the
    correct answer (`label`) and a comment. Anyone who may invoke the prediction's service may. A call
    reaches the database within seconds of its answer: until then this answers 404
    `prediction_not_found` with Retry-After."""
    ctx = get_ctx(request)

    def service_of() -> str:
        with ctx.uow() as session:
            return review.prediction_service(session, request_id)

    slug = await anyio.to_thread.run_sync(service_of)
    await check_service(request, principal, FEEDBACK_PERMISSION, slug)

    def give() -> FeedbackRead:
        with ctx.uow() as session:
            feedback = review.give_feedback(session, actor(request, principal), request_id, data)
            return FeedbackRead.model_validate(feedback)

    return await anyio.to_thread.run_sync(give)


@router.post("/v1/services/{slug}/labels", response_model=LabelsResult)
def upload_labels(
    slug: str,
    data: LabelsUpload,
    request: Request,
    principal: Annotated[Principal, Depends(Require("label:write"))],
) -> LabelsResult:
    """Ground-truth labels that arrived later, e.g. a claim's final decision: a list of
    `{"request_id", "label"}`. Valid items are stored (a label given again replaces the earlier one);
    each bad item is listed in `errors` with its index and a code. Audited."""
    if not data.labels:
        raise InvalidInput("labels is empty: send at least one {request_id, label}", code="no_labels")
    with get_ctx(request).uow() as session:
        return review.upload_labels(session, actor(request, principal), slug, data.labels)


@router.put("/v1/services/{slug}/quality", response_model=QualityRead)
def set_quality(
    slug: str,
    data: QualityUpdate,
    request: Request,
    principal: Annotated[Principal, Depends(Require("service:update"))],
) -> QualityRead:
    """Choose what labels are compared with: `label_field` names a field of the (object) output;
    null compares the whole output. Audited."""
    with get_ctx(request).uow() as session:
        field = review.set_quality(session, actor(request, principal), slug, data)
    return QualityRead(service=slug, label_field=field)


@router.get("/v1/services/{slug}/accuracy", response_model=AccuracyReport)
def accuracy(
    slug: str,
    request: Request,
    principal: Annotated[Principal, Depends(Require("service:read"))],
    days: Annotated[int, Query(ge=1, le=366)] = 7,
    version: int | None = None,
) -> AccuracyReport:
    """Accuracy over predictions of the last `days` days that have a label or a correct/wrong flag:
    overall, per version, and per day and version."""
    return accuracy_report(get_ctx(request), slug, days, version)


def accuracy_report(ctx: AppContext, slug: str, days: int, version: int | None = None) -> AccuracyReport:
    """The report the API and the console page show: one read of the window's verdicts."""
    end = ctx.clock.now()
    start = end - timedelta(days=days)
    with ctx.uow() as session:
        registry.get_service(session, slug)
        found = review.verdicts(session, slug, start, end, version=version)
        field = review.label_field(session, slug)
    return AccuracyReport(
        service=slug,
        start=start,
        end=end,
        label_field=field,
        overall=_read(version, review.AccuracyWindow(sum(v.correct for v in found), len(found))),
        versions=[_read(ver, window) for ver, window in review.by_version(found).items()],
        daily=[
            DailyAccuracyRead(day=day, **_read(ver, window).model_dump())
            for day, ver, window in review.by_day(found)
        ],
    )


def _read(version: int | None, window: review.AccuracyWindow) -> AccuracyRead:
    return AccuracyRead(
        version=version, correct=window.correct, labelled=window.labelled, accuracy=window.accuracy
    )
