"""Console pages for the review queue: the queue with its backlog, one task, and its claim and decision
forms. Decisions go through the same permission-checked path as the API (`decide_task`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from shipyard.auth.principal import Principal
from shipyard.core.errors import Forbidden, InvalidInput, NotFound, ShipyardError
from shipyard.registry import service as registry
from shipyard.review.queue import service as queue
from shipyard.review.queue.api import decide_task, may, reviewable, task_or_404
from shipyard.review.queue.models import ReviewTask
from shipyard.review.queue.schemas import OPEN_STATES, ClaimCreate, DecisionCreate, ReviewRead, StateFilter
from shipyard.review.queue.waits import waited
from shipyard.web.console import render, render_error
from shipyard.web.context import AppContext
from shipyard.web.deps import Require, actor, get_ctx
from shipyard.web.problems import status_for

router = APIRouter(include_in_schema=False)

Reader = Annotated[Principal, Depends(Require("review:read"))]
Decider = Annotated[Principal, Depends(Require("review:decide"))]

PAGE_SIZE = 50
STATES: tuple[StateFilter, ...] = ("open", "pending", "escalated", "decided", "all")
ACTIONS = ("hold", "queue")

# Fixed keys, never free text in a link (a crafted link cannot put words on the page).
FLASHES: dict[str, tuple[str, str]] = {
    "approved": ("ok", "Approved: the model's answer stands (a held caller now gets it)."),
    "corrected": ("ok", "Corrected: a held caller now gets your answer; accuracy counts the call as wrong."),
    "rejected": ("ok", "Rejected: nothing is released to a held caller."),
    "escalated": ("ok", "Escalated: an approver or the service's owner decides it now."),
    "claimed": ("ok", "The task is yours: other reviewers see that you are on it."),
    "released": ("ok", "The task is back in the queue for anyone to take."),
}
_DONE = {"approve": "approved", "correct": "corrected", "reject": "rejected", "escalate": "escalated"}


def _flashes(request: Request) -> list[tuple[str, str]]:
    found = FLASHES.get(request.query_params.get("flash", ""))
    return [found] if found else []


def _age(task: ReviewTask | ReviewRead, now: datetime) -> str:
    """How long the task waited: until now while open, until the decision once decided."""
    end = task.decided_at or now
    return waited((end - task.created_at).total_seconds())


@dataclass(frozen=True)
class Row:
    task: ReviewTask
    age: str


def queue_url(**filters: str | None) -> str:
    query = {k: v for k, v in filters.items() if v}
    return "/reviews?" + urlencode(query) if query else "/reviews"


def _cursor(value: str, problems: list[str]) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace(" ", "+"))
    except ValueError:
        problems.append("'before' must be a time like 2026-01-31T09:30:00+00:00; it was ignored")
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@router.get("/reviews", response_class=HTMLResponse)
def reviews_page(
    request: Request,
    principal: Reader,
    state: str = "open",
    service: str = "",
    action: str = "",
    before: str = "",
    before_id: str = "",
) -> HTMLResponse:
    """The queue: open tasks oldest first (the order to work them in), with the backlog per service."""
    # Parameters are read as text and checked here, so a bad value gets a message on the page.
    problems: list[str] = []
    chosen: StateFilter = "open"
    for s in STATES:
        if s == state:
            chosen = s
    if state != chosen:
        problems.append(f"'state' must be one of {', '.join(STATES)}; showing open tasks")
    if action and action not in ACTIONS:
        problems.append("'action' must be hold or queue; it was ignored")
        action = ""
    cursor = _cursor(before, problems)
    ctx = get_ctx(request)
    now = ctx.clock.now()
    with ctx.uow() as session:
        services = reviewable(session, principal)
        if service and service not in services:
            registry.get_service(session, service)  # 404 when there is no such service
            raise Forbidden(f"{principal.name} may not review:read on {service}", code="forbidden")
        shown = [service] if service else services
        tasks = queue.list_tasks(
            session,
            shown,
            state=chosen,
            limit=PAGE_SIZE + 1,
            before=cursor,
            before_id=(before_id or None) if cursor else None,
            action=action or None,
        )
        backlog = queue.backlog(session, now, services)
    filters = {"state": "" if chosen == "open" else chosen, "service": service, "action": action}
    more = None
    if len(tasks) > PAGE_SIZE:
        tasks = tasks[:PAGE_SIZE]
        more = queue_url(**filters, before=tasks[-1].created_at.isoformat(), before_id=tasks[-1].request_id)
    return render(
        request,
        "reviews.html",
        rows=[Row(t, _age(t, now)) for t in tasks],
        backlog=[(b, waited(b.oldest_age_s, missing="—")) for b in backlog],
        state=chosen,
        states=STATES,
        service=service,
        services=services,
        action=action,
        filtered=any(filters.values()),
        oldest_first=chosen in ("open", *OPEN_STATES),
        more=more,
        first=queue_url(**filters) if cursor else None,
        flashes=[("error", p) for p in problems] + _flashes(request),
    )


def _task_page(
    request: Request,
    principal: Principal,
    request_id: str,
    *,
    status_code: int = 200,
    flashes: list[tuple[str, str]] | None = None,
    problems: list[str] | None = None,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    ctx = get_ctx(request)
    try:
        with ctx.uow() as session:
            # A task on a service the principal may not review is unknown to it (404), not forbidden.
            task_or_404(session, principal, "review:read", request_id)
            found = queue.get_task(session, actor(request, principal), request_id)  # audited read
            task = queue.detail(found)
            may_decide = may(session, principal, "review:decide", task.service)
            may_escalated = may(session, principal, "review:escalated", task.service)
            caller_kind = found.call.caller_kind
    except NotFound as exc:
        return render_error(request, 404, exc.title, exc.detail)
    is_open = task.state in OPEN_STATES
    if form is None:
        form = {"output": json.dumps(task.output, indent=2, ensure_ascii=False), "comment": ""}
    return render(
        request,
        "review_task.html",
        status_code=status_code,
        t=task,
        caller_kind=caller_kind,
        age=_age(task, ctx.clock.now()),
        is_open=is_open,
        may_decide=is_open and may_decide and (task.state == "pending" or may_escalated),
        may_claim=is_open and may_decide,
        needs_approver=task.state == "escalated" and not may_escalated,
        mine=task.assignee == principal.name,
        may_read_prediction=principal.can("prediction:read"),
        form=form,
        problems=problems or [],
        flashes=flashes if flashes is not None else _flashes(request),
    )


@router.get("/reviews/{request_id}", response_class=HTMLResponse)
def review_page(request_id: str, request: Request, principal: Reader) -> HTMLResponse:
    """One task with its call's input and the model's output; opening it is audited."""
    return _task_page(request, principal, request_id)


def _back(request_id: str, flash: str) -> RedirectResponse:
    return RedirectResponse(f"/reviews/{quote(request_id, safe='')}?flash={flash}", status_code=303)


def _failed(
    request: Request, principal: Principal, request_id: str, exc: ShipyardError, **kw: Any
) -> Response:
    """The task page again with what went wrong (decided meanwhile, claimed by someone else, …)."""
    if isinstance(exc, NotFound):
        return render_error(request, 404, exc.title, exc.detail)
    return _task_page(
        request, principal, request_id, status_code=status_for(exc), flashes=[("error", exc.detail)], **kw
    )


@router.post("/reviews/{request_id}/claim")
def claim_submit(
    request_id: str,
    request: Request,
    principal: Decider,
    release: Annotated[str, Form()] = "",
    force: Annotated[str, Form()] = "",
) -> Response:
    data = ClaimCreate(release=bool(release), force=bool(force))
    try:
        with get_ctx(request).uow() as session:
            task_or_404(session, principal, "review:decide", request_id)
            queue.claim(session, actor(request, principal), request_id, data)
    except ShipyardError as exc:
        return _failed(request, principal, request_id, exc)
    return _back(request_id, "released" if data.release else "claimed")


def _messages(exc: ValidationError) -> list[str]:
    return [str(e["msg"]).removeprefix("Value error, ") for e in exc.errors()]


def _violation(error: dict[str, Any]) -> str:
    where = error.get("loc") or "/"
    message = str(error.get("message", ""))
    return message if where == "/" else f"at {where}: {message}"


def _edited(ctx: AppContext, request_id: str, text: str) -> bool:
    """Whether the answer box no longer holds the model's answer."""
    try:
        typed = json.loads(text)
    except ValueError:
        return True
    with ctx.uow() as session:
        return bool(typed != queue.model_output(session, request_id))


