"""Reading and verifying the audit trail."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from shipyard.audit import service as audit
from shipyard.audit.schemas import AuditEventRead, VerifyRead
from shipyard.auth.principal import Principal
from shipyard.web.deps import Require, get_ctx

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get("", response_model=list[AuditEventRead])
def list_events(
    request: Request,
    principal: Annotated[Principal, Depends(Require("audit:read"))],
    actor: str | None = None,
    action: str | None = None,
    service: str | None = None,
    target: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_seq: int | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditEventRead]:
    """Audit events, newest first. `action` matches a prefix (e.g. `service.`); page with before_seq."""
    flt = audit.AuditFilter(
        actor=actor, action=action, service=service, target_id=target, since=since, until=until
    )
    with get_ctx(request).uow() as session:
        rows = audit.list_events(session, flt, limit=limit, before_seq=before_seq)
        return [AuditEventRead.model_validate(r) for r in rows]


@router.get("/verify", response_model=VerifyRead)
def verify(request: Request, principal: Annotated[Principal, Depends(Require("audit:verify"))]) -> VerifyRead:
    """Walk the hash chain and report the first modified, deleted, inserted or reordered event."""
    with get_ctx(request).uow() as session:
        return VerifyRead(**asdict(audit.verify(session)))
