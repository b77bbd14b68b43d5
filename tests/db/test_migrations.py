"""The migrations build exactly the schema the models describe, and unwind cleanly."""

from __future__ import annotations

from alembic import command
from alembic.script import ScriptDirectory

from shipyard.db.migrate import alembic_config, current


def test_migrations_match_the_models_and_downgrade(db_url: str) -> None:
    config = alembic_config(db_url)
    head = ScriptDirectory.from_config(config).get_current_head()
    assert current(db_url) == head
    command.check(config)  # raises if autogenerate would emit anything
    command.downgrade(config, "base")
    assert current(db_url) is None
    command.upgrade(config, "head")
    assert current(db_url) == head


def test_each_migration_steps_down_and_up_one_at_a_time(db_url: str) -> None:
    config = alembic_config(db_url)
    revisions = [s.revision for s in ScriptDirectory.from_config(config).walk_revisions()]
    for _ in revisions:
        command.downgrade(config, "-1")
    assert current(db_url) is None
    for _ in revisions:
        command.upgrade(config, "+1")
    assert current(db_url) == revisions[0]