@router.post("/reviews/{request_id}/decision")
def decision_submit(
    request_id: str,
    request: Request,
    principal: Decider,
    action: Annotated[str, Form()] = "",
    output: Annotated[str, Form()] = "",
    comment: Annotated[str, Form()] = "",
) -> Response:
    """Approve, correct, reject or escalate; then on to the oldest pending task of your services."""
    form = {"output": output, "comment": comment}

    def again(status: int, summary: str, problems: list[str]) -> HTMLResponse:
        return _task_page(
            request,
            principal,
            request_id,
            status_code=status,
            flashes=[("error", summary)],
            problems=problems,
            form=form,
        )

    fields: dict[str, Any] = {"action": action, "comment": comment.strip() or None}
    if action == "approve" and output.strip() and _edited(get_ctx(request), request_id, output):
        # Approve releases the model's answer: an edit in the box would be lost without a word.
        return again(
            422,
            "You changed the answer: press Correct to release your version, or put the model's answer "
            "back to approve it.",
            [],
        )
    if action == "correct":
        if not output.strip():
            return again(422, "Write the corrected answer as JSON to correct the call.", [])
        try:
            fields["output"] = json.loads(output)
        except ValueError as exc:
            return again(422, "The corrected answer is not valid JSON.", [str(exc)])
    try:
        data = DecisionCreate(**fields)
    except ValidationError as exc:
        return again(422, "That decision is not complete.", _messages(exc))
    ctx = get_ctx(request)
    try:
        decide_task(ctx, request, principal, request_id, data)
    except InvalidInput as exc:
        found = exc.extra.get("errors") or []
        listed = [_violation(e) for e in found if isinstance(e, dict)]
        return again(422, exc.detail, listed)
    except ShipyardError as exc:
        return _failed(request, principal, request_id, exc, form=form)
    flash = _DONE[data.action]
    with ctx.uow() as session:
        following = queue.next_open(
            session,
            reviewable(session, principal, "review:decide"),
            after=request_id,
            reviewer=principal.name,
        )
    if following is None:
        return RedirectResponse(f"/reviews?flash={flash}", status_code=303)
    return _back(following.request_id, flash)
