from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest
import time_machine
from sqlalchemy import select

from panel.extensions import db
from panel.models import OutboxMail
from panel.models.bills import PaymentMethod
from panel.services.billing import bill_history
from panel.services.mail import NO_SMTPUTF8, UNREADABLE_ADDRESS, deliver_outbox, queue_mail
from panel.services.renewal.application import apply_renewal, new_application_token
from panel.services.renewal.pricing import Selection
from tests import factories
from tests.mail_server import MailServer, free_port

NOW = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
#: when the mails of these tests are written to the outbox
WRITTEN = NOW - timedelta(minutes=5)


def _bill(method=PaymentMethod.BANK_TRANSFER):
    with time_machine.travel(WRITTEN, tick=False):
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


def _mail_to(member_id: str, contract_email: str, sub_email: str | None = None) -> int:
    """A notice to a new customer's addresses, written to the outbox; its ID."""
    with time_machine.travel(WRITTEN, tick=False):
        customer = factories.customer(member_id, contract_email=contract_email, sub_email=sub_email)
        db.session.flush()
        mail = queue_mail(customer, "notice", "【お知らせ】サーバー更新日のご案内", "本文です。\n")
        db.session.commit()
        return mail.id


def _mail(mail_id: int) -> OutboxMail:
    db.session.rollback()  # see what deliver_outbox committed
    return db.session.get(OutboxMail, mail_id)


def _outcomes(mail: OutboxMail) -> dict[str, tuple]:
    return {r.address: (r.status, r.smtp_code) for r in mail.addressees}


def test_the_bill_mail_reaches_the_contract_and_sub_e_mail(mail_server):
    bill = _bill()
    assert deliver_outbox(NOW) == (1, 0, 0)

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
    mail = db.session.scalar(select(OutboxMail))
    assert mail.sent_at == NOW
    assert _outcomes(mail) == {
        "taro@example.jp": ("accepted", None),
        "taro-sub@example.com": ("accepted", None),
    }


def test_every_mail_carries_its_date_a_message_id_of_our_domain_and_auto_submitted(
    app, mail_server, monkeypatch
):
    monkeypatch.setitem(app.config, "MAIL_FROM", "ユーザーズパネル <panel@hosting.example.jp>")
    _mail_to("taro", "taro@example.jp")
    assert deliver_outbox(NOW) == (1, 0, 0)
    monkeypatch.setitem(app.config, "MAIL_MESSAGE_ID_DOMAIN", "mail.example.net")
    _mail_to("hanako", "hanako@example.jp")
    assert deliver_outbox(NOW) == (1, 0, 0)

    first, second = mail_server.inbox.messages
    for message in (first, second):
        assert parsedate_to_datetime(message["Date"]) == WRITTEN
        assert message["Date"].endswith("+0900")  # written in Japan time
        assert message["Auto-Submitted"] == "auto-generated"
        assert message["From"].addresses[0].display_name == "ユーザーズパネル"
        assert message["Subject"] == "【お知らせ】サーバー更新日のご案内"
        assert message.get_content() == "本文です。\n"
    assert first["Message-ID"].startswith("<") and first["Message-ID"].endswith(
        "@hosting.example.jp>"
    )
    assert second["Message-ID"].endswith("@mail.example.net>")
    assert first["Message-ID"] != second["Message-ID"]


def test_a_recipient_refused_for_good_is_recorded_and_the_others_get_the_mail(mail_server):
    mail_server.inbox.refusals["gone@example.com"] = "550 5.1.1 No such user"
    mail_id = _mail_to("taro", "taro@example.jp", "gone@example.com")

    assert deliver_outbox(NOW) == (1, 0, 0)
    (envelope,) = mail_server.inbox.envelopes
    assert envelope.rcpt_tos == ["taro@example.jp"]
    mail = _mail(mail_id)
    assert (mail.sent_at, mail.failed_at) == (NOW, None)
    assert _outcomes(mail) == {
        "taro@example.jp": ("accepted", None),
        "gone@example.com": ("refused", 550),
    }
    assert mail.addressees[1].smtp_reply == "5.1.1 No such user"
    assert mail.addressees[1].answered_at == NOW

    # The refused address is not tried again, nor is the mail sent twice.
    assert deliver_outbox(NOW + timedelta(days=1)) == (0, 0, 0)
    assert len(mail_server.inbox.envelopes) == 1


