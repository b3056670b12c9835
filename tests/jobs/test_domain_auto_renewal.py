"""The daily job renews domains on 自動更新 from the account balance, 30 days before they expire:
once, one bill per customer and run, paid at once; when the balance is short, nothing is
renewed or charged and the customer is told (again a week later) until a deposit lets a run
renew it."""

from datetime import UTC, date, datetime, timedelta
from functools import partial

import pytest
from sqlalchemy import func, select

from panel.database import writing
from panel.dates import add_months
from panel.extensions import db
from panel.jobs import daily
from panel.jobs.daily import run_daily
from panel.models import Bill, Contract, Customer, JobEffect, LedgerEntry, OutboxMail, Payment
from panel.models.bills import BillKind, BillStatus, PaymentMethod
from panel.models.domains import DomainPolicy
from panel.services.audit import Client
from panel.services.balance import account_balance, ledger_sum
from panel.services.billing import new_application_token
from panel.services.contracts import registration_limit
from panel.services.domain_auto_renewal import due_domain_renewals
from panel.services.domains import set_domain_policy, set_tld_domain_policy
from panel.services.renewal.application import apply_renewal
from panel.services.renewal.pricing import Selection
from tests import factories
from tests.concurrency import as_a_request, run_together

START = date(2026, 11, 21)
CLIENT = Client(ip_address="203.0.113.9", user_agent="pytest")
SHORT_SUBJECT = "【ドメイン自動更新】アカウント残高不足のため更新できませんでした"


@pytest.fixture
def customer():
    customer = factories.customer(sub_email="taro-sub@example.com")
    factories.domain_price("com", 1_650)
    factories.domain_price("jp", 3_520)
    factories.domain_price("ai", 10_000)
    return customer


def _renewal_bills() -> list[Bill]:
    db.session.rollback()
    return list(
        db.session.scalars(select(Bill).where(Bill.kind == BillKind.RENEWAL).order_by(Bill.id))
    )


def _mails(kind: str) -> list[OutboxMail]:
    db.session.rollback()
    return list(
        db.session.scalars(
            select(OutboxMail).where(OutboxMail.kind == kind).order_by(OutboxMail.id)
        )
    )


def _purchases(customer) -> list[LedgerEntry]:
    db.session.rollback()
    return list(
        db.session.scalars(
            select(LedgerEntry).where(
                LedgerEntry.customer_id == customer.id, LedgerEntry.kind == "purchase"
            )
        )
    )


def _expiry(domain_id: int) -> date:
    db.session.rollback()
    return db.session.get_one(Contract, domain_id).renewal_date


def test_a_domain_is_renewed_30_days_before_it_expires_once_from_the_balance(customer):
    factories.balance(customer, 10_000)
    expiry = START + timedelta(days=31)
    domain_id = factories.domain(customer, "taro.com", expiry).id

    assert run_daily(START)["domains auto-renewed"] == 0  # 31 days before: not yet
    assert _renewal_bills() == []
    report = run_daily(START + timedelta(days=1))  # 30 days before
    assert report["domains auto-renewed"] == 1
    for offset in range(1, 40):  # every later run, and the same day twice: nothing more
        assert run_daily(START + timedelta(days=offset))["domains auto-renewed"] == 0

    (bill,) = _renewal_bills()
    assert (bill.status, bill.payment_method) == (BillStatus.PAID, PaymentMethod.BALANCE)
    assert bill.applied_on == START + timedelta(days=1)
    assert [(line.description, line.amount) for line in bill.lines] == [
        ("taro.com ドメイン更新 1年", 1_650)
    ]
    assert _expiry(domain_id) == add_months(expiry, 12)
    (payment,) = db.session.scalars(select(Payment).where(Payment.bill_id == bill.id))
    assert payment.amount == 1_650
    # The ledger debited once, for the bill; the balance is the ledger's sum.
    (purchase,) = _purchases(customer)
    assert (purchase.amount, purchase.cause) == (-1_650, f"bill:{bill.bill_no}")
    assert account_balance(customer).balance == ledger_sum(customer) == 8_350
    # The receipt (お支払確認) goes out as for any payment; no bill e-mail, no shortage notice.
    (receipt,) = _mails("payment")
    assert receipt.bill_id == bill.id and "アカウント残高" in receipt.body
    assert receipt.recipients == "taro@example.jp, taro-sub@example.com"
    assert _mails("bill") == [] and _mails("domain_auto_renewal_short") == []
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(JobEffect)
            .where(JobEffect.kind == "domain_auto_renewal")
        )
        == 1
    )


