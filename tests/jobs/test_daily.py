"""The daily job: what it does day by day, and that it does each thing exactly once."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from panel.database import writing
from panel.extensions import db
from panel.gateways import CardDetails, Notification
from panel.jobs import daily
from panel.jobs.daily import run_daily
from panel.models import Bill, JobEffect, OutboxMail, Payment
from panel.models.bills import BillStatus, PaymentMethod
from panel.refusals import DomainError
from panel.services.audit import Client
from panel.services.billing import transfer_reference
from panel.services.payments import pay_by_card, receive_notification
from tests import factories
from tests.concurrency import run_together
from tests.mail_server import MailServer, free_port

START = date(2026, 11, 21)
CLIENT = Client(ip_address="203.0.113.9", user_agent="pytest")


def _new_mails(seen: set[int]) -> list[tuple[str, str]]:
    """The mails written since the last call, as (kind, subject)."""
    db.session.rollback()
    mails = db.session.scalars(select(OutboxMail).order_by(OutboxMail.id)).all()
    new = [(mail.kind, mail.subject) for mail in mails if mail.id not in seen]
    seen.update(mail.id for mail in mails)
    return new


def _pay_by_bank(bill: Bill, on: date) -> None:
    received = datetime(on.year, on.month, on.day, 3, 0, tzinfo=UTC)
    notification = Notification(
        f"evt-{bill.bill_no}",
        PaymentMethod.BANK_TRANSFER,
        transfer_reference(bill),
        bill.total,
        received,
    )
    receive_notification(notification, "sandbox", received, CLIENT)
    db.session.commit()


def test_sixty_days_of_the_daily_job(app):
    """A customer's servers, a bill and domains, the job run every day (twice) for 60 days:
    each mail on its day, for its contract, once."""
    plan = factories.plan()
    customer = factories.customer(sub_email="taro-sub@example.com")
    customer.notify_40_days_before = True
    unpaid = factories.server(customer, "unpaid.jp", plan, START + timedelta(days=12))
    renewed = factories.server(customer, "renewed.jp", plan, START + timedelta(days=45))
    factories.domain(customer, "taro.net", START + timedelta(days=50))
    factories.domain(customer, "later.com", START + timedelta(days=200))
    bill = factories.renewal_bill(customer, unpaid, today=START)  # due START + 14, never paid
    seen = {mail.id for mail in db.session.scalars(select(OutboxMail))}
    renewed_id = renewed.id

    mails: dict[int, list[tuple[str, str]]] = {}
    for offset in range(60):
        day = START + timedelta(days=offset)
        if offset == 41:  # renewed.jp is renewed (applied and paid) before its reminders run out
            paid = factories.renewal_bill(
                customer, db.session.get(type(renewed), renewed_id), today=day
            )
            _pay_by_bank(paid, day)
            _new_mails(seen)  # the bill and payment mails are not the job's
        run_daily(day)
        mails[offset] = _new_mails(seen)
        run_daily(day)  # the same day again: nothing twice
        assert _new_mails(seen) == [], day

    def reminder(name: str, days_before: int, when: str) -> tuple[str, str]:
        return (f"renewal_reminder_{days_before}", f"【ご契約更新のお知らせ】{name} ― {when}")

    assert {offset: found for offset, found in mails.items() if found} == {
        2: [reminder("unpaid.jp", 10, "ご契約更新日まであと10日")],
        5: [reminder("renewed.jp", 40, "ご契約更新日まであと40日")],
        7: [reminder("unpaid.jp", 5, "ご契約更新日まであと5日")],
        10: [
            (
                "domain_notice",
                "【ドメイン更新のご案内】2026年12月 ― 90日以内に有効期限を迎えるドメイン(1件)",
            )
        ],
        12: [reminder("unpaid.jp", 0, "本日がご契約更新日です")],
        13: [reminder("unpaid.jp", -1, "ご契約更新日を過ぎています")],
        15: [
            (
                "overdue_cancellation",
                f"【お申込取消】請求No.{bill.bill_no} お支払期限日を過ぎたため取り消しました",
            )
        ],
        20: [
            (
                "contract_expired",
                "【ご契約期限切れのお知らせ】unpaid.jp ― ご契約が期限切れになりました",
            )
        ],
        35: [reminder("renewed.jp", 10, "ご契約更新日まであと10日")],
        40: [reminder("renewed.jp", 5, "ご契約更新日まであと5日")],
        41: [
            (
                "domain_notice",
                "【ドメイン更新のご案内】2027年1月 ― 90日以内に有効期限を迎えるドメイン(1件)",
            )
        ],
        # renewed.jp was renewed on day 41: no reminder on its old renewal date or after it
        58: [
            (
                "contract_expired",
                "【ご契約期限切れのお知らせ】taro.net ― ご契約が期限切れになりました",
            )
        ],
    }
    db.session.rollback()
    assert db.session.get(Bill, bill.id).status == BillStatus.CANCELLED
    reminders = db.session.scalars(
        select(OutboxMail).where(OutboxMail.kind == "renewal_reminder_10")
    ).all()
    assert all(mail.recipients == "taro@example.jp, taro-sub@example.com" for mail in reminders)
    first = min(reminders, key=lambda mail: mail.id)
    assert f"/bills/{bill.bill_no}" in first.body  # unpaid.jp's reminder links its awaiting bill
    assert "/renewal" in reminders[-1].body


def test_the_40_day_notice_goes_only_to_customers_who_opted_in():
    plan = factories.plan()
    opted = factories.customer("opted")
    opted.notify_40_days_before = True
    factories.server(opted, "opted.jp", plan, START + timedelta(days=40))
    factories.server(factories.customer("quiet"), "quiet.jp", plan, START + timedelta(days=40))
    run_daily(START)
    db.session.rollback()
    subjects = db.session.scalars(select(OutboxMail.subject)).all()
    assert subjects == ["【ご契約更新のお知らせ】opted.jp ― ご契約更新日まであと40日"]


def test_an_overdue_bill_can_no_longer_be_paid_and_late_money_is_kept_for_staff():
    customer, plan = factories.customer(), factories.plan()
    server = factories.server(customer, "taro.jp", plan, START + timedelta(days=3))
    card_bill = factories.renewal_bill(customer, server, method=PaymentMethod.CARD, today=START)
    after_due = card_bill.due_date + timedelta(days=1)
    late = datetime(after_due.year, after_due.month, after_due.day, 3, tzinfo=UTC)
    card = CardDetails("4242424242424242", 12, 2030, "123")
    # Whether or not the job has run: the card is refused.
    with pytest.raises(DomainError, match="お支払期限日"):
        pay_by_card(card_bill, card, "/return", after_due, late, CLIENT)
    db.session.rollback()
    run_daily(after_due)
    db.session.rollback()
    assert db.session.get(Bill, card_bill.id).status == BillStatus.CANCELLED

    other = factories.server(customer, "other.jp", plan, START)
    bank_bill = factories.renewal_bill(customer, other, today=START)
    _pay_by_bank(bank_bill, bank_bill.due_date + timedelta(days=1))  # before any job ran
    payment = db.session.scalar(select(Payment).where(Payment.bill_id == bank_bill.id))
    assert (payment.applied_to_bill, payment.review_reason) == (
        False,
        "お支払期限日を過ぎた入金です",
    )
    assert db.session.get(Bill, bank_bill.id).status == BillStatus.AWAITING_PAYMENT


def test_a_run_that_dies_halfway_is_finished_by_the_next_with_nothing_doubled(monkeypatch):
    plan = factories.plan()
    customer = factories.customer()
    for number in range(4):
        factories.server(customer, f"s{number}.jp", plan, START + timedelta(days=10))
    queue = daily.queue_renewal_reminder
    calls = []

    def dies_on_the_third(*args):
        calls.append(args)
        if len(calls) == 3:
            raise RuntimeError("killed")
        return queue(*args)

    monkeypatch.setattr(daily, "queue_renewal_reminder", dies_on_the_third)
    with pytest.raises(RuntimeError):
        run_daily(START)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(OutboxMail)) == 2
    monkeypatch.setattr(daily, "queue_renewal_reminder", queue)
    run_daily(START)
    db.session.rollback()
    subjects = sorted(db.session.scalars(select(OutboxMail.subject)))
    assert subjects == [
        f"【ご契約更新のお知らせ】s{number}.jp ― ご契約更新日まであと10日" for number in range(4)
    ]


def test_two_runs_at_once_do_each_thing_once(app):
    plan = factories.plan()
    for number in range(6):
        customer = factories.customer(f"c{number}")
        factories.server(customer, f"s{number}.jp", plan, START + timedelta(days=5))
        factories.domain(customer, f"d{number}.com", START + timedelta(days=30))
    first_of_month = date(2026, 12, 1)

    def run():
        with app.app_context(), writing():
            return run_daily(first_of_month)

    first, second = run_together([run, run])
    assert not isinstance(first, BaseException), first
    assert not isinstance(second, BaseException), second
    assert first["domain notices"] + second["domain notices"] == 6
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(OutboxMail)) == 6
    assert db.session.scalar(select(func.count()).select_from(JobEffect)) == 6


def test_mail_waits_while_the_smtp_server_is_down_and_goes_once_it_is_back(app, monkeypatch):
    customer = factories.customer()
    factories.server(customer, "taro.jp", factories.plan(), START + timedelta(days=10))
    server = MailServer(free_port())
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", server.port)  # nobody listens yet
    report = run_daily(START)
    assert (report["renewal reminders"], report["mails sent"], report["mails failed for now"]) == (
        1,
        0,
        1,
    )
    server.start()
    try:
        with time_machine.travel(datetime.now(UTC) + timedelta(days=1)):
            report = run_daily(START + timedelta(days=1))
        assert (report["renewal reminders"], report["mails sent"]) == (0, 1)
        with time_machine.travel(datetime.now(UTC) + timedelta(days=2)):
            run_daily(START + timedelta(days=1))
    finally:
        server.stop()
    (envelope,) = server.inbox.envelopes  # delivered once, the day after
    assert envelope.rcpt_tos == ["taro@example.jp"]