def test_a_recipient_refused_for_now_is_retried_alone_with_the_same_mail(mail_server):
    mail_server.inbox.refusals["busy@example.com"] = "451 4.7.1 Greylisted, try again later"
    mail_id = _mail_to("taro", "taro@example.jp", "busy@example.com")

    assert deliver_outbox(NOW) == (0, 1, 0)
    mail = _mail(mail_id)
    assert _outcomes(mail) == {
        "taro@example.jp": ("accepted", None),
        "busy@example.com": ("pending", 451),
    }
    assert (mail.attempts, mail.next_attempt_at) == (1, NOW + timedelta(minutes=2))
    assert (mail.sent_at, mail.failed_at) == (None, None)

    del mail_server.inbox.refusals["busy@example.com"]
    assert deliver_outbox(NOW + timedelta(minutes=2)) == (1, 0, 0)
    first, second = mail_server.inbox.envelopes
    assert (first.rcpt_tos, second.rcpt_tos) == (["taro@example.jp"], ["busy@example.com"])
    before, retried = mail_server.inbox.messages
    for header in ("Message-ID", "Date", "To"):
        assert retried[header] == before[header]  # the same mail, to the one left
    mail = _mail(mail_id)
    assert mail.sent_at == NOW  # when the server first accepted it
    assert _outcomes(mail)["busy@example.com"] == ("accepted", None)


def test_a_server_closing_after_one_recipient_leaves_the_others_to_try(mail_server):
    mail_server.inbox.refusals["taro@example.jp"] = "421 4.3.2 Service shutting down"
    mail_id = _mail_to("taro", "taro@example.jp", "taro-sub@example.com")

    assert deliver_outbox(NOW) == (0, 1, 0)
    assert mail_server.inbox.envelopes == []
    assert _outcomes(_mail(mail_id)) == {
        "taro@example.jp": ("pending", 421),
        "taro-sub@example.com": ("pending", None),  # never asked, so it has not got it
    }
    mail_server.inbox.refusals.clear()
    assert deliver_outbox(NOW + timedelta(minutes=2)) == (1, 0, 0)
    (envelope,) = mail_server.inbox.envelopes
    assert envelope.rcpt_tos == ["taro@example.jp", "taro-sub@example.com"]


def test_mails_of_one_run_share_one_smtp_session_and_a_closed_one_is_opened_again(
    mail_server,
):
    _mail_to("a", "a@example.jp")
    mail_server.inbox.refusals["shutdown@example.jp"] = "421 4.3.2 Service shutting down"
    _mail_to("b", "shutdown@example.jp")
    _mail_to("c", "c@example.jp")
    _mail_to("d", "d@example.jp")

    assert deliver_outbox(NOW) == (3, 1, 0)
    assert [e.rcpt_tos for e in mail_server.inbox.envelopes] == [
        ["a@example.jp"],
        ["c@example.jp"],
        ["d@example.jp"],
    ]
    first, after_the_421, last = mail_server.inbox.peers
    assert first != after_the_421  # the server closed the first session
    assert after_the_421 == last  # the next mails shared the new one


def test_a_mail_refused_for_every_recipient_fails_at_once_and_is_kept(mail_server):
    mail_server.inbox.refusals["gone@example.com"] = "550 5.1.1 No such user"
    mail_server.inbox.refusals["gone-too@example.com"] = "553 5.1.8 Domain does not exist"
    mail_id = _mail_to("taro", "gone@example.com", "gone-too@example.com")
    other_id = _mail_to("hanako", "hanako@example.jp")

    assert deliver_outbox(NOW) == (1, 0, 1)
    mail = _mail(mail_id)
    assert (mail.sent_at, mail.failed_at, mail.attempts) == (None, NOW, 1)
    assert "550 5.1.1 No such user" in mail.last_error
    assert "553 5.1.8 Domain does not exist" in mail.last_error
    assert _outcomes(mail) == {
        "gone@example.com": ("refused", 550),
        "gone-too@example.com": ("refused", 553),
    }
    assert _mail(other_id).sent_at == NOW

    mail_server.inbox.refusals.clear()
    assert deliver_outbox(NOW + timedelta(days=1)) == (0, 0, 0)  # never picked up again
    (envelope,) = mail_server.inbox.envelopes
    assert envelope.rcpt_tos == ["hanako@example.jp"]


def test_a_bill_mail_given_up_says_so_in_the_bill_history(mail_server):
    mail_server.inbox.refusals["taro@example.jp"] = "550 5.1.1 No such user"
    mail_server.inbox.refusals["taro-sub@example.com"] = "550 5.1.1 No such user"
    bill = _bill()
    assert deliver_outbox(NOW) == (0, 0, 1)

    (entry,) = [e for e in bill_history(bill) if "メール" in e.text]
    assert entry.at == NOW
    assert entry.text == (
        f"メールをお届けできませんでした: 【ご請求】請求No.{bill.bill_no} ご契約更新のお申込み"
    )


