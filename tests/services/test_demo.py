from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from panel.extensions import db
from panel.models import (
    BalanceStatement,
    Bill,
    Contract,
    Customer,
    LedgerEntry,
    OutboxMail,
    Payment,
    Plan,
    StaffMember,
    TransferNotice,
)
from panel.models.bills import BillStatus
from panel.models.staff import StaffRole
from panel.services.audit import Client
from panel.services.auth import authenticate
from panel.services.auto_renewal import auto_renewal_page
from panel.services.balance import account_balance, ledger_sum
from panel.services.billing import APPLICATION_PAYMENT_METHODS, CUSTOMER_PAYMENT_METHODS
from panel.services.contracts import ContractStatus, list_contracts
from panel.services.demo import seed_demo
from panel.services.domains import domains_page
from panel.services.renewal.page import plan_renewal_page
from panel.services.staff.money import confirmation_queue, flagged_payments
from panel.services.staff.paper import paper_queue
from panel.services.staff.search import search_customers

TODAY = date(2026, 11, 21)


def _seed(today=TODAY):
    created = seed_demo(today)
    db.session.commit()
    return created


def _customer(member_id):
    return db.session.scalar(select(Customer).where(Customer.member_id == member_id))


def test_seeding_twice_adds_nothing_the_second_time():
    assert _seed() is True
    counts = [
        db.session.scalar(select(func.count()).select_from(model))
        for model in (Customer, Contract, Plan, Bill, StaffMember)
    ]
    assert _seed(TODAY + timedelta(days=3)) is False
    assert counts == [
        db.session.scalar(select(func.count()).select_from(model))
        for model in (Customer, Contract, Plan, Bill, StaffMember)
    ]


def test_the_demo_plans_include_one_without_the_one_month_period():
    _seed()
    plans = db.session.scalars(select(Plan)).all()
    assert len(plans) >= 3
    assert any(1 not in plan.periods_months for plan in plans)


@pytest.mark.parametrize("today", [TODAY, date(2028, 2, 29), date(2026, 12, 31)])
def test_the_demo_customer_shows_every_contract_status_on_any_day(today):
    _seed(today)
    rows = list_contracts(_customer("demo"), today)
    servers = [row for row in rows if not row.contract.is_domain]
    assert len(servers) >= 6
    assert {row.status for row in servers} == set(ContractStatus)
    renewal_dates = [row.contract.renewal_date for row in servers]
    assert len(set(renewal_dates)) < len(renewal_dates)  # two share a renewal date
    assert any(row.contract.is_domain for row in rows)


def test_one_demo_server_uses_more_than_a_lower_plan_allows():
    _seed()
    plans = sorted(db.session.scalars(select(Plan)), key=lambda plan: plan.rank)
    servers = [c for c in db.session.scalars(select(Contract)) if not c.is_domain]
    assert any(
        lower.rank < server.plan.rank
        and (
            server.domains_used > lower.max_domains
            or server.mail_accounts_used > lower.max_mail_accounts
        )
        for server in servers
        for lower in plans
    )


def test_the_corporate_demo_has_domains_under_three_tlds_or_more():
    _seed()
    corporate = _customer("demo-corp")
    assert corporate.is_corporate
    tlds = {row.contract.tld for row in list_contracts(corporate, TODAY) if row.contract.is_domain}
    assert len(tlds) >= 3


def test_the_published_demo_credentials_work():
    _seed()
    client = Client(ip_address="127.0.0.1", user_agent="pytest")
    assert authenticate("demo", "demo-pass-2026", client).customer.member_id == "demo"
    assert authenticate("demo-corp", "demo-pass-2026", client).customer.member_id == "demo-corp"
    clerk = authenticate("demo-corp+keiri", "demo-pass-2026", client)
    assert (clerk.customer.member_id, clerk.role) == ("demo-corp", "billing")
    it = authenticate("demo-corp+it", "demo-pass-2026", client)
    assert (it.customer.member_id, it.role) == ("demo-corp", "technical")
    assert db.session.scalar(select(StaffMember).where(StaffMember.login_id == "staff"))


