"""Running work as concurrent requests do: each in its own thread, app context, database
session and transaction, committed at the end (PostgreSQL tests of row locks)."""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from panel.extensions import db

#: How long a thread waits for the others before the test gives up (a deadlock, say).
WAIT = 30


def as_a_request(app, work: Callable[[], object]) -> object:
    """Run `work` as a request would: its own app context and session, committed on success,
    rolled back on an exception (which is passed on)."""
    with app.app_context():
        try:
            result = work()
            db.session.commit()
            return result
        except BaseException:
            db.session.rollback()
            raise
        finally:
            db.session.remove()


def run_together(works: list[Callable[[], object]]) -> list[object]:
    """Run every callable in a thread of its own, all at once; what each returned or raised."""
    with ThreadPoolExecutor(max_workers=len(works)) as pool:
        futures = [pool.submit(work) for work in works]
        return [future.exception(WAIT) or future.result() for future in futures]
