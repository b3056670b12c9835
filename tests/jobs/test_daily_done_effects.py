"""The daily job leaves what it has done out of its candidate queries: a second run for a day,
or the runs of the next days, neither load nor claim those effects again, and an effect of
another day never hides one that is due."""

from datetime import date, timedelta

import pytest
from sqlalchemy import event, func, select

from panel.extensions import db
from panel.jobs.daily import run_daily, send_domain_notices, tell_expired_contracts
from panel.models import Contract, JobEffect, OutboxMail
from panel.services.contracts import GRACE_DAYS
from tests import factories

FIRST = date(2026, 12, 1)  # the 1st: the domain notice is due too


class Statements:
    """The SQL the job sends, while listening."""

    def __init__(self):
        self.sent: list[str] = []

    def __call__(self, conn, cursor, statement, *args):
        self.sent.append(statement)

    def claims(self) -> int:
        return sum(s.startswith("INSERT INTO job_effects") for s in self.sent)

    def __enter__(self):
        event.listen(db.engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *exc):
        event.remove(db.engine, "before_cursor_execute", self)


def _mails() -> int:
    return db.session.scalar(select(func.count()).select_from(OutboxMail))


@pytest.fixture
def customer():
    customer = factories.customer()
    customer.notify_40_days_before = True
    plan = factories.plan()
    for n, days in enumerate((40, 10, 5, 0, -1, -(GRACE_DAYS + 1))):
        factories.server(customer, f"site{n}.jp", plan, FIRST + timedelta(days=days))
    factories.domain(customer, "yamada.com", FIRST + timedelta(days=30))
    overdue = factories.server(customer, "overdue.jp", plan, FIRST + timedelta(days=60))
    factories.renewal_bill(customer, overdue, today=FIRST - timedelta(days=20))
    return customer


def test_a_second_run_claims_nothing_again(customer, mail_server):
    first = run_daily(FIRST)
    assert first["overdue bills cancelled"] == 1
    assert first["expiries told"] == 1
    assert first["renewal reminders"] == 5
    assert first["domain notices"] == 1
    mails = _mails()

    with Statements() as statements:
        second = run_daily(FIRST)

    assert all(count == 0 for count in second.values()), second
    assert statements.claims() == 0
    assert _mails() == mails


def test_an_expiry_told_is_not_claimed_again_on_the_next_days(customer):
    assert tell_expired_contracts(FIRST) == 1
    db.session.commit()
    for later in range(1, 7):  # the days it is still within the catch-up window
        with Statements() as statements:
            assert tell_expired_contracts(FIRST + timedelta(days=later)) == 0
        assert statements.claims() == 0


def test_an_effect_of_another_day_does_not_hide_one_due(customer):
    expired = db.session.scalars(
        select(Contract).where(Contract.renewal_date == FIRST - timedelta(days=GRACE_DAYS + 1))
    ).one()
    yesterday = FIRST - timedelta(days=1)
    subject = f"contract:{expired.id}"
    db.session.add_all(
        [
            JobEffect(kind="contract_expired", subject=subject, day=yesterday),
            JobEffect(kind="renewal_reminder_40", subject=subject, day=FIRST + timedelta(40)),
            JobEffect(kind="domain_notice", subject=f"customer:{customer.id}", day=yesterday),
        ]
    )
    db.session.commit()

    assert tell_expired_contracts(FIRST) == 1
    assert send_domain_notices(FIRST) == 1


def test_a_domain_notice_loads_the_domains_in_one_query(customer):
    for n in range(5):
        factories.domain(customer, f"more{n}.com", FIRST + timedelta(days=10 + n))

    with Statements() as statements:
        assert send_domain_notices(FIRST) == 1

    loads = [s for s in statements.sent if s.startswith("SELECT contracts.id, contracts.custo")]
    assert len(loads) == 1
    mail = db.session.scalars(select(OutboxMail).where(OutboxMail.kind == "domain_notice")).one()
    assert "(6件)" in mail.subject
