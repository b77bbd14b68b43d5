"""Shapes of audit events and verification reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class AuditEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    at: datetime
    actor: str
    actor_kind: str
    action: str
    target_type: str
    target_id: str
    service: str | None
    request_id: str | None
    before: Any
    after: Any
    hash: str


class VerifyRead(BaseModel):
    ok: bool
    checked: int
    problem: str | None
    seq: int | None
    detail: str
