"""Changes that race each other keep one consistent outcome, on PostgreSQL (row locks) and on
SQLite (one writer at a time): what an outside review broke on SQLite with 8 parallel requests."""

import threading
from datetime import UTC, date, datetime

from sqlalchemy import func, select

from panel.extensions import db
from panel.models import Bill, BillLine, Role, StorePayment, User
from panel.models.bills import BillLineKind, PaymentMethod
from panel.refusals import DomainError
from panel.services.audit import Client
from panel.services.billing import change_payment_method
from panel.services.payments import issue_store_payment
from panel.services.users import disable_user
from tests import factories
from tests.concurrency import as_a_request, loaded_together, run_together

TODAY = date(2026, 11, 21)
NOBODY = Client(ip_address="192.0.2.1", user_agent="pytest")
PARALLEL = 8


def _each_as_a_request(app, load, act, times: int) -> list[object]:
    barrier = threading.Barrier(times)

    def one():
        return as_a_request(app, lambda: act(loaded_together(barrier, load)))

    return run_together([one] * times)


def test_two_owners_disabling_each_other_at_once_leave_one_owner(app):
    customer = factories.customer()
    first = factories.owner(customer)
    second = factories.sub_user(customer, "taro+hanako", Role.OWNER)
    ids = [(first.id, second.id), (second.id, first.id)]
    barrier = threading.Barrier(2)

    def disable(by_id, user_id):
        def work():
            by, user = loaded_together(
                barrier, lambda: (db.session.get(User, by_id), db.session.get(User, user_id))
            )
            disable_user(user, by=by, client=NOBODY, now=datetime.now(UTC))
            return "disabled"

        return as_a_request(app, work)

    outcomes = run_together([lambda pair=pair: disable(*pair) for pair in ids])

    assert outcomes.count("disabled") == 1, outcomes
    (refusal,) = [outcome for outcome in outcomes if outcome != "disabled"]
    assert isinstance(refusal, DomainError), refusal
    db.session.rollback()
    active_owners = db.session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.role == Role.OWNER, User.disabled_at.is_(None))
    )
    assert active_owners == 1


def _bill(method):
    customer = factories.customer()
    server = factories.server(customer, "taro.jp", factories.plan(), date(2026, 11, 30))
    return factories.renewal_bill(customer, server, method=method, today=TODAY)


def test_one_store_number_however_many_ask_at_once(app):
    bill_id = _bill(PaymentMethod.CONVENIENCE_STORE).id
    numbers = _each_as_a_request(
        app,
        lambda: db.session.get(Bill, bill_id),
        lambda bill: issue_store_payment(bill, TODAY).payment_number,
        PARALLEL,
    )
    assert all(isinstance(number, str) for number in numbers), numbers
    assert len(set(numbers)) == 1, numbers
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(StorePayment)) == 1


def test_method_changes_at_once_leave_one_fee_line_and_no_error(app):
    bill_id = _bill(PaymentMethod.BANK_TRANSFER).id
    methods = [PaymentMethod.CONVENIENCE_STORE, PaymentMethod.CARD] * (PARALLEL // 2)
    barrier = threading.Barrier(PARALLEL)

    def change(method):
        def work():
            bill = loaded_together(barrier, lambda: db.session.get(Bill, bill_id))
            return change_payment_method(bill, method).payment_method

        return as_a_request(app, work)

    outcomes = run_together([lambda method=method: change(method) for method in methods])

    assert all(outcome in set(PaymentMethod) for outcome in outcomes), outcomes
    db.session.rollback()
    bill = db.session.get(Bill, bill_id)
    fees = db.session.scalar(
        select(func.count())
        .select_from(BillLine)
        .where(
            BillLine.bill_id == bill_id,
            BillLine.kind == BillLineKind.CONVENIENCE_STORE_FEE,
        )
    )
    assert fees == (1 if bill.payment_method == PaymentMethod.CONVENIENCE_STORE else 0)