def test_a_mail_refused_for_now_on_every_attempt_is_given_up_after_the_last(
    app, mail_server, monkeypatch
):
    monkeypatch.setitem(app.config, "MAIL_MAX_ATTEMPTS", 3)
    mail_server.inbox.refusals["full@example.com"] = "452 4.2.2 Mailbox full"
    mail_id = _mail_to("taro", "full@example.com")

    assert deliver_outbox(NOW) == (0, 1, 0)
    assert deliver_outbox(NOW + timedelta(minutes=2)) == (0, 1, 0)
    assert deliver_outbox(NOW + timedelta(minutes=5)) == (0, 0, 0)  # backing off
    assert deliver_outbox(NOW + timedelta(minutes=6)) == (0, 0, 1)
    mail = _mail(mail_id)
    assert (mail.attempts, mail.failed_at, mail.sent_at) == (3, NOW + timedelta(minutes=6), None)
    assert mail.last_error == "full@example.com: 452 4.2.2 Mailbox full"
    assert _outcomes(mail) == {"full@example.com": ("refused", 452)}

    mail_server.inbox.refusals.clear()
    assert deliver_outbox(NOW + timedelta(days=1)) == (0, 0, 0)
    assert mail_server.inbox.envelopes == []


def test_a_mail_server_down_for_every_attempt_gives_the_mail_up_after_the_last(app, monkeypatch):
    port = free_port()
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", port)
    monkeypatch.setitem(app.config, "MAIL_MAX_ATTEMPTS", 2)
    mail_id = _mail_to("taro", "taro@example.jp")

    assert deliver_outbox(NOW) == (0, 1, 0)
    assert deliver_outbox(NOW + timedelta(minutes=2)) == (0, 0, 1)
    mail = _mail(mail_id)
    assert mail.failed_at == NOW + timedelta(minutes=2)
    assert "ConnectionRefusedError" in mail.last_error
    (recipient,) = mail.addressees
    assert (recipient.status, recipient.smtp_code) == ("refused", None)
    assert "ConnectionRefusedError" in recipient.smtp_reply

    server = MailServer(port).start()
    try:
        assert deliver_outbox(NOW + timedelta(days=1)) == (0, 0, 0)
        assert server.inbox.envelopes == []
    finally:
        server.stop()


def test_an_address_the_server_cannot_take_fails_its_mail_and_the_rest_is_delivered(
    mail_server,
):
    # aiosmtpd, like many servers, does not offer SMTPUTF8 unless told to.
    japanese_only = _mail_to("yamada", "山田@例え.jp")
    japanese_sub = _mail_to("taro", "taro@example.jp", "太郎@example.jp")
    japanese_domain = _mail_to("hanako", "hanako@例え.jp")

    assert deliver_outbox(NOW) == (2, 0, 1)
    mail = _mail(japanese_only)
    assert (mail.failed_at, mail.sent_at) == (NOW, None)
    assert _outcomes(mail) == {"山田@例え.jp": ("refused", None)}
    assert mail.addressees[0].smtp_reply == NO_SMTPUTF8
    assert NO_SMTPUTF8 in mail.last_error

    mail = _mail(japanese_sub)
    assert mail.sent_at == NOW
    assert _outcomes(mail) == {
        "taro@example.jp": ("accepted", None),
        "太郎@example.jp": ("refused", None),
    }
    assert _outcomes(_mail(japanese_domain)) == {"hanako@例え.jp": ("accepted", None)}

    to_taro, to_hanako = mail_server.inbox.envelopes
    assert to_taro.rcpt_tos == ["taro@example.jp"]
    assert to_hanako.rcpt_tos == ["hanako@xn--r8jz45g.jp"]  # the domain in its ASCII form
    first, second = mail_server.inbox.messages
    assert (first["To"], second["To"]) == ("taro@example.jp", "hanako@xn--r8jz45g.jp")
    assert deliver_outbox(NOW + timedelta(days=1)) == (0, 0, 0)


@pytest.fixture
def smtputf8_mail_server(app, monkeypatch):
    server = MailServer(free_port(), smtputf8=True).start()
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", server.port)
    yield server
    server.stop()


