"""The migrations build exactly the schema the models describe, and unwind cleanly."""

from __future__ import annotations

from alembic import command

from shipyard.db.migrate import alembic_config, current


def test_migrations_match_the_models_and_downgrade(db_url: str) -> None:
    config = alembic_config(db_url)
    assert current(db_url) == "0001"
    command.check(config)  # raises if autogenerate would emit anything
    command.downgrade(config, "base")
    assert current(db_url) is None
    command.upgrade(config, "head")
    assert current(db_url) == "0001"
