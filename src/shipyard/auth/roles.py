"""Shipyard's roles, most privileged first; the permission table and role checks use these names."""

ROLES: tuple[str, ...] = ("admin", "owner", "approver", "reviewer", "operator", "analyst", "consumer")
