"""Units of work. The route or CLI command owns the transaction; services only flush()."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from shipyard.core.errors import Conflict, Unavailable


def make_sessionmaker(engine: Engine, **info: Any) -> sessionmaker[Session]:
    """`info` (e.g. the change bus) is visible to every session as `session.info`."""
    return sessionmaker(engine, expire_on_commit=False, info=info)


def after_commit(session: Session, callback: Callable[[], Any]) -> None:
    """Run `callback` once the current transaction commits (e.g. to invalidate caches)."""
    session.info.setdefault("after_commit", []).append(callback)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    session.info.pop("bumped", None)
    callbacks = session.info.pop("after_commit", [])
    for callback in callbacks:
        callback()


@event.listens_for(Session, "after_rollback")
def _drop_after_commit(session: Session) -> None:
    session.info.pop("after_commit", None)
    session.info.pop("bumped", None)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Open a session, commit on success, roll back on error; translate foreign DB errors."""
    session = factory()
    try:
        yield session
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(f"conflicts with existing data: {exc.orig}") from exc
    except OperationalError as exc:
        session.rollback()
        raise Unavailable(f"database unavailable: {exc.orig}") from exc
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