def test_a_missed_run_catches_up_until_the_expiry_date_and_not_after(customer):
    factories.balance(customer, 10_000)
    late = factories.domain(customer, "late.com", START + timedelta(days=3)).id
    gone = factories.domain(customer, "gone.com", START - timedelta(days=1)).id  # grace period
    run_daily(START)
    assert _expiry(late) == add_months(START + timedelta(days=3), 12)
    assert _expiry(gone) == START - timedelta(days=1)  # renewed by hand only, from now on
    assert len(_renewal_bills()) == 1


def test_one_bill_per_customer_and_run_for_every_domain_due(customer):
    factories.balance(customer, 10_000)
    factories.domain(customer, "b.com", START + timedelta(days=20))
    factories.domain(customer, "a.jp", START + timedelta(days=30))
    factories.domain(customer, "later.com", START + timedelta(days=31))
    other = factories.customer("hanako")
    factories.balance(other, 5_000)
    factories.domain(other, "hanako.com", START + timedelta(days=5))

    assert run_daily(START)["domains auto-renewed"] == 3
    mine, hers = sorted(_renewal_bills(), key=lambda bill: bill.customer_id != customer.id)
    assert [line.description for line in mine.lines] == [
        "b.com ドメイン更新 1年",
        "a.jp ドメイン更新 1年",
    ]
    assert mine.total == 5_170 and hers.total == 1_650
    assert account_balance(customer).balance == 4_830
    assert account_balance(other).balance == 3_350
    assert len(_mails("payment")) == 2


def test_the_credit_limit_counts_and_is_never_passed(customer):
    factories.balance(customer, 1_000, credit_limit=1_000)
    factories.domain(customer, "taro.com", START + timedelta(days=10))  # 1,650: covered
    factories.domain(customer, "taro.ai", START + timedelta(days=20))  # 10,000: not
    run_daily(START)
    (bill,) = _renewal_bills()
    assert [line.description for line in bill.lines] == ["taro.com ドメイン更新 1年"]
    balance = account_balance(customer)
    assert (balance.balance, balance.available) == (-650, 350)
    (notice,) = _mails("domain_auto_renewal_short")
    assert "taro.ai" in notice.body and "taro.com" not in notice.body


def test_short_not_renewed_told_again_a_week_later_and_renewed_after_a_deposit(customer):
    factories.balance(customer, 1_000)
    expiry = START + timedelta(days=30)
    domain_id = factories.domain(customer, "taro.com", expiry).id

    report = run_daily(START)
    assert report["domains auto-renewed"] == 0
    assert report["domain auto-renewal shortages told"] == 1
    assert _renewal_bills() == [] and _purchases(customer) == []
    assert _expiry(domain_id) == expiry
    (notice,) = _mails("domain_auto_renewal_short")
    assert notice.subject == f"{SHORT_SUBJECT}(1件)"
    assert notice.recipients == "taro@example.jp, taro-sub@example.com"
    body = notice.body
    assert "■ taro.com" in body
    assert "有効期限      : 2026年12月21日" in body
    assert "更新料金      : 1,650円(1年)" in body
    assert "更新の最終期限: 2026年12月28日" in body
    assert "■ 自動更新に必要な金額: 1,650円" in body
    assert "■ 現在利用できる金額  : 1,000円" in body
    assert "■ 不足額              : 650円" in body
    assert "/balance" in body and "/renewal" in body

    for offset in range(1, 7):  # still short, but told a week ago at most
        report = run_daily(START + timedelta(days=offset))
        assert report["domain auto-renewal shortages told"] == 0, offset
    assert len(_mails("domain_auto_renewal_short")) == 1
    run_daily(START + timedelta(days=7))  # a week later, still short: told again
    run_daily(START + timedelta(days=7))
    assert len(_mails("domain_auto_renewal_short")) == 2

    factories.balance(customer, 3_000)  # a deposit on day 9
    report = run_daily(START + timedelta(days=9))
    assert report["domains auto-renewed"] == 1
    assert report["domain auto-renewal shortages told"] == 0
    assert _expiry(domain_id) == add_months(expiry, 12)
    assert account_balance(customer).balance == 1_350
    for offset in range(10, 40):
        run_daily(START + timedelta(days=offset))
    assert len(_mails("domain_auto_renewal_short")) == 2
    assert len(_renewal_bills()) == 1


def test_short_to_the_end_the_domain_is_left_to_its_grace_period(customer):
    expiry = START + timedelta(days=30)
    domain_id = factories.domain(customer, "taro.com", expiry).id  # no balance at all
    told = []
    for offset in range(45):
        day = START + timedelta(days=offset)
        if run_daily(day)["domain auto-renewal shortages told"]:
            told.append(offset)
    # Weekly while due (30, 23, 16, 9 and 2 days before); then its grace period, as any
    # domain not renewed, and its expiry told.
    assert told == [0, 7, 14, 21, 28]
    assert _expiry(domain_id) == expiry
    assert _renewal_bills() == []
    assert len(_mails("contract_expired")) == 1


