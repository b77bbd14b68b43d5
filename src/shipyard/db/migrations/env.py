"""Alembic environment: migrations run against Shipyard's engine with every domain's tables loaded."""

from __future__ import annotations

from alembic import context

from shipyard.db.base import Base
from shipyard.db.engine import make_engine
from shipyard.db.models import load_all_models

load_all_models()
config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
