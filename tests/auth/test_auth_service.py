"""Users, passwords, throttling, API keys and sessions at the service layer (no HTTP), on both backends."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from shipyard.audit.models import AuditEvent
from shipyard.audit.service import Actor
from shipyard.auth import service as auth
from shipyard.auth.models import ApiKey, ConsoleSession, User
from shipyard.auth.principal import Principal
from shipyard.auth.schemas import KeyCreate, UserCreate, UserUpdate
from shipyard.core.clock import FrozenClock, as_utc
from shipyard.core.config import AuthSettings
from shipyard.core.errors import Conflict, Forbidden, InvalidInput, NotFound, TooManyAttempts, Unauthenticated

PASSWORD = "correct horse battery staple"
SETTINGS = AuthSettings(slow_after=2, lock_after=4, lock_minutes=15)


@pytest.fixture
def admin(clock: FrozenClock) -> Actor:
    return Actor("root", "user", "req_test", clock)


def make_user(session: Session, actor: Actor, username: str, roles: list[str], **kw: Any) -> User:
    user, _ = auth.create_user(
        session,
        actor,
        UserCreate(username=username, roles=roles, password=kw.pop("password", PASSWORD), **kw),
    )
    return user


def caller(user: User) -> Principal:
    return Principal(
        id=user.id, name=user.username, kind="user", roles=frozenset(user.roles), user_id=user.id
    )


def raw_row(session: Session, table: str, row_id: str) -> dict[str, Any]:
    row = session.execute(text(f"SELECT * FROM {table} WHERE id = :id"), {"id": row_id}).mappings().one()
    return dict(row)


def events(session: Session, action: str) -> list[AuditEvent]:
    return list(
        session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq))
    )


def fails(session: Session, clock: FrozenClock, username: str, password: str = "wrong password!") -> Any:
    with pytest.raises((Unauthenticated, TooManyAttempts)) as caught:
        auth.authenticate(session, SETTINGS, clock, username, password)
    return caught.value


# --- passwords ---------------------------------------------------------------------------------------


def test_password_is_stored_as_argon2id_and_never_in_clear(session: Session, admin: Actor) -> None:
    user = make_user(session, admin, "ada", ["analyst"])
    row = raw_row(session, "users", user.id)
    assert row["password_hash"].startswith("$argon2id$")
    assert not any(PASSWORD in str(value) for value in row.values())
    assert PASSWORD not in repr(events(session, "user.create")[0].after)


def test_user_create_without_password_generates_one(
    session: Session, admin: Actor, clock: FrozenClock
) -> None:
    user, generated = auth.create_user(session, admin, UserCreate(username="bob", roles=["consumer"]))
    assert generated and len(generated) >= 12
    assert raw_row(session, "users", user.id)["password_hash"].startswith("$argon2id$")
    assert auth.authenticate(session, SETTINGS, clock, "bob", generated).id == user.id
    _, given = auth.create_user(
        session, admin, UserCreate(username="cy", roles=["consumer"], password=PASSWORD)
    )
    assert given is None  # nothing to show when the admin chose the password


def test_duplicate_username_is_a_conflict(session: Session, admin: Actor) -> None:
    make_user(session, admin, "ada", ["analyst"])
    with pytest.raises(Conflict, match="a user named 'ada' already exists") as caught:
        make_user(session, admin, "ada", ["consumer"])
    assert caught.value.code == "conflict"


def test_sign_in_success_records_login_and_clears_failures(
    session: Session, admin: Actor, clock: FrozenClock
) -> None:
    make_user(session, admin, "ada", ["analyst"])
    fails(session, clock, "ada")
    user = auth.authenticate(session, SETTINGS, clock, "ada", PASSWORD)
    assert user.username == "ada"
    assert (user.failed_logins, user.locked_until) == (0, None)
    assert as_utc(user.last_login_at) == clock.now()  # type: ignore[arg-type]


def test_wrong_password_and_unknown_user_fail_the_same_way(
    session: Session, admin: Actor, clock: FrozenClock
) -> None:
    make_user(session, admin, "ada", ["analyst"])
    wrong = fails(session, clock, "ada")
    unknown = fails(session, clock, "nobody")
    assert isinstance(wrong, Unauthenticated) and isinstance(unknown, Unauthenticated)
    assert wrong.code == unknown.code == "bad_credentials"
    assert wrong.detail == unknown.detail == "wrong username or password"


def test_throttled_after_slow_after_failures_even_with_the_right_password(
    session: Session, admin: Actor, clock: FrozenClock
) -> None:
    make_user(session, admin, "ada", ["analyst"])
    for _ in range(SETTINGS.slow_after):
        assert fails(session, clock, "ada").code == "bad_credentials"
    # The next attempt must wait 2^0 s; before that even the right password is turned away.
    early = fails(session, clock, "ada", PASSWORD)
    assert isinstance(early, TooManyAttempts) and early.code == "too_many_attempts"
    assert early.extra["retry_after"] in (1, 2)
    assert f"try again in {early.extra['retry_after']} s" in early.detail
    assert auth.get_user(session, "ada").failed_logins == SETTINGS.slow_after  # refusals are not counted
    clock.advance(seconds=1)
    # Each further failure doubles the wait.
    assert fails(session, clock, "ada").code == "bad_credentials"
    clock.advance(seconds=1)
    assert fails(session, clock, "ada").code == "too_many_attempts"
    clock.advance(seconds=1)
    assert auth.authenticate(session, SETTINGS, clock, "ada", PASSWORD).failed_logins == 0


def test_locked_after_lock_after_failures_for_lock_minutes(
    session: Session, admin: Actor, clock: FrozenClock
) -> None:
    make_user(session, admin, "ada", ["analyst"])
    for n in range(SETTINGS.lock_after):
        assert fails(session, clock, "ada").code == "bad_credentials"
        clock.advance(seconds=2**n)  # wait out each throttle so every attempt counts
    user = auth.get_user(session, "ada")
    assert user.failed_logins == SETTINGS.lock_after
    assert user.locked_until is not None
    locked_at = clock.now() - timedelta(seconds=2 ** (SETTINGS.lock_after - 1))
    assert as_utc(user.locked_until) == locked_at + timedelta(minutes=SETTINGS.lock_minutes)
    (event,) = events(session, "user.locked")
    assert (event.actor, event.actor_kind, event.target_type, event.target_id) == (
        "auth",
        "system",
        "user",
        "ada",
    )
    assert event.after is not None and event.after["failed_logins"] == SETTINGS.lock_after
    # Locked: the right password is refused until lock_minutes have passed.
    clock.advance(minutes=SETTINGS.lock_minutes - 1)
    refused = fails(session, clock, "ada", PASSWORD)
    assert isinstance(refused, TooManyAttempts) and refused.code == "too_many_attempts"
    assert 0 < refused.extra["retry_after"] <= 60
    clock.advance(minutes=1)
    assert auth.authenticate(session, SETTINGS, clock, "ada", PASSWORD).locked_until is None


def test_enabling_a_user_clears_the_lockout(session: Session, admin: Actor, clock: FrozenClock) -> None:
    make_user(session, admin, "ada", ["analyst"])
    for n in range(SETTINGS.lock_after):
        fails(session, clock, "ada")
        clock.advance(seconds=2**n)
    assert fails(session, clock, "ada", PASSWORD).code == "too_many_attempts"
    auth.update_user(session, admin, "ada", UserUpdate(is_active=True))
    user = auth.authenticate(session, SETTINGS, clock, "ada", PASSWORD)
    assert (user.failed_logins, user.locked_until) == (0, None)


def test_reset_password_clears_lockout_and_ends_sessions(
    session: Session, admin: Actor, clock: FrozenClock
) -> None:
    user = make_user(session, admin, "ada", ["analyst"])
    token, _ = auth.start_session(session, SETTINGS, clock, user, None)
    for n in range(SETTINGS.lock_after):
        fails(session, clock, "ada")
        clock.advance(seconds=2**n)
    new = auth.reset_password(session, admin, "ada")
    assert auth.resolve_session(session, clock, token).principal is None
    assert auth.authenticate(session, SETTINGS, clock, "ada", new).username == "ada"
    with pytest.raises(InvalidInput, match="at least 12"):
        auth.reset_password(session, admin, "ada", "short")


def test_disabled_user_cannot_sign_in(session: Session, admin: Actor, clock: FrozenClock) -> None:
    make_user(session, admin, "ada", ["analyst"])
    auth.update_user(session, admin, "ada", UserUpdate(is_active=False))
    with pytest.raises(Unauthenticated) as caught:
        auth.authenticate(session, SETTINGS, clock, "ada", PASSWORD)
    assert caught.value.code == "account_disabled"
    # A wrong password for a disabled account says nothing about the account.
    assert fails(session, clock, "ada").code == "bad_credentials"


def test_change_password_checks_the_current_one(session: Session, admin: Actor, clock: FrozenClock) -> None:
    user = make_user(session, admin, "ada", ["analyst"])
    with pytest.raises(Forbidden) as caught:
        auth.change_password(session, admin, user.id, "not my password", "a new password here")
    assert caught.value.code == "wrong_password"
    auth.change_password(session, admin, user.id, PASSWORD, "a new password here")
    assert fails(session, clock, "ada", PASSWORD).code == "bad_credentials"
    assert auth.authenticate(session, SETTINGS, clock, "ada", "a new password here").id == user.id
    assert [e.target_id for e in events(session, "user.password_change")] == ["ada"]


# --- API keys ----------------------------------------------------------------------------------------


def test_key_secret_is_returned_once_and_stored_as_sha256_only(session: Session, admin: Actor) -> None:
    user = make_user(session, admin, "ada", ["analyst", "consumer"])
    key, secret = auth.create_key(session, admin, caller(user), KeyCreate(name="ci", roles=["consumer"]))
    assert secret.startswith(auth.KEY_PREFIX) and len(secret) > 40
    row = raw_row(session, "api_keys", key.id)
    assert row["digest"] == hashlib.sha256(secret.encode()).hexdigest()
    assert row["prefix"] == secret[:10]
    assert not any(secret in str(value) for value in row.values())
    (event,) = events(session, "key.create")
    assert event.target_id == key.id and event.after is not None
    assert event.after["prefix"] == secret[:10] and event.after["user"] == "ada"
    assert secret not in repr(event.after)
    principal = auth.resolve_key(session, FrozenClock(), secret).principal
    assert principal is not None
    assert (principal.kind, principal.name, principal.roles) == (
        "key",
        f"key:{secret[:10]}",
        frozenset({"consumer"}),
    )


def test_key_cannot_hold_roles_beyond_its_caller_or_owner(session: Session, admin: Actor) -> None:
    user = make_user(session, admin, "ada", ["consumer"])
    with pytest.raises(Forbidden, match=r"you cannot grant roles you do not hold: \['admin'\]") as caught:
        auth.create_key(session, admin, caller(user), KeyCreate(name="x", roles=["admin", "consumer"]))
    assert caught.value.code == "forbidden"
    # A caller still holding a role its user has since lost (a principal resolved before the demotion)
    # is stopped by the owner check.
    stale = Principal(id=user.id, name="ada", kind="user", roles=frozenset({"operator"}), user_id=user.id)
    with pytest.raises(Forbidden, match=r"a key cannot hold roles its owner does not have: \['operator'\]"):
        auth.create_key(session, admin, stale, KeyCreate(name="x", roles=["operator"]))
    other = make_user(session, admin, "bob", ["consumer"])
    with pytest.raises(Forbidden, match="only admins may create keys for other users"):
        auth.create_key(session, admin, caller(user), KeyCreate(name="x", user=other.username))
    root = make_user(session, admin, "root", ["admin"])
    with pytest.raises(InvalidInput, match=r"user 'ada' does not have roles \['analyst'\]") as invalid:
        auth.create_key(session, admin, caller(root), KeyCreate(name="x", user="ada", roles=["analyst"]))
    assert invalid.value.code == "invalid_input"
    key, _ = auth.create_key(session, admin, caller(root), KeyCreate(name="x", user="ada"))
    assert key.user_id == user.id and key.roles == ["consumer"]
    assert session.scalar(select(ApiKey.id).where(ApiKey.name == "x")) == key.id  # only the last one exists


def test_key_expiry_revocation_disabled_owner_and_demotion(
    session: Session, admin: Actor, clock: FrozenClock
) -> None:
    user = make_user(session, admin, "ada", ["operator", "consumer"])
    key, secret = auth.create_key(
        session, admin, caller(user), KeyCreate(name="k", roles=["operator", "consumer"], expires_in_days=1)
    )
    assert auth.resolve_key(session, clock, secret).principal is not None
    # A key never outranks its owner: demote the owner and the key loses the role.
    auth.update_user(session, admin, "ada", UserUpdate(roles=["consumer"]))
    principal = auth.resolve_key(session, clock, secret).principal
    assert principal is not None and principal.roles == {"consumer"}
    auth.update_user(session, admin, "ada", UserUpdate(is_active=False))
    assert auth.resolve_key(session, clock, secret).reason == "this API key's owner is disabled"
    auth.update_user(session, admin, "ada", UserUpdate(is_active=True))
    clock.advance(days=1)
    assert auth.resolve_key(session, clock, secret).reason == "this API key has expired"
    other, other_secret = auth.create_key(session, admin, caller(user), KeyCreate(name="k2"))
    auth.revoke_key(session, admin, caller(user), other.id)
    assert auth.resolve_key(session, clock, other_secret).reason == "this API key was revoked"
    assert auth.resolve_key(session, clock, "sy_unknown").reason == "unknown API key"
    (event,) = events(session, "key.revoke")
    assert event.target_id == other.id and event.after == {"prefix": other_secret[:10]}


def test_only_the_owner_or_an_admin_may_revoke(session: Session, admin: Actor, clock: FrozenClock) -> None:
    ada = make_user(session, admin, "ada", ["consumer"])
    bob = make_user(session, admin, "bob", ["consumer"])
    key, _ = auth.create_key(session, admin, caller(ada), KeyCreate(name="k"))
    with pytest.raises(NotFound, match=f"no API key '{key.id}'") as caught:
        auth.revoke_key(session, admin, caller(bob), key.id)
    assert caught.value.code == "not_found"  # bob cannot even learn the key exists
    assert session.get(ApiKey, key.id).revoked_at is None  # type: ignore[union-attr]
    root = make_user(session, admin, "root", ["admin"])
    assert auth.revoke_key(session, admin, caller(root), key.id).revoked_at is not None


# --- console sessions --------------------------------------------------------------------------------


def test_session_token_stored_as_digest_and_expires(
    session: Session, admin: Actor, clock: FrozenClock
) -> None:
    user = make_user(session, admin, "ada", ["analyst"])
    token, row = auth.start_session(session, SETTINGS, clock, user, "req_1")
    stored = raw_row(session, "console_sessions", row.id)
    assert stored["digest"] == hashlib.sha256(token.encode()).hexdigest()
    assert not any(token in str(value) for value in stored.values())
    principal = auth.resolve_session(session, clock, token).principal
    assert principal is not None and principal.session_id == row.id and principal.csrf_token == row.csrf_token
    (event,) = events(session, "session.start")
    assert (event.actor, event.target_id, event.request_id) == ("ada", "ada", "req_1")
    clock.advance(hours=SETTINGS.session_hours)
    assert auth.resolve_session(session, clock, token).reason == "your session has ended; sign in again"


def test_end_session(session: Session, admin: Actor, clock: FrozenClock) -> None:
    user = make_user(session, admin, "ada", ["analyst"])
    token, row = auth.start_session(session, SETTINGS, clock, user, None)
    auth.end_session(session, Actor("ada", "user", None, clock), row.id)
    assert session.get(ConsoleSession, row.id).revoked_at is not None  # type: ignore[union-attr]
    assert auth.resolve_session(session, clock, token).principal is None
    assert [e.actor for e in events(session, "session.end")] == ["ada"]
