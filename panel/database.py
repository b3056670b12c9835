"""Database behaviour that must hold on every connection."""

import sqlite3

from sqlalchemy import Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from panel.extensions import db


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection, connection_record) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        # SQLite ignores foreign keys unless asked, per connection; PostgreSQL always checks.
        cursor.execute("PRAGMA foreign_keys=ON")
        # WAL: readers never block the writer, so requests served at once don't stall.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()


def dialect_insert(table: Table):
    """An INSERT with the database's own ON CONFLICT clauses (PostgreSQL or SQLite)."""
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)
