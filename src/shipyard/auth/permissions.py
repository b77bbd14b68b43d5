"""The permission table: which roles hold which permission. Deny by default.

`owner` is special: it grants a service-scoped permission only on services the principal owns.
"""

from __future__ import annotations

ALL = frozenset({"admin", "owner", "approver", "reviewer", "operator", "analyst", "consumer"})
STAFF = ALL - {"consumer"}

PERMISSIONS: dict[str, frozenset[str]] = {
    # the model call itself
    "service:invoke": frozenset({"admin", "owner", "operator", "consumer"}),
    # registry
    "service:read": STAFF,
    "service:create": frozenset({"admin", "owner"}),
    "service:update": frozenset({"admin", "owner"}),
    "service:pause": frozenset({"admin", "owner", "operator"}),
    "version:create": frozenset({"admin", "owner"}),
    "version:promote": frozenset({"admin", "owner"}),
    # recorded payloads: every read is audited
    "prediction:read": frozenset({"admin", "owner", "reviewer", "analyst"}),
    # feedback on a prediction: whoever may invoke its service; ground-truth labels: who runs the service
    "prediction:feedback": frozenset({"admin", "owner", "operator", "consumer"}),
    "label:write": frozenset({"admin", "owner"}),
    # the review queue: reviewers decide held and queued calls; an escalated one goes to an approver
    "review:read": frozenset({"admin", "owner", "approver", "reviewer"}),
    "review:decide": frozenset({"admin", "owner", "approver", "reviewer"}),
    "review:escalated": frozenset({"admin", "owner", "approver"}),
    # batch jobs: reading one needs service:invoke or prediction:read on its service
    "job:read": frozenset({"admin", "owner", "operator", "consumer", "reviewer", "analyst"}),
    # drift monitoring: run a check now (reading drift is service:read, setting references service:update)
    "drift:check": frozenset({"admin", "owner", "operator"}),
    # policy documents: every read of a document's content is audited
    "document:read": ALL,
    "document:write": frozenset({"admin", "owner"}),
    # monitoring: alert rules, silences and channels are not scoped to one service
    "alert:read": STAFF,
    "alert:manage": frozenset({"admin", "owner", "operator"}),
    # governance
    "audit:read": frozenset({"admin", "analyst"}),
    "audit:verify": frozenset({"admin"}),
    "user:read": frozenset({"admin"}),
    "user:manage": frozenset({"admin"}),
    "key:manage": frozenset({"admin"}),
    # every signed-in principal may see who it is and manage its own keys
    "self": ALL,
    "console:view": ALL,
}

# Permissions that act on one service (the route has a {slug}); owner counts only for its own services.
SERVICE_SCOPED = frozenset(
    {
        "service:invoke",
        "service:read",
        "service:update",
        "service:pause",
        "version:create",
        "version:promote",
        "prediction:read",
        "prediction:feedback",
        "label:write",
        "review:read",
        "review:decide",
        "review:escalated",
        "job:read",
        "drift:check",
    }
)


def roles_for(permission: str) -> frozenset[str]:
    try:
        return PERMISSIONS[permission]
    except KeyError:
        raise KeyError(f"unknown permission {permission!r}") from None
