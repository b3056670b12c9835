"""Purchases from one balance racing each other, on PostgreSQL (the account's row lock) and on
SQLite (one writer at a time): the balance never goes below minus the credit limit, and the
ledger always sums to it."""

import threading
from datetime import UTC, date, datetime

from sqlalchemy import func, select

from panel.extensions import db
from panel.models import Bill, Customer, LedgerEntry
from panel.models.bills import BillStatus, PaymentMethod
from panel.refusals import DomainError
from panel.services.audit import Client
from panel.services.balance import account_balance, ledger_sum
from panel.services.payments import PaymentOutcome, pay_from_balance
from tests import factories
from tests.concurrency import as_a_request, loaded_together, run_together

TODAY = date(2026, 11, 21)
CLIENT = Client(ip_address="192.0.2.1", user_agent="pytest")
ROUNDS = 50
#: Each purchase costs 6,000円; 10,000円 are available (5,000円 and a 5,000円 credit limit):
#: either one fits, both together do not.
PRICE = 6_000


def _awaiting_purchase(customer: Customer, name: str) -> Bill:
    domain = factories.domain(customer, name, date(2027, 1, 10))
    return factories.renewal_bill(
        customer, domain, months=12, method=PaymentMethod.BANK_TRANSFER, today=TODAY
    )


def _pay_together(app, bill_ids: list[int]) -> list[object]:
    barrier = threading.Barrier(len(bill_ids))

    def pay(bill_id: int):
        def work():
            bill = loaded_together(barrier, lambda: db.session.get(Bill, bill_id))
            return pay_from_balance(bill, datetime.now(UTC), CLIENT)

        return as_a_request(app, work)

    return run_together([lambda bill_id=bill_id: pay(bill_id) for bill_id in bill_ids])


def test_two_purchases_that_together_exceed_the_available_amount_never_both_pass(app):
    factories.domain_price("jp", PRICE)
    customer = factories.customer()
    for round_no in range(ROUNDS):
        factories.balance(customer, 5_000, credit_limit=5_000)
        bills = [_awaiting_purchase(customer, f"r{round_no}-{side}.jp") for side in "ab"]

        outcomes = _pay_together(app, [bill.id for bill in bills])

        state = (round_no, outcomes)
        assert outcomes.count(PaymentOutcome.APPLIED) == 1, state
        (refusal,) = [outcome for outcome in outcomes if outcome != PaymentOutcome.APPLIED]
        assert isinstance(refusal, DomainError), state
        assert "現在利用できる金額(4,000円)が不足している" in refusal.message, state
        db.session.rollback()
        customer = db.session.get(Customer, customer.id)
        balance = account_balance(customer)
        assert (balance.balance, balance.available) == (-1_000, 4_000), state
        assert ledger_sum(customer) == balance.balance, state
        statuses = sorted(db.session.get(Bill, bill.id).status for bill in bills)
        assert statuses == [BillStatus.AWAITING_PAYMENT, BillStatus.PAID], state


def test_eight_purchases_at_once_take_what_is_available_and_no_more(app):
    factories.domain_price("jp", 3_000)
    customer = factories.customer()
    factories.balance(customer, 5_000, credit_limit=5_000)  # 10,000円: three purchases fit
    bills = [_awaiting_purchase(customer, f"p{n}.jp") for n in range(8)]

    outcomes = _pay_together(app, [bill.id for bill in bills])

    assert outcomes.count(PaymentOutcome.APPLIED) == 3, outcomes
    assert all(isinstance(outcome, DomainError) for outcome in outcomes if outcome != "applied"), (
        outcomes
    )
    db.session.rollback()
    customer = db.session.get(Customer, customer.id)
    assert account_balance(customer).balance == -4_000
    assert ledger_sum(customer) == -4_000
    # The balances after each entry follow one another, whatever order the purchases ran in.
    entries = db.session.scalars(
        select(LedgerEntry).where(LedgerEntry.customer_id == customer.id).order_by(LedgerEntry.id)
    ).all()
    running = 0
    for entry in entries:
        running += entry.amount
        assert entry.balance_after == running
    paid = db.session.scalar(
        select(func.count()).select_from(Bill).where(Bill.status == BillStatus.PAID)
    )
    assert paid == 3
