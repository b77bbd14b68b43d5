"""Request and response shapes for users, keys and sign-in."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shipyard.auth.roles import ROLES


def _check_roles(roles: list[str]) -> list[str]:
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise ValueError(f"unknown roles {unknown}; valid roles are {list(ROLES)}")
    return sorted(set(roles))


class UserCreate(BaseModel):
    username: str = Field(min_length=2, max_length=150, pattern=r"^[A-Za-z0-9_.@-]+$")
    display_name: str = ""
    email: str | None = None
    roles: list[str] = Field(min_length=1)
    password: str | None = Field(default=None, min_length=12, max_length=1024)

    _roles = field_validator("roles")(_check_roles)


class UserUpdate(BaseModel):
    display_name: str | None = None
    email: str | None = None
    roles: list[str] | None = None
    is_active: bool | None = None

    @field_validator("roles")
    @classmethod
    def _roles(cls, roles: list[str] | None) -> list[str] | None:
        return None if roles is None else _check_roles(roles)


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    username: str
    display_name: str
    email: str | None
    roles: list[str]
    is_active: bool
    source: str
    locked_until: datetime | None
    last_login_at: datetime | None
    created_at: datetime


class UserCreated(UserRead):
    password: str | None = Field(None, description="The one-time password, when Shipyard generated it.")


class PasswordChange(BaseModel):
    current_password: str
    new_password: str = Field(min_length=12, max_length=1024)


class KeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    roles: list[str] = Field(default_factory=lambda: ["consumer"], min_length=1)
    services: list[str] | None = Field(None, description="Service slugs this key may act on; omit for all.")
    expires_in_days: float | None = Field(90, gt=0, description="Omit or null for a key that never expires.")
    user: str | None = Field(None, description="Owner's username (admins only); default: the caller.")

    _roles = field_validator("roles")(_check_roles)


class KeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    prefix: str
    user_id: str
    roles: list[str]
    services: list[str] | None
    expires_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime


class KeyCreated(KeyRead):
    key: str = Field(description="The secret key. It is shown only once.")


class LoginRequest(BaseModel):
    username: str
    password: str


class WhoAmI(BaseModel):
    name: str
    kind: str
    roles: list[str]
    services: list[str] | None
