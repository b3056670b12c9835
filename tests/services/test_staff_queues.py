"""The staff's paper-invoice queue and mail queue."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from panel.extensions import db
from panel.models import AuditEvent, OutboxMail, PaperInvoiceRequest, StaffRole
from panel.models.bills import BillStatus
from panel.models.types import utc_now
from panel.refusals import DomainError
from panel.services.audit import Client
from panel.services.documents import request_paper_invoice
from panel.services.mail import deliver_outbox, queue_mail, undelivered_mail
from panel.services.staff.outbox import (
    MailFilter,
    drop_mail,
    needs_attention,
    recent_mail,
    retry_mail,
)
from panel.services.staff.paper import mark_mailed, paper_queue
from tests import factories

CLIENT = Client(ip_address="203.0.113.9", user_agent="pytest")
TODAY = date(2026, 11, 21)
NOW = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)


@pytest.fixture
def staff():
    return factories.staff_member("support", StaffRole.SUPPORT, name="サポート 鈴木")


@pytest.fixture
def requested():
    customer = factories.company_on_invoice_terms("taro")
    server = factories.server(customer, "taro.jp", factories.plan(), TODAY + timedelta(days=10))
    bill = factories.renewal_bill(customer, server, today=TODAY)
    request = request_paper_invoice(bill, factories.owner(customer), NOW)
    db.session.commit()
    return request


def test_the_queue_lists_requests_to_post_with_the_address_oldest_first(requested, staff):
    assert [r.id for r in paper_queue(False, 1).items] == [requested.id]
    assert paper_queue(True, 1).items == []

    requested.bill.status, requested.bill.cancelled_at = BillStatus.CANCELLED, NOW
    db.session.commit()
    assert paper_queue(False, 1).items == []  # nothing to pay: nothing to post


def test_an_invoice_is_posted_only_to_an_address(requested, staff):
    with pytest.raises(DomainError, match="住所が登録されていません"):
        mark_mailed(requested, staff=staff, client=CLIENT, now=NOW)

    customer = requested.bill.customer
    customer.postal_code, customer.postal_address = "150-0001", "東京都渋谷区神宮前1-2-3"
    db.session.commit()
    mark_mailed(requested, staff=staff, client=CLIENT, now=NOW)
    db.session.commit()

    assert requested.mailed_at == NOW
    assert [r.id for r in paper_queue(True, 1).items] == [requested.id]
    with pytest.raises(DomainError, match="既に発送済み"):
        mark_mailed(requested, staff=staff, client=CLIENT, now=NOW)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "paper_invoice_mailed"))
    assert event.customer_id == customer.id and event.staff_member_id == staff.id


def _mail_to(mail_server, refused: str | None = None) -> OutboxMail:
    customer = factories.customer(
        "hanako", contract_email="hanako@example.jp", sub_email="gone@example.com"
    )
    if refused:
        mail_server.inbox.refusals[refused] = "550 5.1.1 No such user"
    mail = queue_mail(customer, "notice", "【お知らせ】", "本文です。\n")
    db.session.commit()
    assert deliver_outbox(utc_now()).sent == 1
    db.session.rollback()
    return db.session.get(OutboxMail, mail.id)


def test_mail_refused_for_a_recipient_needs_attention_and_is_retried_to_them(mail_server, staff):
    mail = _mail_to(mail_server, refused="gone@example.com")
    first_sent = mail.sent_at
    assert needs_attention(mail) and first_sent is not None
    assert [m.id for m in recent_mail(MailFilter.FAILED, 1).items] == [mail.id]

    now = utc_now()
    assert retry_mail(mail, staff=staff, client=CLIENT, now=now) == 1
    db.session.commit()
    assert [m.id for m in recent_mail(MailFilter.WAITING, 1).items] == [mail.id]

    del mail_server.inbox.refusals["gone@example.com"]  # the mailbox is back
    deliver_outbox(now + timedelta(minutes=1))
    db.session.rollback()
    mail = db.session.get(OutboxMail, mail.id)
    assert {r.address: r.status for r in mail.addressees} == {
        "hanako@example.jp": "accepted",
        "gone@example.com": "accepted",
    }
    assert [e.rcpt_tos for e in mail_server.inbox.envelopes] == [
        ["hanako@example.jp"],
        ["gone@example.com"],  # the one it had failed for, alone
    ]
    assert not needs_attention(mail) and mail.sent_at == first_sent  # when it first went


def test_failed_mail_is_dropped_with_a_reason_and_never_sent(mail_server, staff):
    mail = _mail_to(mail_server, refused="gone@example.com")
    with pytest.raises(DomainError, match="理由"):
        drop_mail(mail, reason="  ", staff=staff, client=CLIENT, now=NOW)

    drop_mail(mail, reason="お客様に電話で連絡済み", staff=staff, client=CLIENT, now=NOW)
    db.session.commit()

    assert not needs_attention(mail)
    assert recent_mail(MailFilter.FAILED, 1).items == []
    assert undelivered_mail() == []  # `mail failed` leaves it out too
    assert [m.id for m in recent_mail(MailFilter.DROPPED, 1).items] == [mail.id]
    with pytest.raises(DomainError, match="送信を中止したメールは再送できません"):
        retry_mail(mail, staff=staff, client=CLIENT, now=NOW)
    actions = set(db.session.scalars(select(AuditEvent.action)))
    assert "mail_dropped" in actions


def test_mail_still_waiting_is_dropped_out_of_the_senders_way(staff, mail_server):
    customer = factories.customer("jiro")
    mail = queue_mail(customer, "notice", "【お知らせ】", "本文です。\n")
    db.session.commit()

    drop_mail(mail, reason="送信不要", staff=staff, client=CLIENT, now=NOW)
    db.session.commit()

    assert mail.failed_at == NOW
    assert deliver_outbox(NOW) == (0, 0, 0)
    assert mail_server.inbox.envelopes == []


def test_mail_sent_to_everyone_cannot_be_retried_or_dropped(mail_server, staff):
    mail = _mail_to(mail_server)
    with pytest.raises(DomainError, match="送信できなかった宛先はありません"):
        retry_mail(mail, staff=staff, client=CLIENT, now=NOW)
    with pytest.raises(DomainError, match="送信済みのメールの送信は中止できません"):
        drop_mail(mail, reason="x", staff=staff, client=CLIENT, now=NOW)
    assert db.session.scalar(select(PaperInvoiceRequest.id)) is None