def test_a_domain_newly_short_is_told_at_once_with_only_what_is_new(customer):
    factories.balance(customer, 0)
    factories.domain(customer, "first.com", START + timedelta(days=30))
    factories.domain(customer, "second.com", START + timedelta(days=33))
    run_daily(START)
    run_daily(START + timedelta(days=3))
    first, second = _mails("domain_auto_renewal_short")
    assert "first.com" in first.body and "second.com" not in first.body
    assert "second.com" in second.body and "first.com" not in second.body
    run_daily(START + timedelta(days=7))
    third = _mails("domain_auto_renewal_short")[-1]
    assert "first.com" in third.body and "second.com" not in third.body


def test_twice_the_same_day_and_two_runs_at_once_renew_and_charge_once(app, customer):
    factories.balance(customer, 10_000)
    ids = [
        factories.domain(customer, f"d{number}.com", START + timedelta(days=10 + number)).id
        for number in range(3)
    ]
    factories.domain(customer, "short.ai", START + timedelta(days=20))

    def run():
        with app.app_context(), writing():
            return run_daily(START)

    first, second = run_together([run, run])
    assert not isinstance(first, BaseException), first
    assert not isinstance(second, BaseException), second
    assert first["domains auto-renewed"] + second["domains auto-renewed"] == 3
    told = "domain auto-renewal shortages told"
    assert first[told] + second[told] == 1
    run_daily(START)
    (bill,) = _renewal_bills()
    assert len(bill.lines) == 3 and bill.status == BillStatus.PAID
    assert len(_purchases(customer)) == 1
    assert account_balance(customer).balance == ledger_sum(customer) == 10_000 - 3 * 1_650
    assert [_expiry(i) for i in ids] == [
        add_months(START + timedelta(days=10 + number), 12) for number in range(3)
    ]
    assert len(_mails("payment")) == 1 and len(_mails("domain_auto_renewal_short")) == 1


def _renew_by_hand(customer_id: int, domain_id: int) -> int:
    """The owner renews the domain for a year on the renewal page, paid from the balance."""
    bill = apply_renewal(
        db.session.get_one(Customer, customer_id),
        [Selection(domain_id, 12)],
        month_end=False,
        payment_method=PaymentMethod.BALANCE,
        application_token=new_application_token(db.session.get_one(Customer, customer_id)),
        today=START,
        now=datetime.now(UTC),
        client=CLIENT,
    )
    db.session.commit()
    return bill.id


def test_a_domain_renewed_by_hand_meanwhile_is_not_renewed_again(customer, monkeypatch):
    """Renewed by hand after the run found it due, before the run came to it: the run reads
    it again under the account's lock, with its new expiry date, and leaves it."""
    factories.balance(customer, 10_000)
    expiry = START + timedelta(days=20)
    domain_id = factories.domain(customer, "taro.com", expiry).id
    found_due = daily._customers_with_domains_due
    renewed = []

    def then_renewed_by_hand(today):
        found = found_due(today)
        if not renewed:
            renewed.append(_renew_by_hand(customer.id, domain_id))
        return found

    monkeypatch.setattr(daily, "_customers_with_domains_due", then_renewed_by_hand)
    report = run_daily(START)
    assert report["domains auto-renewed"] == 0
    assert report["domain auto-renewal shortages told"] == 0
    assert [bill.id for bill in _renewal_bills()] == renewed
    assert _expiry(domain_id) == add_months(expiry, 12)
    assert len(_purchases(customer)) == 1


def test_a_renewal_by_hand_racing_the_job_is_never_followed_by_the_job(app, customer):
    """By hand and the job at once: when the hand's renewal comes first, the job renews
    nothing; when the job's does, the hand's adds a second year, as the customer asked."""
    factories.balance(customer, 100_000)
    customer_id = customer.id
    ids = []
    for number in range(6):
        domain_id = factories.domain(customer, f"d{number}.com", START + timedelta(days=20)).id
        ids.append(domain_id)
        db.session.rollback()  # this thread holds no transaction while the two run
        hand, run = run_together(
            [
                partial(as_a_request, app, partial(_renew_by_hand, customer_id, domain_id)),
                partial(as_a_request, app, partial(run_daily, START)),
            ]
        )
        assert not isinstance(hand, BaseException), hand
        assert not isinstance(run, BaseException), run
    bills = _renewal_bills()
    for domain_id in ids:
        renewals = [
            bill for bill in bills if any(line.contract_id == domain_id for line in bill.lines)
        ]
        methods = [bill.payment_method for bill in renewals]
        assert all(bill.status == BillStatus.PAID for bill in renewals)
        # The customer's own application carries its form's token; the job's bill has none.
        hand_first = renewals[0].application_token is not None
        assert len(renewals) == (1 if hand_first else 2), methods
        years = len(renewals)
        assert _expiry(domain_id) == add_months(START + timedelta(days=20), 12 * years)
    assert account_balance(customer).balance == ledger_sum(customer)


