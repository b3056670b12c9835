from datetime import UTC, date, datetime, timedelta

import time_machine
from sqlalchemy import select

from panel.extensions import db
from panel.models import OutboxMail
from panel.models.bills import PaymentMethod
from panel.services.mail import deliver_outbox
from panel.services.renewal.application import apply_renewal, new_application_token
from panel.services.renewal.pricing import Selection
from tests import factories
from tests.mail_server import MailServer

NOW = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)


def _bill(method=PaymentMethod.BANK_TRANSFER):
    with time_machine.travel(NOW - timedelta(minutes=5), tick=False):
        return _apply(method)


def _apply(method):
    plan = factories.plan()
    customer = factories.customer(sub_email="taro-sub@example.com")
    server = factories.server(customer, "taro.jp", plan, date(2026, 12, 10))
    bill = apply_renewal(
        customer,
        [Selection(server.id, 12, plan.id)],
        False,
        method,
        new_application_token(customer),
        date(2026, 11, 21),
    )
    db.session.commit()
    return bill


def test_the_bill_mail_reaches_the_contract_and_sub_e_mail(mail_server):
    bill = _bill()
    assert deliver_outbox(NOW) == (1, 0)

    (envelope,) = mail_server.inbox.envelopes
    assert sorted(envelope.rcpt_tos) == ["taro-sub@example.com", "taro@example.jp"]
    (message,) = mail_server.inbox.messages
    assert message["Subject"] == f"【ご請求】請求No.{bill.bill_no} ご契約更新のお申込み"
    body = message.get_content()
    assert "山田 太郎 様" in body
    assert "taro.jp Standardプラン 1年 更新" in body
    assert "ご請求金額(税込): 12,540円" in body
    assert "内消費税 1,140円" in body
    assert "お支払期限日  : 2026年12月5日" in body
    assert "サンプル銀行" in body  # what to do for a bank transfer
    assert f"http://127.0.0.1:5000/bills/{bill.bill_no}" in body
    assert db.session.scalar(select(OutboxMail)).sent_at == NOW


def test_a_mail_server_that_is_down_delays_mail_and_loses_none(app, monkeypatch):
    from tests.mail_server import free_port

    port = free_port()
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", port)
    _bill()

    assert deliver_outbox(NOW) == (0, 1)
    mail = db.session.scalar(select(OutboxMail))
    assert (mail.attempts, mail.sent_at) == (1, None)
    assert mail.next_attempt_at == NOW + timedelta(minutes=2)
    assert "ConnectionRefusedError" in mail.last_error
    assert deliver_outbox(NOW + timedelta(minutes=1)) == (0, 0)  # backing off
    assert deliver_outbox(NOW + timedelta(minutes=2)) == (0, 1)
    assert db.session.scalar(select(OutboxMail)).next_attempt_at == NOW + timedelta(minutes=6)

    server = MailServer(port).start()
    try:
        assert deliver_outbox(NOW + timedelta(minutes=6)) == (1, 0)
        assert len(server.inbox.envelopes) == 1
        assert deliver_outbox(NOW + timedelta(hours=1)) == (0, 0)  # sent once, never again
    finally:
        server.stop()
