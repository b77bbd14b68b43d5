"""Shared CLI plumbing: settings, a unit of work, the CLI's audit actor, error display."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from sqlalchemy.orm import Session

from shipyard.audit.service import Actor
from shipyard.core.config import Settings
from shipyard.core.errors import ShipyardError
from shipyard.db.engine import make_engine
from shipyard.db.session import make_sessionmaker, unit_of_work

console = Console()
err = Console(stderr=True)

HomeOption = typer.Option(
    None, "--home", envvar="SHIPYARD_HOME", help="Instance folder (default ./.shipyard)."
)


def settings_for(home: Path | None) -> Settings:
    return Settings(home=home) if home else Settings()


def cli_actor() -> Actor:
    return Actor(f"cli:{getpass.getuser()}", "system")


@contextmanager
def session_for(home: Path | None) -> Iterator[tuple[Settings, Session]]:
    """A unit of work against the instance's database; Shipyard errors end the command cleanly."""
    settings = settings_for(home)
    engine = make_engine(settings.database_url)
    try:
        with unit_of_work(make_sessionmaker(engine)) as session:
            yield settings, session
    except ShipyardError as exc:
        err.print(f"[red]error ({exc.code}):[/red] {exc.detail}")
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
