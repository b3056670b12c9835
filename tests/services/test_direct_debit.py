"""口座振替: the bank account registered once through the gateway's form, and the collection of a
month-end bill on its due date: once, paid or declined (残高不足), never twice."""

import threading
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from panel.dates import today_in_japan
from panel.extensions import db
from panel.gateways import GatewayUnavailable, payment_gateway
from panel.gateways.sandbox import INSUFFICIENT_FUNDS_ACCOUNT, sandbox_gateway
from panel.jobs.daily import bill_month_ends, collect_direct_debits, run_daily
from panel.models import AuditEvent, Bill, OutboxMail, Payment, PaymentAttempt
from panel.models.bills import BillKind, BillStatus, PaymentMethod
from panel.models.customers import CustomerKind
from panel.models.payments import AttemptState
from panel.models.sandbox import SandboxCharge
from panel.models.types import utc_now
from panel.refusals import DomainError
from panel.services.audit import Client
from panel.services.billing import change_payment_method
from panel.services.direct_debit import (
    complete_registration,
    customer_ref,
    remove_registration,
    start_registration,
)
from panel.services.on_account import buy_on_account, closing_day, month_end_due_date
from panel.services.payments import IN_FLIGHT, reconcile_attempts
from panel.services.renewal.application import new_application_token
from panel.services.renewal.pricing import Selection
from tests import factories
from tests.concurrency import WAIT, as_a_request, run_together

CLIENT = Client(ip_address="203.0.113.9", user_agent="pytest")


def _registration_result(customer, number: str = "1234567") -> str:
    """What the gateway's form sends the customer back with, as the sandbox's page does."""
    back = sandbox_gateway().register_bank_account(
        {"customer_ref": customer_ref(customer), "return_url": "/settings/direct-debit/return"},
        bank_name="三井住友銀行",
        branch_name="本店",
        account_type="ordinary",
        account_number=number,
        holder_kana="カ)テスト",
    )
    return parse_qs(urlsplit(back).query)["result"][0]


def _register(customer, number: str = "1234567"):
    account = complete_registration(
        customer,
        _registration_result(customer, number),
        utc_now(),
        factories.owner(customer),
        CLIENT,
    )
    db.session.commit()
    return account


def _count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture
def company():
    factories.domain_price("com", 1_650)
    return factories.company_on_invoice_terms(contact_name="経理部 田中 一郎")


def _month_end_bill(customer, today=None) -> Bill:
    """A purchase on account today, and the month's bill made by the job of the 1st."""
    today = today or today_in_japan()
    domain = factories.domain(customer, f"{customer.member_id}.com", today + timedelta(days=60))
    buy_on_account(
        customer,
        [Selection(domain.id, 12)],
        False,
        new_application_token(customer),
        today,
        utc_now(),
        factories.owner(customer),
        CLIENT,
    )
    db.session.commit()
    closing = closing_day(today)
    bill_month_ends(closing + timedelta(days=1))
    db.session.rollback()
    bill = db.session.scalar(
        select(Bill).where(Bill.customer_id == customer.id, Bill.kind == BillKind.MONTH_END)
    )
    assert bill.due_date == month_end_due_date(closing)
    return bill


# Registering the account


def test_registering_keeps_the_gateways_token_and_the_masked_account_only(app, company):
    with app.test_request_context():
        form_url = start_registration(company, "http://panel/return", "http://panel/cancel")
    assert form_url.startswith("/sandbox/direct-debit?request=")

    account = _register(company)
    assert company.direct_debit_account == "三井住友銀行 本店 普通 ****567"
    assert company.direct_debit_token == account.token
    assert "1234567" not in company.direct_debit_token
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.customer_id == company.id))
    assert (event.action, event.detail) == ("direct_debit_registered", account.display)

    _register(company, "7654321")
    assert company.direct_debit_account == "三井住友銀行 本店 普通 ****321"
    assert _count(AuditEvent, AuditEvent.action == "direct_debit_replaced") == 1


