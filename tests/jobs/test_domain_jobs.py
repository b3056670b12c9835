"""The daily job and domains: a domain on 自動失効 is announced 30 and 7 days before its expiry
date and lapses after it, once; the monthly notice marks what happens to each domain."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from panel.database import writing
from panel.extensions import db
from panel.jobs.daily import run_daily
from panel.models import AuditEvent, Contract, JobEffect, OutboxMail
from panel.models.contracts import ContractStatus
from panel.models.domains import DomainPolicy
from panel.services.audit import Client
from panel.services.billing import cancel_bill
from panel.services.contracts import list_contracts
from panel.services.domains import set_domain_policy, set_tld_domain_policy
from panel.services.renewal.pricing import Selection, quote_renewal
from tests import factories
from tests.concurrency import run_together

START = date(2026, 11, 21)
CLIENT = Client(ip_address="203.0.113.9", user_agent="pytest")
EXPIRE = DomainPolicy.AUTO_EXPIRE


def _mails(seen: set[int]) -> list[OutboxMail]:
    """The mails written since the last call."""
    db.session.rollback()
    mails = db.session.scalars(select(OutboxMail).order_by(OutboxMail.id)).all()
    new = [mail for mail in mails if mail.id not in seen]
    seen.update(mail.id for mail in mails)
    return new


@pytest.fixture
def customer():
    customer = factories.customer(sub_email="taro-sub@example.com")
    for tld in ("com", "net"):
        factories.domain_price(tld, 1_650)
    return customer


def _expire_net(customer):
    set_tld_domain_policy(customer, "net", EXPIRE, START, factories.owner(customer), CLIENT)
    db.session.commit()


def test_fifty_days_of_a_domain_on_auto_expire_and_one_on_auto_renew(customer):
    """Run every day (twice) from START: the 自動失効 domain is announced 30 and 7 days ahead
    and lapses the day after its expiry date, told once; the 自動更新 one, with nothing in the
    account balance to renew it from, is told so weekly from 30 days ahead, and expires as any
    contract after its grace period."""
    expiry = START + timedelta(days=35)
    gone = factories.domain(customer, "gone.net", expiry)
    factories.domain(customer, "kept.com", expiry)
    _expire_net(customer)
    seen = {mail.id for mail in db.session.scalars(select(OutboxMail))}

    found: dict[int, list[tuple[str, str]]] = {}
    for offset in range(50):
        day = START + timedelta(days=offset)
        run_daily(day)
        mails = _mails(seen)
        run_daily(day)
        assert _mails(seen) == [], day
        if mails:
            found[offset] = [(mail.kind, mail.subject) for mail in mails]

    notice = "【自動失効のお知らせ】有効期限をもって失効するドメイン(1件)"
    short = (
        "domain_auto_renewal_short",
        "【ドメイン自動更新】アカウント残高不足のため更新できませんでした(1件)",
    )
    assert found == {
        5: [short, ("domain_lapse_notice", notice)],  # 30 days before
        12: [short],
        19: [short],
        26: [short],
        10: [
            (
                "domain_notice",
                "【ドメイン更新のご案内】2026年12月 ― 90日以内に有効期限を迎えるドメイン(2件)",
            )
        ],
        28: [("domain_lapse_notice", notice)],  # 7 days before
        33: [short],
        36: [
            (
                "domain_lapsed",
                "【ドメイン失効のお知らせ】自動失効の設定により失効したドメイン(1件)",
            )
        ],
        # kept.com: after its grace period, like any contract; gone.net is not told again.
        43: [
            (
                "contract_expired",
                "【ご契約期限切れのお知らせ】kept.com ― ご契約が期限切れになりました",
            )
        ],
    }
    mails = {mail.kind: mail for mail in db.session.scalars(select(OutboxMail))}
    assert "gone.net" in mails["domain_lapse_notice"].body
    assert "kept.com" not in mails["domain_lapse_notice"].body
    assert "kept.com" in mails["domain_auto_renewal_short"].body
    assert mails["domain_lapsed"].recipients == "taro@example.jp, taro-sub@example.com"

    db.session.refresh(gone)
    assert gone.lapsed_on == expiry + timedelta(days=1)
    # Lapsed: expired at once, without the grace period, and no longer renewable.
    statuses = {
        row.contract.name: row.status for row in list_contracts(customer, expiry + timedelta(1))
    }
    assert statuses == {"gone.net": ContractStatus.EXPIRED, "kept.com": ContractStatus.GRACE}
    quote = quote_renewal(customer, [Selection(gone.id, 12)], False, expiry + timedelta(days=1))
    assert "自動失効の設定により" in quote.refusals[gone.id].message
    assert db.session.scalars(
        select(AuditEvent.detail).where(AuditEvent.action == "domain_lapsed")
    ).all() == ["gone.net"]


def test_the_monthly_notice_marks_which_domains_renew_and_which_lapse(customer):
    factories.domain(customer, "renews.com", date(2026, 12, 20))
    factories.domain(customer, "lapses.net", date(2027, 1, 10))
    _expire_net(customer)
    run_daily(date(2026, 12, 1))
    (mail,) = db.session.scalars(select(OutboxMail).where(OutboxMail.kind == "domain_notice"))
    renews, lapses = mail.body.split("■ ")[1:3]
    assert renews.startswith("renews.com") and "自動更新 ― 有効期限までに自動で更新します" in renews
    assert lapses.startswith("lapses.net") and "自動失効 ― 有効期限をもって失効します" in lapses
    assert "/domains" in mail.body


def test_one_lapse_notice_per_customer_and_day_lists_every_domain(customer):
    factories.domain(customer, "in30.net", START + timedelta(days=30))
    factories.domain(customer, "in7.net", START + timedelta(days=7))
    factories.domain(customer, "in8.net", START + timedelta(days=8))
    own = factories.domain(customer, "own.com", START + timedelta(days=7))
    billed = factories.domain(customer, "billed.net", START + timedelta(days=7))
    _expire_net(customer)
    set_domain_policy(own, EXPIRE, START, factories.owner(customer), CLIENT)
    factories.renewal_bill(customer, billed, today=START)  # that bill keeps it
    other = factories.customer("hanako")
    factories.domain(other, "hanako.com", START + timedelta(days=30))  # 自動更新

    report = run_daily(START)
    assert report["domain lapses announced"] == 1
    (mail,) = db.session.scalars(select(OutboxMail).where(OutboxMail.kind == "domain_lapse_notice"))
    assert [line[2:] for line in mail.body.splitlines() if line.startswith("■ ")] == [
        "in7.net",
        "own.com",
        "in30.net",
    ]
    assert "(あと7日)" in mail.body and "(あと30日)" in mail.body


def test_a_domain_on_a_renewal_bill_does_not_lapse_until_the_bill_is_cancelled(customer):
    expiry = START + timedelta(days=3)
    domain = factories.domain(customer, "billed.net", expiry)
    _expire_net(customer)
    bill = factories.renewal_bill(customer, domain, today=START)
    run_daily(expiry + timedelta(days=1))
    db.session.refresh(domain)
    assert domain.lapsed_on is None
    cancel_bill(bill, datetime.now(UTC), None, CLIENT)
    db.session.commit()
    report = run_daily(expiry + timedelta(days=2))  # a missed day is caught up
    assert report["auto-expiring domains lapsed"] == 1
    db.session.refresh(domain)
    assert domain.lapsed_on == expiry + timedelta(days=1)


def test_a_domain_switched_to_auto_expire_in_its_grace_period_lapses_at_the_next_run(customer):
    expiry = START - timedelta(days=3)
    domain = factories.domain(customer, "late.net", expiry)
    run_daily(START)
    db.session.refresh(domain)
    assert domain.lapsed_on is None  # 自動更新: in the grace period
    _expire_net(customer)
    run_daily(START)  # the same day: the lapse was not claimed by the first run
    db.session.refresh(domain)
    assert domain.lapsed_on == expiry + timedelta(days=1)
    # Past the grace period it is expired anyway: nothing lapses any more.
    older = factories.domain(customer, "older.net", START - timedelta(days=9))
    run_daily(START + timedelta(days=1))
    db.session.refresh(older)
    assert older.lapsed_on is None


def test_two_runs_at_once_lapse_each_domain_once(app, customer):
    for number in range(4):
        factories.domain(customer, f"d{number}.net", START)
    _expire_net(customer)
    day = START + timedelta(days=1)

    def run():
        with app.app_context(), writing():
            return run_daily(day)

    first, second = run_together([run, run])
    assert not isinstance(first, BaseException), first
    assert not isinstance(second, BaseException), second
    assert first["auto-expiring domains lapsed"] + second["auto-expiring domains lapsed"] == 1
    db.session.rollback()
    lapsed = db.session.scalars(select(OutboxMail).where(OutboxMail.kind == "domain_lapsed"))
    assert "(4件)" in lapsed.one().subject
    assert (
        db.session.scalar(
            select(func.count()).select_from(Contract).where(Contract.lapsed_on == day)
        )
        == 4
    )
    assert (
        db.session.scalar(
            select(func.count()).select_from(JobEffect).where(JobEffect.kind == "domain_lapse")
        )
        == 1
    )