def test_a_domain_on_a_renewal_bill_awaiting_payment_is_left_to_that_bill(customer):
    factories.balance(customer, 10_000)
    domain = factories.domain(customer, "taro.com", START + timedelta(days=20))
    factories.renewal_bill(customer, domain, today=START)  # by bank transfer, awaiting
    report = run_daily(START)
    assert report["domains auto-renewed"] == 0
    assert report["domain auto-renewal shortages told"] == 0
    assert len(_renewal_bills()) == 1 and _purchases(customer) == []


def test_a_domain_on_auto_expire_is_never_charged(customer):
    factories.balance(customer, 10_000)
    expiry = START + timedelta(days=20)
    own = factories.domain(customer, "own.com", expiry)
    factories.domain(customer, "tld.jp", expiry)
    owner = factories.owner(customer)
    set_domain_policy(own, DomainPolicy.AUTO_EXPIRE, START, owner, CLIENT)
    set_tld_domain_policy(customer, "jp", DomainPolicy.AUTO_EXPIRE, START, owner, CLIENT)
    db.session.commit()
    for offset in range(30):
        report = run_daily(START + timedelta(days=offset))
        assert report["domains auto-renewed"] == 0
        assert report["domain auto-renewal shortages told"] == 0
    assert _renewal_bills() == [] and _purchases(customer) == []
    assert len(_mails("domain_lapsed")) == 1


def test_a_domain_at_the_10_year_limit_is_not_renewed(customer):
    factories.balance(customer, 100_000)
    domain = factories.domain(customer, "brand.com", registration_limit(START))
    for offset in range(31):
        run_daily(START + timedelta(days=offset))
    assert _renewal_bills() == []
    assert _expiry(domain.id) == registration_limit(START)
    db.session.rollback()
    due = due_domain_renewals(db.session.get_one(type(customer), customer.id), START)
    assert (due.covered, due.short) == ([], [])


def test_the_monthly_notice_says_what_renews_from_the_balance_and_whether_it_covers_it(customer):
    factories.balance(customer, 2_000)
    factories.domain_price("net", 1_760)
    first = date(2026, 12, 1)
    renewed = factories.domain(customer, "now.com", first + timedelta(days=19)).id
    factories.domain(customer, "soon.com", first + timedelta(days=45))
    factories.domain(customer, "later.jp", first + timedelta(days=70))
    factories.domain(customer, "lapses.net", first + timedelta(days=50))
    owner = factories.owner(customer)
    set_tld_domain_policy(customer, "net", DomainPolicy.AUTO_EXPIRE, first, owner, CLIENT)
    db.session.commit()

    run_daily(first)
    # now.com is renewed first (the same run), so the notice no longer lists it.
    assert _expiry(renewed) == add_months(first + timedelta(days=19), 12)
    (notice,) = _mails("domain_notice")
    assert notice.subject.endswith("(3件)")
    soon, lapses, later = notice.body.split("■ ")[1:4]
    assert "\n  設定    : 自動更新 ― 有効期限までに自動で更新します。\n" in soon
    assert soon.startswith("soon.com") and "アカウント残高からのお支払で1年更新します" in soon
    assert "(更新料金 1,650円)" in soon
    assert later.startswith("later.jp") and "(更新料金 3,520円)" in later
    assert lapses.startswith("lapses.net") and "自動失効 ― 有効期限をもって失効します" in lapses
    assert "自動更新するドメインの更新料金の合計: 5,170円" in notice.body
    assert "アカウント残高の現在利用できる金額  : 350円" in notice.body
    assert "現在利用できる金額が不足しています" in notice.body
    assert "/balance" in notice.body


def test_the_monthly_notice_says_nothing_of_a_shortage_when_the_balance_covers_it(customer):
    factories.balance(customer, 10_000)
    first = date(2026, 12, 1)
    factories.domain(customer, "soon.com", first + timedelta(days=45))
    run_daily(first)
    (notice,) = _mails("domain_notice")
    assert "自動更新するドメインの更新料金の合計: 1,650円" in notice.body
    assert "現在利用できる金額  : 10,000円" in notice.body
    assert "不足" not in notice.body
