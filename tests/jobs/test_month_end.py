"""月末締め in the daily job: on the last day of each month every account with a ledger gets its
statement (e-mail and PDF), and a negative balance is settled once: charged to the card on file,
or billed; a declined card falls back to the bill."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from panel.dates import today_in_japan
from panel.extensions import db
from panel.gateways import CardDetails, GatewayUnavailable, Notification, payment_gateway
from panel.gateways.sandbox import DECLINED_CARD
from panel.jobs.daily import run_daily, settle_month_end
from panel.models import (
    AuditEvent,
    BalanceStatement,
    Bill,
    Customer,
    LedgerEntry,
    OutboxMail,
    PaymentAttempt,
)
from panel.models.balance import LedgerKind
from panel.models.bills import BillKind, BillStatus, PaymentMethod
from panel.models.payments import AttemptState
from panel.models.sandbox import SandboxCharge
from panel.services.audit import Client
from panel.services.auto_renewal import register_card
from panel.services.balance import account_balance, credit, debit, ledger_sum
from panel.services.billing import transfer_reference
from panel.services.month_end import close_month, statement_facts, statement_pdf
from panel.services.payments import receive_notification, reconcile_attempts
from tests import factories
from tests.concurrency import as_a_request, run_together
from tests.services.test_documents import pdf_text

MONTH_END = date(2026, 11, 30)
CLIENT = Client(ip_address="203.0.113.9", user_agent="pytest")


def _at(day: date, hour: int = 3) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def _customer(member_id: str = "taro", card: str | None = None) -> Customer:
    customer = factories.customer(member_id)
    if card:
        # The card expires well after the month ends, whenever the suite runs.
        expiry_year = max(today_in_japan().year, MONTH_END.year) + 3
        register_card(
            customer,
            CardDetails(card, 12, expiry_year, "123"),
            today_in_japan(),
            factories.owner(customer),
            CLIENT,
        )
        db.session.commit()
    return customer


def _purchase(customer: Customer, amount: int, cause: str, day: date) -> None:
    debit(
        customer,
        kind=LedgerKind.PURCHASE,
        cause=cause,
        amount=amount,
        description=f"お支払 {cause}",
        now=_at(day),
    )
    db.session.commit()


def _deposit(customer: Customer, amount: int, cause: str, day: date) -> None:
    credit(
        customer,
        kind=LedgerKind.DEPOSIT,
        cause=cause,
        amount=amount,
        description=f"ご入金 {cause}",
        now=_at(day),
    )
    db.session.commit()


def _count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _mails(kind: str) -> list[OutboxMail]:
    db.session.expire_all()
    query = select(OutboxMail).where(OutboxMail.kind == kind).order_by(OutboxMail.id)
    return list(db.session.scalars(query))


def _month_end_bills() -> list[Bill]:
    db.session.expire_all()
    return list(
        db.session.scalars(select(Bill).where(Bill.kind == BillKind.MONTH_END).order_by(Bill.id))
    )


def test_nothing_happens_before_the_last_day_of_the_month():
    customer = _customer(card=None)
    factories.balance(customer, -3_000, credit_limit=5_000)
    for day in (date(2026, 11, 1), date(2026, 11, 29), date(2026, 12, 1)):
        assert settle_month_end(day) == 0
    assert _count(BalanceStatement) == 0 and _month_end_bills() == []


def test_a_negative_balance_without_a_card_is_billed_once_and_paying_brings_it_to_zero():
    customer = _customer()
    factories.balance(customer, 2_000, credit_limit=10_000)
    _purchase(customer, 7_500, "bill:1", date(2026, 11, 10))

    run_daily(MONTH_END)
    run_daily(MONTH_END)  # the same day again: nothing twice

    (bill,) = _month_end_bills()
    assert (bill.status, bill.payment_method, bill.total) == (
        BillStatus.AWAITING_PAYMENT,
        PaymentMethod.BANK_TRANSFER,
        5_500,
    )
    assert (bill.applied_on, bill.due_date) == (MONTH_END, date(2026, 12, 31))
    (line,) = bill.lines
    assert line.description == "アカウント残高のご精算(2026年11月末の残高 -5,500円)"
    assert line.tax_rate == 0
    assert [mail.subject for mail in _mails("bill")] == [
        f"【ご請求】請求No.{bill.bill_no} 2026年11月分 ご利用料金(月末締め)"
    ]
    (statement_mail,) = _mails("balance_statement")
    assert statement_mail.subject == "【ご利用明細】2026年11月分 アカウント残高"
    assert f"請求No.{bill.bill_no}でご請求します" in statement_mail.body
    assert "銀行振込またはクレジットカード" in statement_mail.body

    receive_notification(
        Notification(
            "evt-month-end",
            PaymentMethod.BANK_TRANSFER,
            transfer_reference(bill),
            5_500,
            _at(date(2026, 12, 10)),
        ),
        "sandbox",
        _at(date(2026, 12, 10)),
        CLIENT,
    )
    db.session.commit()
    assert account_balance(customer).balance == 0
    entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.kind == LedgerKind.SETTLEMENT))
    assert (entry.amount, entry.balance_after, entry.cause) == (
        5_500,
        0,
        f"settlement:{bill.bill_no}",
    )


def test_a_negative_balance_with_a_card_is_charged_to_it_at_once():
    customer = _customer(card="4242424242424242")
    factories.balance(customer, -4_000, credit_limit=10_000)

    assert settle_month_end(MONTH_END) == 1
    assert settle_month_end(MONTH_END) == 0

    (bill,) = _month_end_bills()
    assert (bill.status, bill.payment_method, bill.total) == (
        BillStatus.PAID,
        PaymentMethod.CARD,
        4_000,
    )
    assert account_balance(customer).balance == 0
    assert ledger_sum(customer) == 0
    assert _count(SandboxCharge) == 1
    attempt = db.session.scalar(select(PaymentAttempt))
    assert attempt.idempotency_key == f"month-end-{customer.id}-2026-11"
    assert len(_mails("payment")) == 1
    assert _mails("bill") == []  # paid at once: nothing to ask for
    (statement_mail,) = _mails("balance_statement")
    assert "ご登録のクレジットカード(VISA 末尾4242)で清算します" in statement_mail.body


def test_a_declined_card_falls_back_to_the_bill():
    customer = _customer(card=DECLINED_CARD)
    factories.balance(customer, -4_000, credit_limit=10_000)

    run_daily(MONTH_END)

    (bill,) = _month_end_bills()
    assert (bill.status, bill.payment_method) == (
        BillStatus.AWAITING_PAYMENT,
        PaymentMethod.BANK_TRANSFER,
    )
    assert account_balance(customer).balance == -4_000
    (declined,) = _mails("month_end_card_declined")
    assert declined.subject == (
        f"【月末のご請求】クレジットカード決済ができませんでした(請求No.{bill.bill_no})"
    )
    assert len(_mails("bill")) == 1
    assert _count(AuditEvent, AuditEvent.action == "month_end_card_declined") == 1
    attempt = db.session.scalar(select(PaymentAttempt))
    assert attempt.state == AttemptState.FAILED

    charges = _count(SandboxCharge)
    run_daily(MONTH_END)  # not charged again
    assert _count(SandboxCharge) == charges
    assert _count(PaymentAttempt) == 1 and len(_month_end_bills()) == 1


def test_a_gateway_that_does_not_answer_leaves_the_charge_to_reconcile(monkeypatch):
    customer = _customer(card="4242424242424242")
    factories.balance(customer, -4_000, credit_limit=10_000)
    gateway = payment_gateway()

    def no_answer(*args):
        raise GatewayUnavailable("timeout")

    monkeypatch.setattr(gateway, "charge_saved_card", no_answer)
    run_daily(MONTH_END)
    (bill,) = _month_end_bills()
    assert bill.status == BillStatus.AWAITING_PAYMENT
    attempt = db.session.scalar(select(PaymentAttempt))
    assert attempt.state == AttemptState.PENDING
    monkeypatch.undo()

    run_daily(MONTH_END)  # claimed: the job does not charge again
    assert _count(PaymentAttempt) == 1
    reconcile_attempts(datetime.now(UTC) + timedelta(minutes=5))
    db.session.expire_all()
    # Nothing was taken (the gateway never got the charge): the attempt is closed and the bill
    # waits to be paid another way; the balance is still owed.
    assert db.session.get(PaymentAttempt, attempt.id).state != AttemptState.PENDING
    assert account_balance(customer).balance == -4_000


def test_a_bill_still_awaiting_is_not_billed_again_the_next_month():
    customer = _customer()
    factories.balance(customer, -3_000, credit_limit=10_000)
    run_daily(MONTH_END)
    _purchase(customer, 1_000, "bill:later", date(2026, 12, 5))

    run_daily(date(2026, 12, 31))

    first, second = _month_end_bills()
    assert (first.total, second.total) == (3_000, 1_000)  # only what is not billed yet


def test_a_positive_balance_gets_its_statement_and_no_bill():
    customer = _customer()
    _deposit(customer, 10_000, "deposit:1", date(2026, 11, 2))
    _purchase(customer, 1_000, "bill:1", date(2026, 11, 15))

    run_daily(MONTH_END)

    assert _month_end_bills() == []
    (mail,) = _mails("balance_statement")
    assert "■ ご入金            : 10,000円" in mail.body
    assert "■ ご利用            : 1,000円" in mail.body
    assert "■ 月末の残高        : 9,000円" in mail.body
    assert "マイナス残高のご精算" not in mail.body


def test_an_account_without_activity_and_a_zero_balance_gets_no_statement():
    quiet = _customer("quiet")
    _deposit(quiet, 1_000, "deposit:1", date(2026, 10, 5))
    _purchase(quiet, 1_000, "bill:1", date(2026, 10, 6))
    factories.customer("never")  # no ledger at all
    run_daily(date(2026, 10, 31))
    assert len(_mails("balance_statement")) == 1  # October had activity

    run_daily(MONTH_END)  # November: none, and the balance is zero
    assert len(_mails("balance_statement")) == 1
    assert _count(BalanceStatement) == 1


def test_each_statement_lists_the_entries_since_the_one_before():
    customer = _customer()
    _deposit(customer, 10_000, "deposit:1", date(2026, 10, 5))
    october = close_month(customer, date(2026, 10, 31))
    db.session.commit()
    _purchase(customer, 2_500, "bill:1", date(2026, 11, 3))
    _deposit(customer, 1_000, "deposit:2", date(2026, 11, 20))
    november = close_month(customer, MONTH_END)
    db.session.commit()
    _purchase(customer, 700, "bill:2", date(2026, 12, 1))

    facts = statement_facts(november)
    assert [entry.cause for entry in facts.entries] == ["bill:1", "deposit:2"]
    assert (november.opening_balance, november.closing_balance) == (10_000, 8_500)
    assert (facts.deposits, facts.purchases) == (1_000, 2_500)
    assert [entry.cause for entry in statement_facts(october).entries] == ["deposit:1"]
    assert close_month(customer, MONTH_END).id == november.id  # written once

    text = pdf_text(statement_pdf(november, MONTH_END))
    for expected in (
        "ご利用明細書",
        "2026年11月分",
        "山田 太郎 様",
        "前回締め時の残高 10,000円",
        "お支払 bill:1",
        "2,500円",
        "ご入金 deposit:2",
        "月末の残高 8,500円",
    ):
        assert expected in text, expected
    assert "bill:2" not in text  # December's


def test_two_runs_at_once_close_each_account_once(app):
    customers = [_customer(f"c{n}", card="4242424242424242") for n in range(3)]
    for customer in customers:
        factories.balance(customer, -1_000, credit_limit=5_000)

    def run():
        return as_a_request(app, lambda: settle_month_end(MONTH_END))

    outcomes = run_together([run, run])
    assert sum(outcomes) == 3, outcomes  # each account closed by one run or the other
    assert _count(BalanceStatement) == 3
    assert len(_month_end_bills()) == 3
    assert _count(SandboxCharge) == 3
    for customer in customers:
        assert account_balance(db.session.get(Customer, customer.id)).balance == 0


@pytest.mark.parametrize("balance", [-1, -9_999])
def test_the_bill_is_for_the_negative_amount_exactly(balance):
    customer = _customer()
    factories.balance(customer, balance, credit_limit=10_000)
    run_daily(MONTH_END)
    (bill,) = _month_end_bills()
    assert bill.total == -balance
