"""Users, API keys, console sessions and sign-in with throttling and lockout."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipyard.audit.service import Actor, record
from shipyard.auth.models import ApiKey, ConsoleSession, UnknownSignIn, User
from shipyard.auth.principal import Principal
from shipyard.auth.schemas import KeyCreate, UserCreate, UserUpdate
from shipyard.core.clock import Clock, as_utc
from shipyard.core.config import AuthSettings
from shipyard.core.crypto import (
    DUMMY_PASSWORD_HASH,
    hash_password,
    password_needs_rehash,
    token_digest,
    verify_password,
)
from shipyard.core.errors import Conflict, Forbidden, InvalidInput, NotFound, TooManyAttempts, Unauthenticated
from shipyard.db.changes import bump

KEY_PREFIX = "sy_"
AUTH_TOPIC = "auth"


def _user_view(user: User) -> dict[str, object]:
    return {
        "username": user.username,
        "roles": user.roles,
        "is_active": user.is_active,
        "display_name": user.display_name,
        "email": user.email,
    }


def get_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user named {username!r}")
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def create_user(session: Session, actor: Actor, data: UserCreate) -> tuple[User, str | None]:
    """Create a local user; returns the one-time password when none was given."""
    if session.scalar(select(User.id).where(User.username == data.username)):
        raise Conflict(f"a user named {data.username!r} already exists")
    generated = None if data.password else secrets.token_urlsafe(12)
    user = User(
        username=data.username,
        display_name=data.display_name or data.username,
        email=data.email,
        roles=data.roles,
        password_hash=hash_password(data.password or generated or ""),
        created_at=actor.clock.now(),
    )
    session.add(user)
    session.flush()
    record(session, actor, "user.create", "user", user.username, after=_user_view(user))
    return user, generated


def update_user(session: Session, actor: Actor, username: str, data: UserUpdate) -> User:
    user = get_user(session, username)
    before = _user_view(user)
    for field in ("display_name", "email", "roles", "is_active"):
        value = getattr(data, field)
        if value is not None:
            setattr(user, field, value)
    if data.is_active:
        user.failed_logins, user.locked_until = 0, None
    session.flush()
    record(session, actor, "user.update", "user", username, before=before, after=_user_view(user))
    bump(session, AUTH_TOPIC)
    return user


def reset_password(session: Session, actor: Actor, username: str, password: str | None = None) -> str:
    """Set a new password (generated if not given), clear any lockout, end the user's sessions."""
    user = get_user(session, username)
    password = password or secrets.token_urlsafe(12)
    if len(password) < 12:
        raise InvalidInput("passwords must be at least 12 characters")
    user.password_hash = hash_password(password)
    user.failed_logins, user.locked_until = 0, None
    _end_sessions(session, user.id, actor.clock.now())
    record(session, actor, "user.password_reset", "user", username)
    bump(session, AUTH_TOPIC)
    return password


def change_password(
    session: Session, actor: Actor, user_id: str, current: str, new: str, keep_session: str | None = None
) -> None:
    """Change a password and end the user's other sessions (a stolen cookie must not survive it)."""
    user = session.get(User, user_id)
    if user is None or not user.password_hash or not verify_password(user.password_hash, current):
        raise Forbidden("the current password is not correct", code="wrong_password")
    user.password_hash = hash_password(new)
    for row in session.scalars(
        select(ConsoleSession).where(ConsoleSession.user_id == user_id, ConsoleSession.revoked_at.is_(None))
    ):
        if row.id != keep_session:
            row.revoked_at = actor.clock.now()
    record(session, actor, "user.password_change", "user", user.username)
    bump(session, AUTH_TOPIC)


def _end_sessions(session: Session, user_id: str, now: datetime) -> None:
    for row in session.scalars(
        select(ConsoleSession).where(ConsoleSession.user_id == user_id, ConsoleSession.revoked_at.is_(None))
    ):
        row.revoked_at = now


# --- sign-in ---------------------------------------------------------------------------------------


