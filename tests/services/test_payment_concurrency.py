"""Payments racing each other, on PostgreSQL and on SQLite: real threads, each doing its work as
a request does (its own app context, database session and transaction, committed at the end),
so the row locks in the services (PostgreSQL) and the write lock every writing transaction takes
at its start (SQLite) are what keeps the outcome consistent."""

import threading
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from panel.extensions import db
from panel.models import AuditEvent, Bill, Contract, Customer, OutboxMail, Payment
from panel.models.bills import BillStatus, PaymentMethod
from panel.refusals import DomainError
from panel.services.audit import Client
from panel.services.billing import cancel_bill, transfer_reference
from panel.services.payments import PaymentOutcome, ReceivedMoney, apply_payment
from panel.services.renewal.application import apply_renewal, new_application_token
from panel.services.renewal.pricing import Selection
from tests import factories
from tests.concurrency import WAIT, as_a_request, loaded_together, run_together

TODAY = date(2026, 11, 21)
RENEWAL_DATE = date(2026, 12, 1)
RENEWED_TO = date(2027, 12, 1)  # 12 months on
DELIVERIES = 20
ROUNDS = 5
NOBODY = Client(ip_address="192.0.2.1", user_agent="pytest")


@pytest.fixture
def plans():
    return factories.plan_lineup()


@pytest.fixture
def customer():
    return factories.customer()


def _awaiting_bank_transfer_bill(customer: Customer, contract: Contract) -> Bill:
    bill = apply_renewal(
        customer,
        [Selection(contract.id, 12, contract.plan_id)],
        month_end=False,
        payment_method=PaymentMethod.BANK_TRANSFER,
        application_token=new_application_token(customer),
        today=TODAY,
    )
    db.session.commit()
    assert bill.status == BillStatus.AWAITING_PAYMENT
    (line,) = bill.lines
    assert line.new_renewal_date == RENEWED_TO
    return bill


def _count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_one_notification_delivered_20_times_at_once_pays_the_bill_once(
    app, live_server, plans, customer
):
    contract = factories.server(customer, "taro.jp", plans["standard"], RENEWAL_DATE)
    bill = _awaiting_bank_transfer_bill(customer, contract)
    gateway = app.extensions["payment_gateway"]  # signs with app.config["PAYMENT_WEBHOOK_SECRET"]
    reference = transfer_reference(bill)
    notification = gateway.notification_for(
        PaymentMethod.BANK_TRANSFER,
        reference,
        bill.total,
        f"{reference} ヤマダタロウ",
        datetime.now(UTC),
    )
    url = f"{live_server}/payments/notifications"
    barrier = threading.Barrier(DELIVERIES)

    def deliver():
        barrier.wait(WAIT)
        return gateway.send_notification(url, notification, datetime.now(UTC))

    responses = run_together([deliver] * DELIVERIES)

    for response in responses:
        if isinstance(response, BaseException):
            raise response
    assert [status for status, _ in responses] == [200] * DELIVERIES, responses
    outcomes = sorted(body for _, body in responses)
    assert outcomes.count('{"result":"applied"}\n') == 1, outcomes
    assert outcomes.count('{"result":"duplicate"}\n') == DELIVERIES - 1, outcomes
    db.session.rollback()  # see what the requests committed
    (payment,) = db.session.scalars(select(Payment)).all()
    assert (payment.bill_id, payment.amount, payment.applied_to_bill) == (bill.id, bill.total, True)
    assert payment.provider_event_id == notification.event_id
    bill = db.session.get(Bill, bill.id)
    assert bill.status == BillStatus.PAID
    assert bill.paid_at is not None
    assert db.session.get(Contract, contract.id).renewal_date == bill.lines[0].new_renewal_date
    assert _count(OutboxMail, OutboxMail.kind == "payment") == 1
    assert _count(AuditEvent, AuditEvent.action == "payment_applied") == 1
    assert _count(AuditEvent, AuditEvent.action == "payment_flagged") == 0


