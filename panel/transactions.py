"""The unit of work: one database transaction per request, committed where the request ends.

- A view that returns normally has everything it changed committed, once, after it returns.
- A view that raises has everything rolled back; the error page is rendered afterwards.
- A service that refuses (`DomainError`) has what it changed rolled back, and the view shows the
  refusal, unless the refusal `keeps_record` (the service audited the refused attempt).

Views never commit or roll back themselves. The exceptions to "one transaction" are money
leaving through a provider (`services/payments.py`: the attempt is committed before the call)
and the staff session's bookkeeping, a `one_transaction` of its own before the view's.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, TypeVar

from panel.extensions import db
from panel.refusals import DomainError

Result = TypeVar("Result")


@contextmanager
def one_transaction() -> Iterator[None]:
    """What the block changes, committed when it ends, rolled back when it raises (a failing
    commit raises too, so nothing is ever half kept)."""
    try:
        yield
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def unit_of_work(view):
    """`view` as one transaction: committed when it returns, rolled back when it raises (and
    so ends in the error page)."""

    @wraps(view)
    def in_one_transaction(*args, **kwargs):
        with one_transaction():
            return view(*args, **kwargs)

    return in_one_transaction


def call_service(
    action: Callable[[], Result],
) -> tuple[Result, None] | tuple[Any, DomainError]:
    """Run a service call: (its result, None), or (None, the refusal) after undoing what the
    request changed, unless the refusal keeps its record."""
    # The refused side's result is typed Any, not None: mypy cannot narrow one unpacked name by
    # a check on the other, and callers read the result only once the refusal is None.
    try:
        return action(), None
    except DomainError as refusal:
        if not refusal.keeps_record:
            db.session.rollback()
        return None, refusal


def discard_request_changes() -> None:
    """Before an error page: nothing of the failed request is kept, and the session can be used
    again to render the page (a failed flush leaves it unusable until rolled back)."""
    db.session.rollback()
