"""The daily job (`flask --app wsgi jobs daily [--date YYYY-MM-DD]`): everything due on a day,
each step a function of that day (`panel.jobs.daily`).

Exactly once: every effect is claimed by a `JobEffect` row (kind, subject, day) under a unique
constraint, written in the same transaction as the effect, one transaction per effect. A second
run for the same day finds the rows and does nothing again; two runs at once queue on the
constraint (PostgreSQL) or on SQLite's write lock, and the second finds the first's rows; a run
that died halfway left only whole effects behind, and the next run does the rest.
"""

from collections.abc import Callable, Iterable
from datetime import date

from panel.database import dialect_insert
from panel.extensions import db
from panel.models.jobs import JobEffect
from panel.models.types import utc_now
from panel.refusals import DomainError


def claim_effect(kind: str, subject: str, day: date) -> bool:
    """Record that the effect (`kind`, `subject`, `day`) is being done, in the caller's
    transaction; False when it was done already (or is being done by a run not yet committed,
    which this one then waits for)."""
    table = JobEffect.__table__
    claimed = db.session.execute(
        dialect_insert(table)
        .values(kind=kind, subject=subject, day=day, done_at=utc_now())
        .on_conflict_do_nothing(index_elements=[table.c.kind, table.c.subject, table.c.day])
        .returning(table.c.id)
    ).scalar_one_or_none()
    return claimed is not None


def each_once(kind: str, units: Iterable[tuple[str, date, Callable[[], object]]]) -> int:
    """Do each unit (subject, day, effect) that was not done before, each in a transaction of
    its own; how many were done. A unit a rule refuses (a bill being paid right now, say) is
    left for the next run."""
    done = 0
    for subject, day, effect in units:
        try:
            if claim_effect(kind, subject, day):
                effect()
                db.session.commit()
                done += 1
            else:
                db.session.rollback()
        except DomainError:
            db.session.rollback()
    return done
