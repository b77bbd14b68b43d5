"""The staff page: ask the policy assistant a question and see the answer with its citations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from shipyard.assistants.policy.definition import SLUG
from shipyard.auth.principal import Principal
from shipyard.core.errors import InvalidInput, ShipyardError
from shipyard.core.ids import new_request_id
from shipyard.serving.service import invoke
from shipyard.web.console import render
from shipyard.web.deps import Require, check_service, get_ctx
from shipyard.web.problems import status_for

router = APIRouter(include_in_schema=False)
PERMISSION = "service:invoke"


def _insurers(request: Request) -> list[str]:
    try:
        return sorted(get_ctx(request).corpus.current().insurers)
    except ShipyardError:  # the assistant extra is not installed: the page says so when asked
        return []


@router.get("/ask", response_class=HTMLResponse)
async def ask_page(
    request: Request, principal: Annotated[Principal, Depends(Require(PERMISSION))]
) -> HTMLResponse:
    import anyio.to_thread

    insurers = await anyio.to_thread.run_sync(_insurers, request)
    return render(request, "ask.html", insurers=insurers, slug=SLUG, flashes=[])


@router.post("/ask", response_class=HTMLResponse)
async def ask(
    request: Request, principal: Annotated[Principal, Depends(Require(PERMISSION))]
) -> HTMLResponse:
    """Answer through the service's governed path, as the signed-in user; the call is recorded."""
    async with request.form() as form:
        question = str(form.get("question") or "").strip()
        insurer = str(form.get("insurer") or "").strip()
    try:
        if len(question) < 3:
            raise InvalidInput("type a question first", code="no_question")
        await check_service(request, principal, PERMISSION, SLUG)
        ctx = get_ctx(request)
        config = await ctx.service_config(SLUG)
        inputs = {"question": question} | ({"insurer": insurer} if insurer else {})
        request_id = getattr(request.state, "request_id", None) or new_request_id()
        result = await invoke(ctx, principal, config, inputs, request_id)
    except ShipyardError as exc:
        errors = exc.extra.get("errors") or []
        detail = exc.detail + "".join(f"; {e.get('message', '')}" for e in errors[:3])
        return render(request, "_answer.html", status_code=status_for(exc), error=detail, code=exc.code)
    return render(request, "_answer.html", result=result, question=question)
