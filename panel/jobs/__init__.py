"""The daily job (`flask --app wsgi jobs daily [--date YYYY-MM-DD]`): everything due on a day,
each step a function of that day (`panel.jobs.daily`).

Exactly once: every effect is claimed by a `JobEffect` row (kind, subject, day) under a unique
constraint, written in the same transaction as the effect, one transaction per effect. A second
run for the same day finds the rows and does nothing again; two runs at once queue on the
constraint (PostgreSQL) or on SQLite's write lock, and the second finds the first's rows; a run
that died halfway left only whole effects behind, and the next run does the rest.

Each step's candidate query leaves out what is done already (`not_done`), so a second run does
not load and claim every candidate again; the claim still decides, for a run that started
before another's effects were committed.
"""

from collections.abc import Callable, Iterable
from datetime import date

from sqlalchemy import ColumnElement, Date, Integer, String, cast, literal, select, tuple_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from panel.database import dialect_insert
from panel.extensions import db
from panel.models.jobs import JobEffect
from panel.models.types import utc_now
from panel.refusals import DomainError


def subject_of(prefix: str, id_column: QueryableAttribute[int]) -> ColumnElement[str]:
    """The subject of an effect on the row, as SQL: `"contract:12"` for ("contract", 12)."""
    return literal(f"{prefix}:") + cast(id_column, String)


def not_done(
    kind: str,
    subject: ColumnElement[str],
    day: date | ColumnElement[date],
    days: tuple[date, date] | None = None,
) -> ColumnElement[bool]:
    """For a candidate query: the effect (`kind`, `subject`, `day`) has no JobEffect yet. `day`
    is a date, or an expression whose values lie within `days` (the first and the last)."""
    # NOT IN an uncorrelated subquery: the effects are read once and hashed, whatever the
    # planner's statistics say. A correlated NOT EXISTS, planned on statistics from before the
    # first run filled the table, read all of a day's effects again for every candidate.
    if isinstance(day, date):
        done = select(JobEffect.subject).where(JobEffect.kind == kind, JobEffect.day == day)
        return subject.not_in(done)
    assert days, "an expression for the day needs the days it lies within"
    done_on = select(JobEffect.subject, JobEffect.day).where(
        JobEffect.kind == kind, JobEffect.day.between(*days)
    )
    return tuple_(subject, day).not_in(done_on)


class days_after(FunctionElement[date]):  # noqa: N801 (used like a SQL function)
    """`column + days` for a date column, in the database's own date arithmetic."""

    type = Date()
    inherit_cache = True

    def __init__(self, column: QueryableAttribute[date], days: int):
        super().__init__(column, literal(days, Integer))


@compiles(days_after, "sqlite")
def _days_after_sqlite(element: days_after, compiler: SQLCompiler, **kw) -> str:
    column, days = (compiler.process(clause, **kw) for clause in element.clauses)
    # SQLite keeps dates as ISO text; date() gives back the same form, so they compare equal.
    return f"date({column}, {days} || ' days')"


@compiles(days_after)
def _days_after(element: days_after, compiler: SQLCompiler, **kw) -> str:
    column, days = (compiler.process(clause, **kw) for clause in element.clauses)
    # PostgreSQL: date + integer is a date (an interval would make it a timestamp).
    return f"({column} + CAST({days} AS INTEGER))"


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


def each_in_turn(units: Iterable[Callable[[], int]]) -> int:
    """Do each unit in a transaction of its own, for units that claim their effects themselves
    (`claim_effect`, several in one transaction: a customer's domains renewed on one bill);
    the sum of what they did (a unit answers how many effects it claimed and did). A unit
    that did nothing is rolled back; one a rule refuses is left for the next run."""
    done = 0
    for unit in units:
        try:
            count = unit()
            if count:
                db.session.commit()
                done += count
            else:
                db.session.rollback()
        except DomainError:
            db.session.rollback()
    return done
