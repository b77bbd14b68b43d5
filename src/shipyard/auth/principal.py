"""Who is calling. Built once per credential and cached; never carries a secret."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shipyard.auth.permissions import SERVICE_SCOPED, roles_for


@dataclass(frozen=True)
class Principal:
    id: str  # user id (for keys, the key's owner) or the OIDC subject
    name: str  # shown in the audit trail: a username, or "key:<prefix>" for API keys
    kind: str  # user | key | oidc
    roles: frozenset[str]
    user_id: str | None = None
    key_id: str | None = None
    services: frozenset[str] | None = None  # API keys may be limited to some services
    session_id: str | None = None
    csrf_token: str | None = None
    expires_at: datetime | None = None

    def can(self, permission: str, *, service: str | None = None, service_owner: str | None = None) -> bool:
        """Deny by default: a role must grant it, and service limits must admit the service."""
        granting = roles_for(permission) & self.roles
        if not granting:
            return False
        if service is None or permission not in SERVICE_SCOPED:
            return True
        if self.services is not None and service not in self.services:
            return False
        if granting == {"owner"}:
            return self.user_id is not None and self.user_id == service_owner
        return True