def test_a_server_that_offers_smtputf8_gets_internationalised_addresses_as_they_are(
    smtputf8_mail_server,
):
    mail_id = _mail_to("yamada", "山田@例え.jp", "taro@example.jp")
    ascii_id = _mail_to("hanako", "hanako@example.jp")

    assert deliver_outbox(NOW) == (2, 0, 0)
    to_yamada, to_hanako = smtputf8_mail_server.inbox.envelopes
    assert to_yamada.rcpt_tos == ["山田@例え.jp", "taro@example.jp"]
    assert to_yamada.smtp_utf8
    assert not to_hanako.smtp_utf8  # only the mail that needs it
    message = smtputf8_mail_server.inbox.messages[0]
    assert [a.addr_spec for a in message["To"].addresses] == ["山田@例え.jp", "taro@example.jp"]
    assert message["Subject"] == "【お知らせ】サーバー更新日のご案内"
    assert message.get_content() == "本文です。\n"
    assert _outcomes(_mail(mail_id))["山田@例え.jp"] == ("accepted", None)
    assert _mail(ascii_id).sent_at == NOW


def test_an_address_that_cannot_be_read_is_refused_without_stopping_its_mail(mail_server):
    mail_id = _mail_to("taro", "taro@example.jp", "not an address")

    assert deliver_outbox(NOW) == (1, 0, 0)
    (envelope,) = mail_server.inbox.envelopes
    assert envelope.rcpt_tos == ["taro@example.jp"]
    mail = _mail(mail_id)
    assert _outcomes(mail)["not an address"] == ("refused", None)
    assert mail.addressees[1].smtp_reply == UNREADABLE_ADDRESS


def test_the_same_address_as_contract_and_sub_e_mail_gets_the_mail_once(mail_server):
    mail_id = _mail_to("taro", "taro@example.jp", "taro@example.jp")

    assert deliver_outbox(NOW) == (1, 0, 0)
    (envelope,) = mail_server.inbox.envelopes
    assert envelope.rcpt_tos == ["taro@example.jp"]
    assert _mail(mail_id).recipients == "taro@example.jp"


def test_mail_send_says_how_many_were_sent_failed_for_now_and_given_up(app, mail_server):
    mail_server.inbox.refusals["gone@example.com"] = "550 5.1.1 No such user"
    mail_server.inbox.refusals["busy@example.com"] = "451 4.7.1 Try again later"
    for member_id, address in [("a", "a@example.jp"), ("b", "gone@example.com")]:
        _mail_to(member_id, address)
    _mail_to("c", "busy@example.com")
    _mail_to("d", "d@example.jp")

    result = app.test_cli_runner().invoke(args=["mail", "send"])
    assert result.exit_code == 0, result.output
    assert result.output == "sent 2, failed 1 (will be retried), given up 1 (kept as failed)\n"


def test_a_mail_server_that_is_down_delays_mail_and_loses_none(app, monkeypatch):
    port = free_port()
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", port)
    _bill()

    assert deliver_outbox(NOW) == (0, 1, 0)
    mail = db.session.scalar(select(OutboxMail))
    assert (mail.attempts, mail.sent_at) == (1, None)
    assert mail.next_attempt_at == NOW + timedelta(minutes=2)
    assert "ConnectionRefusedError" in mail.last_error
    assert deliver_outbox(NOW + timedelta(minutes=1)) == (0, 0, 0)  # backing off
    assert deliver_outbox(NOW + timedelta(minutes=2)) == (0, 1, 0)
    assert db.session.scalar(select(OutboxMail)).next_attempt_at == NOW + timedelta(minutes=6)

    server = MailServer(port).start()
    try:
        assert deliver_outbox(NOW + timedelta(minutes=6)) == (1, 0, 0)
        assert len(server.inbox.envelopes) == 1
        assert deliver_outbox(NOW + timedelta(hours=1)) == (0, 0, 0)  # sent once, never again
    finally:
        server.stop()


def test_mail_failed_lists_what_was_given_up_or_refused_with_each_answer(app, mail_server):
    mail_server.inbox.refusals["gone@example.com"] = "550 5.1.1 No such user"
    mail_server.inbox.refusals["gone-too@example.com"] = "553 5.1.8 Domain does not exist"
    given_up = _mail_to("a", "gone-too@example.com")
    partly = _mail_to("b", "b@example.jp", "gone@example.com")
    _mail_to("c", "c@example.jp")
    runner = app.test_cli_runner()
    assert runner.invoke(args=["mail", "failed"]).output == "no undelivered mail\n"
    runner.invoke(args=["mail", "send"])

    lines = runner.invoke(args=["mail", "failed"]).output.splitlines()
    assert lines[0].startswith(f"#{partly} partly sent ")
    assert lines[1:3] == [
        "    b@example.jp: accepted",
        "    gone@example.com: refused 550 5.1.1 No such user",
    ]
    assert lines[3].startswith(f"#{given_up} given up ")
    assert lines[-1] == "    gone-too@example.com: refused 553 5.1.8 Domain does not exist"
    assert not any("c@example.jp" in line for line in lines)