@pytest.mark.parametrize("today", [TODAY, date(2028, 2, 29)])
def test_the_demo_bills_cover_every_status_and_method_with_a_transfer_notice(today):
    _seed(today)
    bills = db.session.scalars(select(Bill).where(Bill.customer == _customer("demo"))).all()
    assert {bill.status for bill in bills} == set(BillStatus)
    assert {bill.payment_method for bill in bills} >= set(CUSTOMER_PAYMENT_METHODS)
    paid_methods = {bill.payment_method for bill in bills if bill.status == BillStatus.PAID}
    assert paid_methods == set(APPLICATION_PAYMENT_METHODS)
    assert db.session.scalar(select(func.count()).select_from(TransferNotice)) >= 1
    # Every paid bill has its payment, and left its contracts where the demo put them; the
    # cancelled bill's late transfer is kept for staff.
    applied = select(func.count()).select_from(Payment).where(Payment.applied_to_bill)
    assert db.session.scalar(applied) == len(
        [bill for bill in db.session.scalars(select(Bill)) if bill.status == BillStatus.PAID]
    )
    flagged = db.session.scalars(select(Payment).where(~Payment.applied_to_bill)).all()
    assert [payment.bill.status for payment in flagged] == [BillStatus.CANCELLED]
    statuses = {row.status for row in list_contracts(_customer("demo"), today)}
    assert statuses == set(ContractStatus)


def test_the_demo_mails_count_as_sent_when_their_bills_were_made():
    _seed()
    mails = db.session.scalars(select(OutboxMail)).all()
    assert mails
    # `mail send` right after seeding sends no stale mail.
    assert all(mail.sent_at is not None for mail in mails)
    assert all(mail.sent_at.date() < TODAY for mail in mails)
    assert {r.status for mail in mails for r in mail.addressees} == {"accepted"}


def test_the_individual_demo_has_auto_renewal_on_with_a_sandbox_card():
    _seed()
    demo = _customer("demo")
    assert demo.auto_renewal and demo.auto_renewal_months == 12
    assert (demo.saved_card_brand, demo.saved_card_last4) == ("VISA", "4242")
    page = auto_renewal_page(demo, TODAY)
    reasons = {row.contract.name: row.reason for row in page.servers}
    assert reasons["yamada-trial.jp"] and "お試し" in reasons["yamada-trial.jp"]
    assert reasons["yamada-shop.jp"] and "OFF" in reasons["yamada-shop.jp"]
    assert reasons["yamada-blog.com"] is None and reasons["yamada-photo.net"] is None
    assert page.next_charge_on is not None and not page.card_expires_first


@pytest.mark.parametrize("today", [TODAY, date(2028, 2, 29), date(2026, 12, 31)])
def test_the_individual_demo_has_a_balance_history_and_10000_yen_as_the_examples_start(today):
    _seed(today)
    demo = _customer("demo")
    balance = account_balance(demo)
    assert (balance.balance, balance.credit_limit) == (10_000, 10_000)
    assert ledger_sum(demo) == 10_000
    entries = db.session.scalars(
        select(LedgerEntry).where(LedgerEntry.customer_id == demo.id).order_by(LedgerEntry.id)
    ).all()
    assert [entry.kind for entry in entries] == ["deposit", "purchase", "purchase", "deposit"]
    assert all(entry.created_at.date() < today for entry in entries)
    statements = db.session.scalars(
        select(BalanceStatement).where(BalanceStatement.customer_id == demo.id)
    ).all()
    assert len(statements) >= 2
    # The examples' domains: 1,000円 a year, and 10,000円 a year renewed for 2 years.
    prices = {
        row.contract.name: row.contract.tld
        for row in list_contracts(demo, today)
        if row.contract.is_domain
    }
    assert prices["yamada.xyz"] == "xyz" and prices["yamada.ai"] == "ai"


def test_the_corporate_demo_can_pay_into_a_negative_balance():
    _seed()
    corporate = _customer("demo-corp")
    balance = account_balance(corporate)
    assert balance.balance == 10_000 and balance.available == 110_000


