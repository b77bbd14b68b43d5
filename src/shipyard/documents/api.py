"""JSON routes for policy documents: upload, list, read (audited), withdraw, and the corpus snapshot."""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from shipyard.auth.principal import Principal
from shipyard.core.errors import InvalidInput
from shipyard.documents import service as documents
from shipyard.documents.schemas import (
    STATUSES,
    CorpusRead,
    DocumentMeta,
    DocumentRead,
    PassageRead,
    UploadResult,
    WithdrawRequest,
)
from shipyard.web.context import AppContext
from shipyard.web.deps import Require, actor, get_ctx

router = APIRouter(tags=["documents"])

_MEDIA = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "html": "text/html",
    "markdown": "text/markdown",
    "text": "text/plain",
}
_META_FIELDS = ("insurer", "topic", "effective_date", "doc_key", "version", "title")
_UPLOAD_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "insurer": {"type": "string"},
                        "topic": {"type": "string"},
                        "effective_date": {"type": "string", "format": "date"},
                        "doc_key": {"type": "string"},
                        "version": {"type": "string"},
                        "title": {"type": "string"},
                    },
                    "required": ["file", "insurer", "topic", "effective_date"],
                }
            }
        },
    }
}


def parse_meta(fields: dict[str, Any]) -> DocumentMeta:
    """The form's metadata, with every problem listed at once."""
    try:
        return DocumentMeta.model_validate({k: v for k, v in fields.items() if v not in (None, "")})
    except ValidationError as exc:
        raise InvalidInput(
            "the document's details are incomplete or wrong",
            code="bad_document_meta",
            errors=[{"loc": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()],
        ) from None


async def upload_document(ctx: AppContext, request: Request, principal: Principal) -> UploadResult:
    """Read the multipart upload, extract it off the event loop, store it in one transaction."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidInput("send the document as multipart/form-data with a 'file' field", code="no_file")
    async with request.form() as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput("send the document in a multipart field named 'file'", code="no_file")
        meta = parse_meta({name: form.get(name) for name in _META_FIELDS})
        data = await upload.read()
        filename = upload.filename or "upload"
    who = actor(request, principal)

    from shipyard.documents.ingest import prepare  # the assistant extra: imported when first needed

    def work() -> UploadResult:
        prepared = prepare(data, filename, meta, ctx.corpus.embed_passages, ocr=ctx.corpus.ocr)
        with ctx.uow() as session:
            return documents.store(session, who, ctx.corpus.vault, prepared)

    result = await anyio.to_thread.run_sync(work)
    if result.outcome == "stored":
        await anyio.to_thread.run_sync(ctx.corpus.refresh)  # this process answers from it at once
    return result


@router.post("/v1/documents", response_model=UploadResult, status_code=201, openapi_extra=_UPLOAD_OPENAPI)
async def upload(
    request: Request, principal: Annotated[Principal, Depends(Require("document:write"))]
) -> Any:
    """Upload one policy document (PDF, DOCX, HTML, Markdown or text) with its insurer, topic and
    effective date. Scanned pages are OCR'd. A newer version of the same `doc_key` supersedes the one
    in force. Problems found while reading (empty or missing pages, low OCR confidence) are listed in
    the result. An exact duplicate of a stored document is reported (200, `outcome: duplicate`) and not
    stored again; a near duplicate is stored but not indexed."""
    ctx = get_ctx(request)
    result = await upload_document(ctx, request, principal)
    status = 201 if result.outcome == "stored" else 200
    return JSONResponse(result.model_dump(mode="json"), status_code=status)


@router.get("/v1/documents", response_model=list[DocumentRead])
def list_documents(
    request: Request,
    principal: Annotated[Principal, Depends(Require("document:read"))],
    insurer: str | None = None,
    status: str | None = None,
    doc_key: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> list[DocumentRead]:
    """Documents by insurer and policy, newest version first, with their status."""
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(STATUSES)}, got {status!r}", code="bad_status")
    with get_ctx(request).uow() as session:
        found = documents.list_documents(
            session, insurer=insurer, status=status, doc_key=doc_key, limit=limit
        )
        return [documents.to_read(session, d) for d in found]


@router.get("/v1/documents/{document_id}", response_model=DocumentRead)
def get_document(
    document_id: str, request: Request, principal: Annotated[Principal, Depends(Require("document:read"))]
) -> DocumentRead:
    """One document's details and ingestion problems (not its content)."""
    with get_ctx(request).uow() as session:
        return documents.to_read(session, documents.get(session, document_id))


@router.get("/v1/documents/{document_id}/file")
def download_document(
    document_id: str, request: Request, principal: Annotated[Principal, Depends(Require("document:read"))]
) -> Response:
    """The uploaded file, decrypted and verified. The read is audited."""
    ctx = get_ctx(request)
    with ctx.uow() as session:
        doc, data = documents.read_content(session, actor(request, principal), ctx.corpus.vault, document_id)
        media, name = _MEDIA.get(doc.format, "application/octet-stream"), doc.filename
    return Response(data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/v1/documents/{document_id}/passages", response_model=list[PassageRead])
def document_passages(
    document_id: str, request: Request, principal: Annotated[Principal, Depends(Require("document:read"))]
) -> list[PassageRead]:
    """The document's citable passages with their pages. The read is audited."""
    ctx = get_ctx(request)
    with ctx.uow() as session:
        return documents.read_passages(session, actor(request, principal), ctx.corpus.vault, document_id)


@router.post("/v1/documents/{document_id}/withdraw", response_model=DocumentRead)
def withdraw_document(
    document_id: str,
    data: WithdrawRequest,
    request: Request,
    principal: Annotated[Principal, Depends(Require("document:write"))],
) -> DocumentRead:
    """Take a version out of use at once; the previous version of the policy, if any, is in force again."""
    ctx = get_ctx(request)
    with ctx.uow() as session:
        doc = documents.withdraw(session, actor(request, principal), document_id, data.reason)
        read = documents.to_read(session, doc)
    ctx.corpus.refresh()
    return read


@router.get("/v1/corpus", response_model=CorpusRead)
def corpus(
    request: Request, principal: Annotated[Principal, Depends(Require("document:read"))]
) -> CorpusRead:
    """The snapshot answers come from now: its id changes whenever the set of active documents changes."""
    ctx = get_ctx(request)
    snap = ctx.corpus.current()
    with ctx.uow() as session:
        counts = documents.status_counts(session)
    return CorpusRead(
        snapshot=snap.snapshot_id, active_documents=snap.documents, passages=snap.passages, by_status=counts
    )
