"""Database behaviour that must hold on every connection.

SQLite has no row locks: `SELECT … FOR UPDATE` is a no-op there. So that it keeps the promises
PostgreSQL keeps with row locks (one payment, one number, one owner left), a transaction that
may write takes SQLite's one write lock when it begins (`BEGIN IMMEDIATE`), and waits for it up
to `SQLITE_BUSY_TIMEOUT_MS`; writers then run one after the other, each seeing what the one
before it committed. Transactions that only read begin deferred, so pages never wait for them.
"""

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, cast

from flask import current_app, has_request_context, request
from sqlalchemy import CursorResult, Result, Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from panel.extensions import db

#: How long a transaction waits for SQLite's write lock before it fails.
SQLITE_BUSY_TIMEOUT_MS = 15_000
#: Requests that only read. Views that write while answering one say so with `@writes_on_get`.
READING_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

#: Set by `writing()` for work that writes whatever the request (commands, the daily job, a
#: request's bookkeeping before its view).
_writing: ContextVar[bool] = ContextVar("writing", default=False)


@contextmanager
def writing() -> Iterator[None]:
    """Work that writes, outside a request or before its view (the staff session's last
    request, in a short transaction of its own): its transactions take the write lock
    (SQLite)."""
    token = _writing.set(True)
    try:
        yield
    finally:
        _writing.reset(token)


def writes_on_get(view):
    """Mark a view that writes although it answers GET (a PDF stored when first issued, a
    payment applied on the return from a provider)."""
    view.writes_on_get = True
    return view


def view_writes_on_get(endpoint: str | None) -> bool:
    """Is the view at `endpoint` one that writes although it answers GET?"""
    view = endpoint and current_app.view_functions.get(endpoint)
    return bool(getattr(view, "writes_on_get", False))


def _takes_write_lock() -> bool:
    if _writing.get():
        return True
    if not has_request_context():
        return False
    if request.method not in READING_METHODS:
        return True
    return view_writes_on_get(request.endpoint)


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection, connection_record) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        # pysqlite begins transactions itself, lazily and only deferred; we begin them instead
        # (see `_begin_sqlite`), which also makes SAVEPOINT work.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # SQLite ignores foreign keys unless asked, per connection; PostgreSQL always checks.
        cursor.execute("PRAGMA foreign_keys=ON")
        # WAL: readers never block the writer, so requests served at once don't stall.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()


@event.listens_for(Engine, "begin")
def _begin_sqlite(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE" if _takes_write_lock() else "BEGIN")


def dialect_insert(table: Table):
    """An INSERT with the database's own ON CONFLICT clauses (PostgreSQL or SQLite)."""
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def rows_matched(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE matched. `Session.execute` types every result as a
    `Result`; for these statements it is a `CursorResult`, which counts them."""
    return cast(CursorResult[Any], result).rowcount