@pytest.mark.parametrize("today", [TODAY, date(2026, 12, 1), date(2027, 2, 28)])
def test_demo_corp_is_on_invoice_terms_with_a_month_of_purchases_to_bill(today):
    from panel.jobs.daily import run_daily
    from panel.models.bills import BillKind, PaymentMethod
    from panel.services.on_account import closing_day, unbilled_purchases

    _seed(today)
    corp = _customer("demo-corp")
    assert corp.invoice_terms and corp.contact_name == "経理部 田中 一郎"
    assert corp.direct_debit_account == "三井住友銀行 本店 普通 ****567"
    (last_month,) = db.session.scalars(select(Bill).where(Bill.kind == BillKind.MONTH_END))
    assert last_month.status == BillStatus.AWAITING_PAYMENT
    assert last_month.payment_method == PaymentMethod.DIRECT_DEBIT
    assert last_month.due_date >= today  # collected at the end of this month
    unbilled = unbilled_purchases(corp, today)
    assert len(unbilled.purchases) == 2
    assert all(p.purchased_on.month == today.month for p in unbilled.purchases)

    run_daily(closing_day(today) + timedelta(days=1))  # the job over the month end
    db.session.rollback()
    bills = db.session.scalars(
        select(Bill).where(Bill.kind == BillKind.MONTH_END).order_by(Bill.applied_on)
    ).all()
    assert [bill.applied_on for bill in bills][-1] == closing_day(today)
    assert len(bills[-1].lines) == 2


@pytest.mark.parametrize("member_id", ["demo", "demo-corp"])
def test_the_demo_domains_show_each_policy_level_and_a_lock_changed(member_id):
    _seed()
    page = domains_page(_customer(member_id), TODAY)
    sources = {row.policy.source for row in page.rows}
    assert sources == {"account", "tld", "domain"}
    assert {row.policy.policy for row in page.rows} == {"auto_renew", "auto_expire"}
    assert any(
        not (row.domain.transfer_locked and row.domain.update_locked and row.domain.delete_locked)
        for row in page.rows
    )


def test_the_corporate_demo_leaves_net_to_try_and_has_a_domain_at_the_10_year_limit():
    _seed()
    corporate = _customer("demo-corp")
    page = domains_page(corporate, TODAY)
    net = [row for row in page.rows if row.domain.tld == "net"]
    assert len(net) >= 3
    assert {(row.policy.policy, row.policy.source) for row in net} == {("auto_renew", "account")}
    renewal = plan_renewal_page(corporate, frozenset(), {}, {}, False, TODAY)
    at_limit = [row for row in renewal.rows if row.contract.is_domain and not row.period_options]
    assert [row.contract.name for row in at_limit] == ["demo-corp-brand.com"]
    assert "現在は更新できません" in at_limit[0].refusal.message


def test_the_demo_staff_member_is_an_admin_who_sets_up_two_factor_at_the_first_login():
    _seed()
    staff = db.session.scalar(select(StaffMember).where(StaffMember.login_id == "staff"))
    assert staff.role == StaffRole.ADMIN and not staff.has_two_factor
    # The console has something to show: the demo customer found by a domain, a transfer to
    # confirm with its notice, late money to settle and a paper invoice to post.
    hits, _ = search_customers("yamada-shop")
    assert [hit.customer.member_id for hit in hits] == ["demo"]
    _, rows = confirmation_queue(None, 1)
    assert any(row.notices for row in rows)
    assert flagged_payments(False, 1).total == 1
    assert paper_queue(False, 1).total == 1


def test_a_month_of_jobs_daily_renews_demo_domains_from_the_balance_and_meets_a_shortage():
    from panel.jobs.daily import run_daily
    from panel.models.bills import BillKind, PaymentMethod

    _seed()
    for offset in range(31):
        run_daily(TODAY + timedelta(days=offset))
    db.session.rollback()
    demo, corp = _customer("demo"), _customer("demo-corp")
    renewed = {
        (bill.customer_id, line.description)
        for bill in db.session.scalars(
            select(Bill).where(
                Bill.kind == BillKind.RENEWAL,
                Bill.payment_method == PaymentMethod.BALANCE,
                Bill.application_token.is_(None),  # made by the job, not on the renewal page
                Bill.status == BillStatus.PAID,
            )
        )
        for line in bill.lines
    }
    assert (demo.id, "yamada.xyz ドメイン更新 1年") in renewed
    assert (corp.id, "demo-corp.jp ドメイン更新 1年") in renewed
    short = db.session.scalars(
        select(OutboxMail)
        .where(OutboxMail.kind == "domain_auto_renewal_short")
        .order_by(OutboxMail.id)
    ).all()
    assert {mail.customer_id for mail in short} == {corp.id}
    assert len(short) >= 2 and all("demo-corp.inc" in mail.body for mail in short)
    assert "330,000円" in short[0].body
    assert account_balance(demo).balance == ledger_sum(demo)
    assert account_balance(corp).balance == ledger_sum(corp)