def test_a_registration_result_counts_only_for_its_own_customer(company):
    other = factories.company_on_invoice_terms("other")
    with pytest.raises(DomainError, match="口座の登録結果を確認できませんでした"):
        complete_registration(
            other, _registration_result(company), utc_now(), factories.owner(other), CLIENT
        )
    with pytest.raises(DomainError, match="口座の登録結果を確認できませんでした"):
        complete_registration(
            company, "made-up.result", utc_now(), factories.owner(company), CLIENT
        )
    db.session.rollback()
    assert other.direct_debit_token is None and company.direct_debit_token is None


@pytest.mark.parametrize("kind", [CustomerKind.INDIVIDUAL, CustomerKind.CORPORATE])
def test_only_customers_on_invoice_terms_register_an_account(app, kind):
    customer = factories.customer("someone", kind=kind)
    with app.test_request_context(), pytest.raises(DomainError, match="口座振替は"):
        start_registration(customer, "http://panel/return", "http://panel/cancel")
    with pytest.raises(DomainError, match="口座振替は"):
        complete_registration(
            customer, _registration_result(customer), utc_now(), factories.owner(customer), CLIENT
        )


def test_the_next_month_end_bill_is_collected_from_the_registered_account(company):
    _register(company)
    bill = _month_end_bill(company)
    assert bill.payment_method == PaymentMethod.DIRECT_DEBIT
    mail = db.session.scalar(select(OutboxMail).where(OutboxMail.bill_id == bill.id))
    assert "ご登録の口座(三井住友銀行 本店 普通 ****567)から自動で引き落とします" in mail.body


# The collection


def test_the_bill_is_collected_on_its_due_date_once(company):
    _register(company)
    bill = _month_end_bill(company)
    due = bill.due_date

    assert run_daily(due - timedelta(days=1))["direct debits collected"] == 0
    assert run_daily(due)["direct debits collected"] == 1
    assert run_daily(due)["direct debits collected"] == 0
    db.session.rollback()
    bill = db.session.get(Bill, bill.id)
    assert bill.status == BillStatus.PAID
    payment = db.session.scalar(select(Payment).where(Payment.bill_id == bill.id))
    assert (payment.method, payment.amount, payment.applied_to_bill) == (
        PaymentMethod.DIRECT_DEBIT,
        1_650,
        True,
    )
    (charge,) = db.session.scalars(select(SandboxCharge)).all()
    assert (charge.idempotency_key, charge.kind, charge.amount) == (
        f"debit-{bill.bill_no}",
        "debit",
        1_650,
    )
    paid_mail = db.session.scalar(select(OutboxMail).where(OutboxMail.kind == "payment"))
    assert paid_mail.subject == f"【お支払確認】請求No.{bill.bill_no} お支払ありがとうございます"


def test_insufficient_funds_tell_the_customer_and_leave_the_bill_to_bank_transfer(company):
    _register(company, INSUFFICIENT_FUNDS_ACCOUNT)
    bill = _month_end_bill(company)
    due = bill.due_date

    assert run_daily(due)["direct debits collected"] == 1
    db.session.rollback()
    bill = db.session.get(Bill, bill.id)
    assert (bill.status, bill.payment_method) == (
        BillStatus.AWAITING_PAYMENT,
        PaymentMethod.BANK_TRANSFER,
    )
    attempt = db.session.scalar(select(PaymentAttempt))
    assert (attempt.state, attempt.failure_reason) == (
        AttemptState.FAILED,
        "残高不足のため、ご登録の口座から引き落とせませんでした。",
    )
    (mail,) = db.session.scalars(
        select(OutboxMail).where(OutboxMail.kind == "direct_debit_declined")
    ).all()
    assert mail.subject == f"【口座振替】お引き落としができませんでした(請求No.{bill.bill_no})"
    assert "残高不足" in mail.body and "下記の口座へお振込みください" in mail.body
    assert _count(AuditEvent, AuditEvent.action == "direct_debit_declined") == 1

    # Never collected again; the day after the due date it is overdue, not cancelled.
    run_daily(due)
    run_daily(due + timedelta(days=1))
    db.session.rollback()
    assert _count(SandboxCharge) == 1
    assert db.session.get(Bill, bill.id).status == BillStatus.AWAITING_PAYMENT
    assert _count(OutboxMail, OutboxMail.kind == "month_end_overdue") == 1