def test_a_payment_racing_a_cancellation_ends_paid_or_cancelled_with_the_money_flagged(
    app, plans, customer
):
    for round_no in range(ROUNDS):
        contract = factories.server(
            customer, f"round-{round_no}.jp", plans["standard"], RENEWAL_DATE
        )
        bill = _awaiting_bank_transfer_bill(customer, contract)
        bill_id, total, reference = bill.id, bill.total, transfer_reference(bill)
        money = ReceivedMoney(
            provider="sandbox",
            event_id=f"evt_round_{round_no}",
            method=PaymentMethod.BANK_TRANSFER,
            amount=total,
            received_at=datetime.now(UTC),
            reference=reference,
            payer_name=f"{reference} ヤマダタロウ",
        )
        # Each side loads the bill first, as its request does, then both act at once.
        barrier = threading.Barrier(2)

        def pay(bill_id=bill_id, money=money, barrier=barrier):
            def work():
                loaded = loaded_together(barrier, lambda: db.session.get(Bill, bill_id))
                return apply_payment(loaded, money, datetime.now(UTC), NOBODY)

            return as_a_request(app, work)

        def cancel(bill_id=bill_id, barrier=barrier):
            def work():
                loaded = loaded_together(barrier, lambda: db.session.get(Bill, bill_id))
                return cancel_bill(loaded, datetime.now(UTC), None, NOBODY).status

            return as_a_request(app, work)

        paid, cancelled = run_together([pay, cancel])

        db.session.rollback()  # see what the threads committed
        bill = db.session.get(Bill, bill_id)
        renewal_date = db.session.get(Contract, contract.id).renewal_date
        payments = db.session.scalars(select(Payment).where(Payment.bill_id == bill_id)).all()
        mails = sorted(
            db.session.scalars(select(OutboxMail.kind).where(OutboxMail.bill_id == bill_id))
        )
        state = (paid, cancelled, bill.status, renewal_date, payments, mails)
        assert len(payments) == 1, state  # the money is recorded, whoever won
        (payment,) = payments
        if bill.status == BillStatus.PAID:
            assert paid == PaymentOutcome.APPLIED, state
            assert isinstance(cancelled, DomainError), state
            assert bill.cancelled_at is None and bill.paid_at is not None
            assert renewal_date == RENEWED_TO
            assert (payment.applied_to_bill, payment.review_reason) == (True, None)
            assert mails == ["bill", "payment"]
        else:
            assert bill.status == BillStatus.CANCELLED, state
            assert cancelled == BillStatus.CANCELLED, state
            assert paid == PaymentOutcome.FLAGGED, state
            assert bill.paid_at is None and bill.cancelled_at is not None
            assert renewal_date == RENEWAL_DATE  # untouched
            assert payment.applied_to_bill is False
            assert payment.review_reason == "取り消されたご請求への入金です"
            assert mails == ["bill", "cancellation"]


def test_two_applications_for_one_contract_at_once_make_one_bill(app, plans, customer):
    """The second application starts while the first holds its (uncommitted) bill: with the
    account locked it waits, then finds the contract on that bill; without the lock it would
    pass the "already on a bill" check too and make a second bill."""
    contract = factories.server(customer, "taro.jp", plans["standard"], RENEWAL_DATE)
    customer_id, selection = customer.id, Selection(contract.id, 12, contract.plan_id)
    first_token, second_token = new_application_token(customer), new_application_token(customer)
    first_applied, second_done = threading.Event(), threading.Event()

    def apply(token: str):
        customer = db.session.get(Customer, customer_id)
        return apply_renewal(
            customer, [selection], False, PaymentMethod.BANK_TRANSFER, token, TODAY
        ).bill_no

    def first():
        def work():
            try:
                bill_no = apply(first_token)
            finally:
                first_applied.set()
            second_done.wait(0.5)  # the second application runs while this one is open
            return bill_no

        return as_a_request(app, work)

    def second():
        def work():
            assert first_applied.wait(WAIT)
            try:
                return apply(second_token)
            finally:
                second_done.set()

        return as_a_request(app, work)

    first_result, second_result = run_together([first, second])

    assert isinstance(first_result, str), first_result
    assert isinstance(second_result, DomainError), second_result
    assert second_result.message.startswith("お申込できないご契約があります。「taro.jp」: ")
    assert f"請求No. {first_result}" in second_result.message
    db.session.rollback()
    (bill,) = db.session.scalars(select(Bill)).all()
    assert bill.bill_no == first_result
    assert bill.application_token == first_token
    assert _count(OutboxMail, OutboxMail.kind == "bill") == 1
