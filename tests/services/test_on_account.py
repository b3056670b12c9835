"""請求書払い (月末締め翌月末払い): buying on account, the month's one consolidated bill, and what
a month-end bill is (never cancelled, paid late, paid by bank transfer or direct debit)."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from panel.database import writing
from panel.extensions import db
from panel.gateways import Notification
from panel.jobs.daily import bill_month_ends, run_daily
from panel.models import (
    AuditEvent,
    Bill,
    Contract,
    JobEffect,
    OnAccountPurchase,
    OutboxMail,
    Payment,
)
from panel.models.bills import BillKind, BillLineKind, BillStatus, PaymentMethod
from panel.models.customers import CustomerKind
from panel.refusals import DomainError
from panel.services.audit import Client
from panel.services.billing import cancel_bill, change_payment_method, transfer_reference
from panel.services.on_account import (
    buy_on_account,
    last_closed_month,
    month_end_due_date,
    set_invoice_terms,
    unbilled_purchases,
)
from panel.services.payments import receive_notification
from panel.services.renewal.application import new_application_token
from panel.services.renewal.pricing import Selection
from tests import factories
from tests.concurrency import run_together

CLIENT = Client(ip_address="203.0.113.9", user_agent="pytest")
NOW = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)


@pytest.fixture
def plans():
    return factories.plan_lineup()


@pytest.fixture
def company(plans):
    factories.domain_price("com", 1_650)
    factories.domain_price("jp", 3_520)
    return factories.company_on_invoice_terms(
        contact_name="経理部 田中 一郎", sub_email="it@corp.example.jp"
    )


def _buy(customer, *contracts, today: date, months: int = 12, plan_id=None, token=None):
    purchases = buy_on_account(
        customer,
        [Selection(c.id, months, plan_id or c.plan_id) for c in contracts],
        month_end=False,
        application_token=token or new_application_token(customer),
        today=today,
        now=NOW,
        by=factories.owner(customer),
        client=CLIENT,
    )
    db.session.commit()
    return purchases


def _month_end_bills():
    db.session.rollback()  # a fresh transaction: what other sessions committed is seen
    return list(
        db.session.scalars(
            select(Bill).where(Bill.kind == BillKind.MONTH_END).order_by(Bill.applied_on)
        )
    )


def _count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


# Buying on account


def test_a_purchase_on_account_renews_at_once_and_waits_for_its_month_end_bill(company, plans):
    server = factories.server(company, "corp.co.jp", plans["standard"], date(2026, 12, 10))
    domain = factories.domain(company, "corp.com", date(2027, 1, 5))

    purchases = _buy(company, server, domain, today=date(2026, 11, 21), plan_id=None)
    db.session.expire_all()

    # Renewed when bought, as a customer whose account pays for what it buys: no bill yet.
    assert db.session.get(Contract, server.id).renewal_date == date(2027, 12, 10)
    assert db.session.get(Contract, domain.id).renewal_date == date(2028, 1, 5)
    assert _count(Bill) == 0
    assert [(p.purchased_on, p.description, p.amount) for p in purchases] == [
        (date(2026, 11, 21), "corp.co.jp Standardプラン 1年 更新", 12_540),
        (date(2026, 11, 21), "corp.com ドメイン更新 1年", 1_650),
    ]
    unbilled = unbilled_purchases(company, date(2026, 11, 21))
    assert (unbilled.total, unbilled.closing, unbilled.due_date) == (
        14_190,
        date(2026, 11, 30),
        date(2026, 12, 31),
    )
    mail = db.session.scalar(select(OutboxMail).where(OutboxMail.kind == "on_account_purchase"))
    assert mail.recipients == "corp@example.jp, it@corp.example.jp"
    assert mail.body.startswith("株式会社テスト 御中\nご担当: 経理部 田中 一郎 様\n")
    assert "次回ご契約更新日: 2027年12月10日" in mail.body
    assert "お支払期限日  : 2026年12月31日" in mail.body
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "on_account_purchase"))
    assert event.detail == "2件 14,190円(2026年11月分)"


def test_a_plan_change_bought_on_account_applies_at_once(company, plans):
    server = factories.server(company, "corp.co.jp", plans["standard"], date(2026, 12, 10))
    _buy(company, server, today=date(2026, 11, 21), plan_id=plans["premium"].id)
    db.session.expire_all()
    assert db.session.get(Contract, server.id).plan_id == plans["premium"].id


@pytest.mark.parametrize(
    ("kind", "invoice_terms"),
    [(CustomerKind.INDIVIDUAL, False), (CustomerKind.CORPORATE, False)],
    ids=["individual", "company-without-terms"],
)
def test_only_companies_on_invoice_terms_may_buy_on_account(plans, kind, invoice_terms):
    customer = factories.customer("someone", kind=kind)
    server = factories.server(customer, "someone.jp", plans["standard"], date(2026, 12, 10))
    with pytest.raises(DomainError, match="請求書払いは、法人のお客様向けドメイン管理サービス"):
        _buy(customer, server, today=date(2026, 11, 21))
    db.session.rollback()
    assert db.session.get(Contract, server.id).renewal_date == date(2026, 12, 10)
    assert _count(OnAccountPurchase) == 0


def test_an_individual_cannot_be_put_on_invoice_terms():
    customer = factories.customer()
    with pytest.raises(DomainError, match="法人のお客様だけ"):
        set_invoice_terms(customer, True, NOW, CLIENT)
    company = factories.customer("corp", kind=CustomerKind.CORPORATE)
    assert set_invoice_terms(company, True, NOW, CLIENT) is True
    assert set_invoice_terms(company, True, NOW, CLIENT) is False
    db.session.commit()
    assert company.invoice_terms


def test_the_same_confirm_form_sent_twice_buys_once(company, plans):
    server = factories.server(company, "corp.co.jp", plans["standard"], date(2026, 12, 10))
    token = new_application_token(company)
    first = _buy(company, server, today=date(2026, 11, 21), token=token)
    again = _buy(company, server, today=date(2026, 11, 21), token=token)
    assert [p.id for p in first] == [p.id for p in again]
    db.session.expire_all()
    assert db.session.get(Contract, server.id).renewal_date == date(2027, 12, 10)
    assert _count(OnAccountPurchase) == 1


def test_the_same_confirm_form_sent_at_once_buys_once(app, company, plans):
    server = factories.server(company, "corp.co.jp", plans["standard"], date(2026, 12, 10))
    token = new_application_token(company)
    company_id, server_id = company.id, server.id

    def buy():
        with app.app_context(), writing():
            customer = db.session.get(type(company), company_id)
            purchases = buy_on_account(
                customer,
                [Selection(server_id, 12)],
                False,
                token,
                date(2026, 11, 21),
                NOW,
                customer.users[0],
                CLIENT,
            )
            db.session.commit()
            return [purchase.id for purchase in purchases]

    first, second = run_together([buy, buy])
    assert not isinstance(first, BaseException), first
    assert first == second
    db.session.rollback()
    assert _count(OnAccountPurchase) == 1
    assert db.session.get(Contract, server_id).renewal_date == date(2027, 12, 10)


def test_a_contract_on_an_awaiting_bill_cannot_also_be_bought_on_account(company, plans):
    server = factories.server(company, "corp.co.jp", plans["standard"], date(2026, 12, 10))
    bill = factories.renewal_bill(company, server, today=date(2026, 11, 21))
    with pytest.raises(DomainError, match=f"請求No. {bill.bill_no}"):
        _buy(company, server, today=date(2026, 11, 21))


def test_another_customers_contract_or_form_is_refused(company, plans):
    other = factories.customer("other")
    theirs = factories.server(other, "other.jp", plans["standard"], date(2026, 12, 10))
    with pytest.raises(DomainError, match="見つかりません"):
        _buy(company, theirs, today=date(2026, 11, 21))
    db.session.rollback()
    ours = factories.server(company, "corp.co.jp", plans["standard"], date(2026, 12, 10))
    with pytest.raises(DomainError, match="有効期限が切れました"):
        _buy(company, ours, today=date(2026, 11, 21), token=new_application_token(other))


# The month-end bill


@pytest.mark.parametrize(
    ("closing", "due"),
    [
        (date(2026, 11, 30), date(2026, 12, 31)),
        (date(2026, 12, 31), date(2027, 1, 31)),
        (date(2027, 1, 31), date(2027, 2, 28)),
        (date(2028, 1, 31), date(2028, 2, 29)),  # leap year
        (date(2027, 2, 28), date(2027, 3, 31)),
    ],
)
def test_a_month_end_bill_is_due_at_the_end_of_the_next_month(closing, due):
    assert month_end_due_date(closing) == due
    assert last_closed_month(closing + timedelta(days=1)) == closing


def test_one_bill_lists_every_purchase_of_the_month_with_its_date_and_tax_per_rate(company, plans):
    server = factories.server(company, "corp.co.jp", plans["standard"], date(2026, 12, 10))
    com = factories.domain(company, "corp.com", date(2027, 1, 5))
    jp = factories.domain(company, "corp.jp", date(2027, 3, 1))
    _buy(company, server, today=date(2026, 11, 2))
    _buy(company, com, jp, today=date(2026, 11, 15), months=24)
    # A purchase at the reduced rate (8%), to see the tax computed once per rate per bill.
    db.session.add(
        OnAccountPurchase(
            customer=company,
            purchased_on=date(2026, 11, 20),
            application_token="reduced-rate",
            position=1,
            kind=BillLineKind.RENEWAL,
            description="軽減税率の品目",
            amount=1_080,
            tax_rate=8,
        )
    )
    db.session.commit()

    assert bill_month_ends(date(2026, 12, 1)) == 1
    (bill,) = _month_end_bills()
    assert (bill.kind, bill.applied_on, bill.due_date) == (
        BillKind.MONTH_END,
        date(2026, 11, 30),
        date(2026, 12, 31),
    )
    assert bill.payment_method == PaymentMethod.BANK_TRANSFER  # no account registered
    assert [(line.purchased_on, line.description, line.amount) for line in bill.lines] == [
        (date(2026, 11, 2), "corp.co.jp Standardプラン 1年 更新", 12_540),
        (date(2026, 11, 15), "corp.com ドメイン更新 2年", 3_300),
        (date(2026, 11, 15), "corp.jp ドメイン更新 2年", 7_040),
        (date(2026, 11, 20), "軽減税率の品目", 1_080),
    ]
    assert {line.kind for line in bill.lines} == {BillLineKind.ON_ACCOUNT}
    assert bill.total == 23_960
    assert [(rate.rate, rate.total, rate.tax) for rate in bill.tax_totals] == [
        (10, 22_880, 2_080),  # floor(22880 × 10 / 110), once for the rate
        (8, 1_080, 80),  # floor(1080 × 8 / 108)
    ]
    assert _count(OnAccountPurchase, OnAccountPurchase.month_end_bill_id == bill.id) == 4
    mail = db.session.scalar(select(OutboxMail).where(OutboxMail.bill_id == bill.id))
    assert mail.subject == f"【ご請求】請求No.{bill.bill_no} 2026年11月分 ご利用料金(月末締め)"
    assert mail.body.startswith("株式会社テスト 御中\nご担当: 経理部 田中 一郎 様\n")
    assert "・2026年11月15日 corp.jp ドメイン更新 2年" in mail.body
    assert transfer_reference(bill) in mail.body  # how to pay by bank transfer


def test_the_last_day_belongs_to_its_month_and_the_1st_to_the_next(company):
    """A month closes at the end of its last day (Japan time): what is bought on the 30th is
    November's, what is bought on the 1st is December's, whenever the job runs."""
    com = factories.domain(company, "corp.com", date(2027, 1, 5))
    jp = factories.domain(company, "corp.jp", date(2027, 3, 1))
    _buy(company, com, today=date(2026, 11, 30))
    run_daily(date(2026, 11, 30))  # the month has not closed yet: nothing billed
    assert _month_end_bills() == []
    _buy(company, jp, today=date(2026, 12, 1))  # before the job of the 1st runs

    run_daily(date(2026, 12, 1))
    (november,) = _month_end_bills()
    assert [line.description for line in november.lines] == ["corp.com ドメイン更新 1年"]
    assert (november.applied_on, november.due_date) == (date(2026, 11, 30), date(2026, 12, 31))

    run_daily(date(2027, 1, 1))
    november, december = _month_end_bills()
    assert [line.description for line in december.lines] == ["corp.jp ドメイン更新 1年"]
    assert (december.applied_on, december.due_date) == (date(2026, 12, 31), date(2027, 1, 31))


def test_no_purchases_no_bill(company):
    factories.domain(company, "corp.com", date(2027, 1, 5))
    assert run_daily(date(2026, 12, 1))["month-end bills made"] == 0
    assert _month_end_bills() == []


def test_a_month_is_billed_once_however_often_the_job_runs(company):
    com = factories.domain(company, "corp.com", date(2027, 1, 5))
    _buy(company, com, today=date(2026, 11, 10))
    assert run_daily(date(2026, 12, 1))["month-end bills made"] == 1
    assert run_daily(date(2026, 12, 1))["month-end bills made"] == 0
    assert run_daily(date(2026, 12, 2))["month-end bills made"] == 0  # a later day: nothing new
    assert len(_month_end_bills()) == 1
    assert _count(OutboxMail, OutboxMail.kind == "bill") == 1


def test_a_missed_1st_is_caught_up_and_a_late_purchase_goes_on_the_next_bill(company):
    com = factories.domain(company, "corp.com", date(2027, 1, 5))
    jp = factories.domain(company, "corp.jp", date(2027, 3, 1))
    _buy(company, com, today=date(2026, 11, 10))
    run_daily(date(2026, 12, 3))  # the job did not run on the 1st and 2nd
    (november,) = _month_end_bills()
    assert november.applied_on == date(2026, 11, 30)
    # A purchase of the 30th that was committed while November's bill was being made: it is
    # not lost, and not billed twice; the next bill takes it, with its own date.
    _buy(company, jp, today=date(2026, 11, 30))
    run_daily(date(2026, 12, 4))
    assert len(_month_end_bills()) == 1
    run_daily(date(2027, 1, 1))
    november, december = _month_end_bills()
    assert [(line.purchased_on, line.description) for line in december.lines] == [
        (date(2026, 11, 30), "corp.jp ドメイン更新 1年")
    ]


def test_two_runs_at_once_make_one_bill_per_customer(app, plans):
    factories.domain_price("com", 1_650)
    for number in range(4):
        customer = factories.company_on_invoice_terms(f"corp{number}")
        _buy(
            customer,
            factories.domain(customer, f"corp{number}.com", date(2027, 1, 5)),
            today=date(2026, 11, 10),
        )

    def run():
        with app.app_context(), writing():
            return run_daily(date(2026, 12, 1))["month-end bills made"]

    first, second = run_together([run, run])
    assert first + second == 4, (first, second)
    assert len(_month_end_bills()) == 4
    assert _count(JobEffect, JobEffect.kind == "month_end_bill") == 4


# What a month-end bill is


@pytest.fixture
def month_end_bill(company):
    com = factories.domain(company, "corp.com", date(2027, 1, 5))
    _buy(company, com, today=date(2026, 11, 10))
    run_daily(date(2026, 12, 1))
    (bill,) = _month_end_bills()
    return bill


def test_a_month_end_bill_cannot_be_cancelled(month_end_bill):
    with pytest.raises(DomainError, match="取り消せません"):
        cancel_bill(month_end_bill, NOW, None, CLIENT)


def test_past_its_due_date_it_stays_awaiting_and_the_customer_is_asked_once(month_end_bill):
    due = month_end_bill.due_date
    for day in (due, due + timedelta(days=1), due + timedelta(days=1), due + timedelta(days=2)):
        run_daily(day)
    db.session.expire_all()
    assert db.session.get(Bill, month_end_bill.id).status == BillStatus.AWAITING_PAYMENT
    (notice,) = db.session.scalars(
        select(OutboxMail).where(OutboxMail.kind == "month_end_overdue")
    ).all()
    assert notice.subject == (
        f"【お支払のお願い】請求No.{month_end_bill.bill_no} お支払期限日を過ぎています"
    )
    assert transfer_reference(month_end_bill) in notice.body
    assert _count(OutboxMail, OutboxMail.kind == "overdue_cancellation") == 0


def test_money_that_arrives_late_still_pays_it(month_end_bill):
    late = datetime(2027, 1, 8, 3, tzinfo=UTC)
    notification = Notification(
        "evt-late",
        PaymentMethod.BANK_TRANSFER,
        transfer_reference(month_end_bill),
        month_end_bill.total,
        late,
    )
    receive_notification(notification, "sandbox", late, CLIENT)
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Bill, month_end_bill.id).status == BillStatus.PAID
    payment = db.session.scalar(select(Payment))
    assert payment.applied_to_bill and payment.review_reason is None


def test_no_buying_on_account_while_a_month_end_bill_is_overdue(company, month_end_bill):
    jp = factories.domain(company, "corp.jp", date(2027, 3, 1))
    with pytest.raises(DomainError, match=f"請求No. {month_end_bill.bill_no}"):
        _buy(company, jp, today=date(2027, 1, 1))
    db.session.rollback()
    _buy(company, jp, today=date(2026, 12, 31))  # on the due date it is not overdue yet


def test_a_month_end_bill_is_paid_by_bank_transfer_direct_debit_or_card_only(month_end_bill):
    for method in (PaymentMethod.PAYPAL, PaymentMethod.CONVENIENCE_STORE, PaymentMethod.BALANCE):
        with pytest.raises(DomainError, match="お支払方法を選択してください"):
            change_payment_method(month_end_bill, method, date(2026, 12, 2))
        db.session.rollback()
    assert change_payment_method(month_end_bill, PaymentMethod.CARD, date(2026, 12, 2))
    db.session.rollback()
    with pytest.raises(DomainError, match="先に「口座振替の登録」"):
        change_payment_method(month_end_bill, PaymentMethod.DIRECT_DEBIT, date(2026, 12, 2))


def test_staff_put_a_company_on_invoice_terms_from_the_command_line(app):
    company = factories.customer("corp", kind=CustomerKind.CORPORATE)
    factories.customer("taro")
    runner = app.test_cli_runner()

    result = runner.invoke(args=["customers", "invoice-terms", "corp", "on"])
    assert (result.exit_code, result.output) == (0, "corp: 請求書払い on\n")
    assert runner.invoke(args=["customers", "invoice-terms", "corp", "on"]).output == (
        "corp: 請求書払い on (変更なし)\n"
    )
    refused = runner.invoke(args=["customers", "invoice-terms", "taro", "on"])
    assert refused.exit_code == 1 and "法人のお客様だけ" in refused.output
    missing = runner.invoke(args=["customers", "invoice-terms", "nobody", "on"])
    assert missing.exit_code == 1 and "会員ID nobody はありません。" in missing.output
    db.session.rollback()
    assert db.session.get(type(company), company.id).invoice_terms
    assert _count(AuditEvent, AuditEvent.action == "invoice_terms_changed") == 1
