"""Running work as concurrent requests do: each in its own thread, app context, database
session and transaction, committed at the end (tests of row locks and SQLite's write lock)."""

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from panel.database import writing
from panel.extensions import db

#: How long a thread waits for the others before the test gives up (a deadlock, say).
WAIT = 30


def as_a_request(app, work: Callable[[], object]) -> object:
    """Run `work` as a request would: its own app context and session, committed on success,
    rolled back on an exception (which is passed on)."""
    with app.app_context(), writing():
        try:
            result = work()
            db.session.commit()
            return result
        except BaseException:
            db.session.rollback()
            raise
        finally:
            db.session.remove()


def loaded_together(barrier: threading.Barrier, load: Callable[[], object]) -> object:
    """Start with the others and load what this side works on. On PostgreSQL every side loads
    first and then all act at once, each on its own soon stale copy, which only the services'
    row locks make safe. SQLite lets one writing transaction begin at a time (BEGIN IMMEDIATE),
    so there all start at once and the others wait at their BEGIN."""
    if db.engine.dialect.name == "postgresql":
        loaded = load()
        barrier.wait(WAIT)
        return loaded
    barrier.wait(WAIT)
    return load()


def run_together(works: list[Callable[[], object]]) -> list[object]:
    """Run every callable in a thread of its own, all at once; what each returned or raised."""
    with ThreadPoolExecutor(max_workers=len(works)) as pool:
        futures = [pool.submit(work) for work in works]
        return [future.exception(WAIT) or future.result() for future in futures]
