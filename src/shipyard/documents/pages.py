"""Console pages for policy documents: the supervisor's list, upload with progress, one document."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shipyard.auth.principal import Principal
from shipyard.core.errors import InvalidInput, ShipyardError
from shipyard.documents import service as documents
from shipyard.documents.api import upload_document
from shipyard.documents.schemas import DocumentRead, UploadResult
from shipyard.web.console import render
from shipyard.web.deps import Require, actor, get_ctx
from shipyard.web.problems import status_for

router = APIRouter(include_in_schema=False)
FLASHES = {
    "withdrawn": (
        "ok",
        "Withdrawn. Answers no longer come from it; a previous version is in force again if there is one.",
    )
}


def _policies(reads: list[DocumentRead]) -> dict[str, list[dict[str, Any]]]:
    """insurer -> policies, each with its versions newest first, for the grouped table."""
    grouped: dict[str, dict[str, list[DocumentRead]]] = defaultdict(lambda: defaultdict(list))
    for d in reads:
        grouped[d.insurer][d.doc_key].append(d)
    return {
        insurer: [{"doc_key": key, "versions": versions} for key, versions in sorted(policies.items())]
        for insurer, policies in sorted(grouped.items())
    }


def _list(
    request: Request,
    principal: Principal,
    *,
    status_code: int = 200,
    flashes: list[tuple[str, str]] | None = None,
    result: UploadResult | None = None,
) -> HTMLResponse:
    with get_ctx(request).uow() as session:
        reads = [documents.to_read(session, d) for d in documents.list_documents(session, limit=2000)]
        counts = documents.status_counts(session)
    flash = FLASHES.get(request.query_params.get("flash", ""))
    template = "_upload_result.html" if request.headers.get("hx-request") == "true" else "documents.html"
    return render(
        request,
        template,
        status_code=status_code,
        insurers=_policies(reads),
        keys=sorted({(d.insurer, d.doc_key) for d in reads}),
        counts=counts,
        result=result,
        can_write=principal.can("document:write"),
        out_of_scope=_out_of_scope(request),
        flashes=flashes if flashes is not None else ([flash] if flash else []),
    )


def _out_of_scope(request: Request) -> frozenset[str]:
    """The topics the assistant never answers from, lower-cased as the templates compare them."""
    return frozenset(t.casefold() for t in get_ctx(request).settings.assistant.out_of_scope_topics)


@router.get("/documents", response_class=HTMLResponse)
def documents_page(
    request: Request, principal: Annotated[Principal, Depends(Require("document:read"))]
) -> HTMLResponse:
    return _list(request, principal)


@router.post("/documents")
async def upload_form(
    request: Request, principal: Annotated[Principal, Depends(Require("document:write"))]
) -> Response:
    ctx = get_ctx(request)
    try:
        result = await upload_document(ctx, request, principal)
    except ShipyardError as exc:
        errors = exc.extra.get("errors") or []
        detail = exc.detail + "".join(f"; {e.get('loc', '')} {e.get('message', '')}" for e in errors)
        status = status_for(exc)
        return await anyio.to_thread.run_sync(
            lambda: _list(request, principal, status_code=status, flashes=[("error", detail)])
        )
    return await anyio.to_thread.run_sync(lambda: _list(request, principal, result=result))


@router.get("/documents/{document_id}", response_class=HTMLResponse)
def document_page(
    document_id: str, request: Request, principal: Annotated[Principal, Depends(Require("document:read"))]
) -> HTMLResponse:
    """One document: details, problems, its versions, and its passages (an audited read)."""
    ctx = get_ctx(request)
    with ctx.uow() as session:
        doc = documents.to_read(session, documents.get(session, document_id))
        versions = [
            documents.to_read(session, d) for d in documents.list_documents(session, doc_key=doc.doc_key)
        ]
        passages = documents.read_passages(session, actor(request, principal), ctx.corpus.vault, document_id)
    return render(
        request,
        "document_detail.html",
        doc=doc,
        versions=versions,
        passages=passages,
        can_write=principal.can("document:write"),
        out_of_scope=_out_of_scope(request),
        flashes=[],
    )


@router.post("/documents/{document_id}/withdraw")
async def withdraw_form(
    document_id: str, request: Request, principal: Annotated[Principal, Depends(Require("document:write"))]
) -> Response:
    async with request.form() as form:
        reason = str(form.get("reason") or "").strip()
    ctx = get_ctx(request)

    def work() -> None:
        if len(reason) < 3:
            raise InvalidInput("say why the document is withdrawn (at least 3 characters)", code="no_reason")
        with ctx.uow() as session:
            documents.withdraw(session, actor(request, principal), document_id, reason)
        ctx.corpus.refresh()

    try:
        await anyio.to_thread.run_sync(work)
    except ShipyardError as exc:
        status, detail = status_for(exc), exc.detail
        return await anyio.to_thread.run_sync(
            lambda: _list(request, principal, status_code=status, flashes=[("error", detail)])
        )
    return RedirectResponse("/documents?flash=withdrawn", status_code=303)