class _Throttled(Protocol):
    """What sign-in throttling keeps per username: a User, or an UnknownSignIn for other names."""

    failed_logins: int
    last_failed_at: datetime | None
    locked_until: datetime | None


def authenticate(
    session: Session, settings: AuthSettings, clock: Clock, username: str, password: str
) -> User:
    """Check a password. Failures are counted per username: slowed after a few, locked after more.

    Unknown usernames are counted and throttled exactly like real ones, so neither the answer nor the
    throttling tells an attacker which accounts exist. Raises Unauthenticated or TooManyAttempts;
    the caller must commit even on failure so the counters persist.
    """
    now = clock.now()
    user = session.scalar(select(User).where(User.username == username))
    known = user is not None and user.password_hash is not None
    state: _Throttled | None = user if known else session.get(UnknownSignIn, username[:150])
    # (an SSO-only user has no password: it is throttled under its name like an unknown one)
    if state is not None and state.locked_until and as_utc(state.locked_until) > now:
        wait = int((as_utc(state.locked_until) - now).total_seconds()) + 1
        raise TooManyAttempts(f"too many failed sign-ins; try again in {wait} s", retry_after=wait)
    if user is None or user.password_hash is None:
        verify_password(DUMMY_PASSWORD_HASH, password)  # same cost as a real check
        if state is None:
            state = UnknownSignIn(username=username[:150], failed_logins=0)
            session.add(state)
        _count_failure(session, settings, clock, state, username)
        raise Unauthenticated("wrong username or password", code="bad_credentials")
    if not verify_password(user.password_hash, password):
        _count_failure(session, settings, clock, user, username)
        raise Unauthenticated("wrong username or password", code="bad_credentials")
    if not user.is_active:
        raise Unauthenticated("this account is disabled", code="account_disabled")
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
    if password_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def _count_failure(
    session: Session, settings: AuthSettings, clock: Clock, state: _Throttled, username: str
) -> None:
    now = clock.now()
    state.failed_logins += 1
    state.last_failed_at = now
    if state.failed_logins >= settings.lock_after:
        state.locked_until = now + timedelta(minutes=settings.lock_minutes)
        record(
            session,
            Actor.system("auth", clock),
            "user.locked",
            "user",
            username,
            after={"failed_logins": state.failed_logins, "locked_until": state.locked_until},
        )
    elif state.failed_logins >= settings.slow_after:
        state.locked_until = now + timedelta(seconds=2 ** (state.failed_logins - settings.slow_after))


def user_principal(user: User, *, session_row: ConsoleSession | None = None) -> Principal:
    return Principal(
        id=user.id,
        name=user.username,
        kind="user",
        roles=frozenset(user.roles),
        user_id=user.id,
        session_id=session_row.id if session_row else None,
        csrf_token=session_row.csrf_token if session_row else None,
        expires_at=session_row.expires_at if session_row else None,
    )