def test_two_runs_at_once_collect_once(app, company):
    _register(company)
    bill = _month_end_bill(company)
    due, bill_id = bill.due_date, bill.id
    db.session.remove()
    barrier = threading.Barrier(2)

    def run():
        barrier.wait(WAIT)
        return collect_direct_debits(due)

    results = run_together([lambda: as_a_request(app, run) for _ in range(2)])
    assert sorted(results) == [0, 1], results
    assert _count(SandboxCharge) == 1
    assert _count(Payment) == 1
    assert db.session.get(Bill, bill_id).status == BillStatus.PAID


def test_a_collection_the_gateway_did_not_answer_is_settled_by_its_key(company, monkeypatch):
    _register(company)
    bill = _month_end_bill(company)
    gateway = payment_gateway()
    collect = gateway.collect_direct_debit

    def answer_lost(*args):
        collect(*args)  # the money is taken, but the answer never arrives
        raise GatewayUnavailable("timed out")

    with monkeypatch.context() as patched:
        patched.setattr(gateway, "collect_direct_debit", answer_lost)
        assert collect_direct_debits(bill.due_date) == 0
    attempt = db.session.scalar(select(PaymentAttempt))
    assert (attempt.state, attempt.idempotency_key) == (
        AttemptState.PENDING,
        f"debit-{bill.bill_no}",
    )
    assert collect_direct_debits(bill.due_date) == 0  # claimed: not collected again

    assert reconcile_attempts(utc_now() + IN_FLIGHT) == {"applied": 1, "closed": 0}
    db.session.expire_all()
    assert _count(SandboxCharge) == 1
    assert db.session.get(Bill, bill.id).status == BillStatus.PAID


# Choosing and removing


def test_direct_debit_needs_an_account_and_is_chosen_by_the_day_before_the_due_date(company):
    bill = _month_end_bill(company)
    assert bill.payment_method == PaymentMethod.BANK_TRANSFER  # nothing registered yet
    with pytest.raises(DomainError, match="先に「口座振替の登録」"):
        change_payment_method(bill, PaymentMethod.DIRECT_DEBIT, bill.due_date - timedelta(days=3))
    db.session.rollback()
    _register(company)
    with pytest.raises(DomainError, match="お支払期限日の前日まで"):
        change_payment_method(bill, PaymentMethod.DIRECT_DEBIT, bill.due_date)
    db.session.rollback()
    change_payment_method(bill, PaymentMethod.DIRECT_DEBIT, bill.due_date - timedelta(days=1))
    db.session.commit()
    assert bill.payment_method == PaymentMethod.DIRECT_DEBIT


def test_a_renewal_bill_cannot_be_paid_by_direct_debit(company):
    _register(company)
    plan = factories.plan()
    server = factories.server(company, "corp.jp", plan, today_in_japan() + timedelta(days=10))
    bill = factories.renewal_bill(company, server)
    with pytest.raises(DomainError, match="お支払方法を選択してください"):
        change_payment_method(bill, PaymentMethod.DIRECT_DEBIT, today_in_japan())


def test_removing_the_account_moves_its_bills_to_bank_transfer(company):
    _register(company)
    bill = _month_end_bill(company)
    assert remove_registration(company, utc_now(), factories.owner(company), CLIENT) == 1
    db.session.commit()
    assert company.direct_debit_token is None and company.direct_debit_account is None
    assert db.session.get(Bill, bill.id).payment_method == PaymentMethod.BANK_TRANSFER
    assert run_daily(bill.due_date)["direct debits collected"] == 0
    with pytest.raises(DomainError, match="登録されている口座はありません"):
        remove_registration(company, utc_now(), factories.owner(company), CLIENT)


def test_the_sandbox_remembers_a_collection_by_its_key(app):
    gateway = sandbox_gateway()
    token = gateway.registered_bank_account(
        _registration_result(factories.company_on_invoice_terms()), "customer-1"
    ).token
    day = datetime(2026, 12, 31, tzinfo=UTC).date()
    first = gateway.collect_direct_debit(token, 5_000, "20261130-0001", "debit-x", day)
    again = gateway.collect_direct_debit(token, 5_000, "20261130-0001", "debit-x", day)
    assert first.charge is not None and again.charge is not None
    assert first.charge.event_id == again.charge.event_id
    db.session.rollback()  # the sandbox writes on a connection of its own
    assert _count(SandboxCharge) == 1
