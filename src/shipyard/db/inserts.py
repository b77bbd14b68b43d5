"""INSERT ... ON CONFLICT DO NOTHING on both supported backends (at-least-once writers need it)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert


def insert_new(conn: Connection, table: Table, key: list[str]) -> Any:
    """An insert of `table` that skips rows whose `key` columns are already there."""
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    return insert(table).on_conflict_do_nothing(index_elements=key)