def start_session(
    session: Session, settings: AuthSettings, clock: Clock, user: User, request_id: str | None
) -> tuple[str, ConsoleSession]:
    """Returns the cookie token (only its digest is stored) and the session row."""
    token = secrets.token_urlsafe(32)
    now = clock.now()
    row = ConsoleSession(
        digest=token_digest(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(24),
        created_at=now,
        expires_at=now + timedelta(hours=settings.session_hours),
    )
    session.add(row)
    session.flush()
    record(session, Actor(user.username, "user", request_id, clock), "session.start", "user", user.username)
    return token, row


def end_session(session: Session, actor: Actor, session_id: str) -> None:
    row = session.get(ConsoleSession, session_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = actor.clock.now()
        record(session, actor, "session.end", "user", actor.name)
        bump(session, AUTH_TOPIC)


# --- API keys --------------------------------------------------------------------------------------


def create_key(session: Session, actor: Actor, caller: Principal, data: KeyCreate) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the secret, which is never stored or shown again."""
    is_admin = "admin" in caller.roles
    if data.user and data.user != caller.name and not is_admin:
        raise Forbidden("only admins may create keys for other users")
    owner = get_user(session, data.user) if data.user else session.get(User, caller.user_id or "")
    if owner is None:
        raise InvalidInput("this principal has no user to own a key; name one with `user`")
    # A key may only hand on what the caller itself holds: a consumer key of an admin's cannot mint
    # an admin key, and a key limited to some services cannot mint one for others.
    beyond_caller = set() if is_admin else set(data.roles) - set(caller.roles)
    if beyond_caller:
        raise Forbidden(f"you cannot grant roles you do not hold: {sorted(beyond_caller)}")
    if caller.services is not None and (data.services is None or set(data.services) - caller.services):
        raise Forbidden(
            f"this credential is limited to services {sorted(caller.services)}; "
            "a key it creates must be limited to (some of) them too"
        )
    excess = set() if "admin" in owner.roles else set(data.roles) - set(owner.roles)
    if excess and not is_admin:
        raise Forbidden(f"a key cannot hold roles its owner does not have: {sorted(excess)}")
    if excess:
        raise InvalidInput(f"user {owner.username!r} does not have roles {sorted(excess)}")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    now = actor.clock.now()
    key = ApiKey(
        name=data.name,
        prefix=secret[:10],
        digest=token_digest(secret),
        user_id=owner.id,
        roles=data.roles,
        services=sorted(set(data.services)) if data.services else None,
        expires_at=now + timedelta(days=data.expires_in_days) if data.expires_in_days else None,
        created_at=now,
    )
    session.add(key)
    session.flush()
    record(
        session,
        actor,
        "key.create",
        "api_key",
        key.id,
        after={
            "name": key.name,
            "prefix": key.prefix,
            "user": owner.username,
            "roles": key.roles,
            "services": key.services,
            "expires_at": key.expires_at,
        },
    )
    return key, secret


def list_keys(session: Session, user_id: str | None = None) -> list[ApiKey]:
    stmt = select(ApiKey).order_by(ApiKey.created_at.desc())
    if user_id is not None:
        stmt = stmt.where(ApiKey.user_id == user_id)
    return list(session.scalars(stmt))


def revoke_key(session: Session, actor: Actor, caller: Principal, key_id: str) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None or ("admin" not in caller.roles and key.user_id != caller.user_id):
        raise NotFound(f"no API key {key_id!r}")
    if key.revoked_at is None:
        key.revoked_at = actor.clock.now()
        record(session, actor, "key.revoke", "api_key", key.id, after={"prefix": key.prefix})
        bump(session, AUTH_TOPIC)
    return key


# --- resolving credentials (cache misses land here) -------------------------------------------------


@dataclass(frozen=True)
class Resolved:
    principal: Principal | None
    reason: str = ""


def resolve_key(session: Session, clock: Clock, secret: str) -> Resolved:
    row = session.scalar(select(ApiKey).where(ApiKey.digest == token_digest(secret)))
    if row is None:
        return Resolved(None, "unknown API key")
    if row.revoked_at is not None:
        return Resolved(None, "this API key was revoked")
    if row.expires_at is not None and as_utc(row.expires_at) <= clock.now():
        return Resolved(None, "this API key has expired")
    owner = session.get(User, row.user_id)
    if owner is None or not owner.is_active:
        return Resolved(None, "this API key's owner is disabled")
    # A key never outranks its owner (an admin owner covers every role).
    roles = frozenset(row.roles) if "admin" in owner.roles else frozenset(row.roles) & frozenset(owner.roles)
    return Resolved(
        Principal(
            id=owner.id,
            name=f"key:{row.prefix}",
            kind="key",
            roles=roles,
            user_id=owner.id,
            key_id=row.id,
            services=frozenset(row.services) if row.services is not None else None,
            expires_at=row.expires_at,
        )
    )


def resolve_session(session: Session, clock: Clock, token: str) -> Resolved:
    row = session.scalar(select(ConsoleSession).where(ConsoleSession.digest == token_digest(token)))
    if row is None or row.revoked_at is not None or as_utc(row.expires_at) <= clock.now():
        return Resolved(None, "your session has ended; sign in again")
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        return Resolved(None, "this account is disabled")
    return Resolved(user_principal(user, session_row=row))
