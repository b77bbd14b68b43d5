"""The review queue over JSON: list, open, claim and decide tasks; the caller's view of a held call."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session

from shipyard.auth.principal import Principal
from shipyard.registry import service as registry
from shipyard.review.queue import service as queue
from shipyard.review.queue.models import ReviewTask
from shipyard.review.queue.schemas import (
    BacklogRead,
    ClaimCreate,
    DecisionCreate,
    ReviewDetail,
    ReviewRead,
    ReviewStatus,
    StateFilter,
)
from shipyard.web.context import AppContext
from shipyard.web.deps import Require, actor, get_ctx

router = APIRouter(tags=["review"])


def reviewable(session: Session, principal: Principal, permission: str = "review:read") -> list[str]:
    """The services whose queue the principal may see (owners: their own services)."""
    return [
        s.slug
        for s in registry.list_services(session)
        if principal.can(permission, service=s.slug, service_owner=s.owner_id)
    ]


def may(session: Session, principal: Principal, permission: str, slug: str) -> bool:
    owner = registry.get_service(session, slug).owner_id
    return principal.can(permission, service=slug, service_owner=owner)


def task_or_404(session: Session, principal: Principal, permission: str, request_id: str) -> ReviewTask:
    """The task, if the principal may act on its service; a task on another's service is a 404, not
    a 403, so request ids cannot be probed."""
    task = queue.find(session, request_id)
    if task is None or not may(session, principal, permission, task.service):
        raise queue.not_found(request_id)
    return task


def decide_task(
    ctx: AppContext, request: Request, principal: Principal, request_id: str, data: DecisionCreate
) -> ReviewTask:
    """One decision, permission-checked on the task's service (shared by the API and the console)."""
    with ctx.uow() as session:
        task = task_or_404(session, principal, "review:decide", request_id)
        may_escalated = may(session, principal, "review:escalated", task.service)
        return queue.decide(
            session, actor(request, principal), request_id, data, may_decide_escalated=may_escalated
        )


@router.get("/v1/reviews", response_model=list[ReviewRead])
def list_reviews(
    request: Request,
    principal: Annotated[Principal, Depends(Require("review:read"))],
    state: StateFilter = "open",
    service: str | None = None,
    action: Annotated[str | None, Query(pattern="^(hold|queue)$")] = None,
    before: datetime | None = None,
    before_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[ReviewRead]:
    """Review tasks of the services you may review. Open tasks come oldest first (the order to work
    them in); decided ones newest first. Page with `before` and `before_id` (the last task's
    `created_at` and `request_id`). No payloads: open a task to see its call."""
    with get_ctx(request).uow() as session:
        services = reviewable(session, principal)
        if service is not None:
            services = [s for s in services if s == service]
        rows = queue.list_tasks(
            session, services, state=state, limit=limit, before=before, before_id=before_id, action=action
        )
        return [ReviewRead.model_validate(r) for r in rows]


@router.get("/v1/reviews/backlog", response_model=list[BacklogRead])
def review_backlog(
    request: Request, principal: Annotated[Principal, Depends(Require("review:read"))]
) -> list[BacklogRead]:
    """Open tasks per service: how many, how many callers are waiting, and the oldest one's age."""
    ctx = get_ctx(request)
    with ctx.uow() as session:
        return queue.backlog(session, ctx.clock.now(), reviewable(session, principal))


@router.get("/v1/reviews/{request_id}", response_model=ReviewDetail)
def get_review(
    request_id: str, request: Request, principal: Annotated[Principal, Depends(Require("review:read"))]
) -> ReviewDetail:
    """One task with its call's input and the model's output. The read is audited."""
    with get_ctx(request).uow() as session:
        task_or_404(session, principal, "review:read", request_id)
        return queue.detail(queue.get_task(session, actor(request, principal), request_id))


@router.post("/v1/reviews/{request_id}/claim", response_model=ReviewRead)
def claim_review(
    request_id: str,
    data: ClaimCreate,
    request: Request,
    principal: Annotated[Principal, Depends(Require("review:decide"))],
) -> ReviewRead:
    """Take an open task so no one else works on it (`force` takes it over), or give it back
    (`release`). 409 `review_claimed` when another reviewer holds it."""
    with get_ctx(request).uow() as session:
        task_or_404(session, principal, "review:decide", request_id)
        return ReviewRead.model_validate(queue.claim(session, actor(request, principal), request_id, data))


@router.post("/v1/reviews/{request_id}/decision", response_model=ReviewRead)
def decide_review(
    request_id: str,
    data: DecisionCreate,
    request: Request,
    principal: Annotated[Principal, Depends(Require("review:decide"))],
) -> ReviewRead:
    """Approve the answer, correct it (`output`, checked against the output schema), reject it, or
    escalate it to an approver (`comment` says why). For a held call the decision releases the answer
    to its caller. 409 `review_decided` when it was decided already; 403 `review_escalated` when an
    escalated task needs an approver or owner."""
    task = decide_task(get_ctx(request), request, principal, request_id, data)
    return ReviewRead.model_validate(task)


@router.get("/v1/predictions/{request_id}/review", response_model=ReviewStatus)
async def review_status(
    request_id: str,
    request: Request,
    principal: Annotated[Principal, Depends(Require("service:invoke"))],
) -> ReviewStatus:
    """The caller's view of a call sent to review: its state and, once approved or corrected, the
    answer. Only the principal that made the call (or a reviewer of its service) may read it."""
    ctx = get_ctx(request)

    def read() -> ReviewStatus:
        with ctx.uow() as session:
            owner = queue.caller_of(session, request_id)
            if owner is None:
                raise queue.not_found(request_id)
            slug, caller, kind = owner
            # Someone else's call is unknown to you, not forbidden, so request ids cannot be probed.
            if (caller, kind) != (principal.name, principal.kind) and not may(
                session, principal, "review:read", slug
            ):
                raise queue.not_found(request_id)
            return queue.caller_status(session, request_id)

    return await anyio.to_thread.run_sync(read)
