from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from flask import current_app
from sqlalchemy import func, select

from panel.extensions import db
from panel.gateways import CardDetails, payment_gateway
from panel.gateways.sandbox import AUTHENTICATED_CARD, DECLINED_CARD, FAILS_AUTHENTICATION_CARD
from panel.models import AuditEvent, Contract, OutboxMail, TransferNotice
from panel.models.bills import BillKind, BillLineKind, BillStatus, PaymentMethod
from panel.refusals import DomainError
from panel.services.audit import Client
from panel.services.billing import (
    BILLS_PER_PAGE,
    HistoryKind,
    LineDraft,
    allocate_bill_no,
    bill_history,
    bill_no_of_transfer,
    cancel_bill,
    change_payment_method,
    create_bill,
    list_awaiting_bills,
    list_bills,
    record_transfer_notice,
    resend_bill_mail,
    transfer_reference,
)
from panel.services.payments import (
    PaymentOutcome,
    complete_card_authentication,
    pay_by_card,
    reconcile_attempts,
)
from tests import factories

TODAY = date(2026, 11, 21)
NOW = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
CLIENT = Client(ip_address="198.51.100.7", user_agent="test")


def test_bill_numbers_count_per_day():
    assert allocate_bill_no(date(2026, 11, 21)) == "20261121-0001"
    assert allocate_bill_no(date(2026, 11, 21)) == "20261121-0002"
    assert allocate_bill_no(date(2026, 11, 22)) == "20261122-0001"
    db.session.rollback()  # an application that fails gives its number back
    assert allocate_bill_no(date(2026, 11, 21)) == "20261121-0001"


def _bill(customer, applied_on, due_date, amounts):
    return create_bill(
        customer,
        kind=BillKind.RENEWAL,
        payment_method=PaymentMethod.BANK_TRANSFER,
        applied_on=applied_on,
        due_date=due_date,
        lines=[
            LineDraft(kind=BillLineKind.RENEWAL, description=f"line {n}", amount=amount)
            for n, amount in enumerate(amounts)
        ],
    )


def test_a_new_bill_awaits_payment_with_its_lines_in_order():
    customer = factories.customer()
    bill = _bill(customer, date(2026, 11, 21), date(2026, 11, 28), [12_540, 1_100, 200])
    db.session.commit()
    assert bill.status == BillStatus.AWAITING_PAYMENT
    assert [line.position for line in bill.lines] == [1, 2, 3]
    assert bill.total == 13_840


def test_awaiting_bills_are_the_customers_own_by_due_date():
    customer = factories.customer()
    later = _bill(customer, date(2026, 11, 20), date(2026, 12, 4), [1_100])
    sooner = _bill(customer, date(2026, 11, 21), date(2026, 11, 28), [1_100])
    _bill(factories.customer("hanako"), date(2026, 11, 21), date(2026, 11, 28), [1_100])
    db.session.commit()
    assert list_awaiting_bills(customer) == [sooner, later]


def test_the_bill_list_is_newest_first_twenty_a_page_and_filters_by_status():
    customer = factories.customer()
    bills = [
        _bill(customer, date(2026, 1, 1) + timedelta(days=n), date(2026, 12, 31), [1_100])
        for n in range(BILLS_PER_PAGE + 3)
    ]
    bills[0].status, bills[0].cancelled_at = BillStatus.CANCELLED, NOW
    _bill(factories.customer("hanako"), date(2026, 6, 1), date(2026, 12, 31), [1_100])
    db.session.commit()

    first = list_bills(customer, None, 1)
    assert first.total == BILLS_PER_PAGE + 3
    assert first.items[0] == bills[-1]
    assert len(first.items) == BILLS_PER_PAGE
    assert list_bills(customer, None, 2).items == [bills[2], bills[1], bills[0]]
    assert list_bills(customer, BillStatus.CANCELLED, 1).items == [bills[0]]
    assert list_bills(customer, BillStatus.PAID, 1).total == 0
    assert list_bills(customer, None, 9).items == []


def test_the_transfer_reference_is_the_bill_numbers_digits_and_finds_it_again():
    customer = factories.customer()
    bill = _bill(customer, TODAY, TODAY, [1_100])
    assert transfer_reference(bill) == bill.bill_no.replace("-", "")
    assert bill_no_of_transfer(f" {transfer_reference(bill)} ") == bill.bill_no


@pytest.fixture
def awaiting():
    plans = factories.plan_lineup()
    customer = factories.customer(sub_email="taro-sub@example.com")
    server = factories.server(customer, "taro.jp", plans["standard"], date(2026, 11, 30))
    return factories.renewal_bill(customer, server, today=TODAY)


def test_changing_to_the_convenience_store_adds_the_fee_and_changing_back_removes_it(awaiting):
    total = awaiting.total
    change_payment_method(awaiting, PaymentMethod.CONVENIENCE_STORE)
    db.session.commit()
    assert awaiting.total == total + 200
    assert awaiting.lines[-1].kind == BillLineKind.CONVENIENCE_STORE_FEE
    change_payment_method(awaiting, PaymentMethod.CARD)
    db.session.commit()
    assert (awaiting.total, awaiting.payment_method) == (total, PaymentMethod.CARD)
    with pytest.raises(DomainError):
        change_payment_method(awaiting, PaymentMethod.DIRECT_DEBIT)


def test_a_transfer_notice_is_kept_and_shown_in_the_history(awaiting):
    user = factories.owner(awaiting.customer)
    record_transfer_notice(
        awaiting,
        user,
        transferred_on=TODAY,
        payer_name="ヤマダタロウ",
        amount=awaiting.total,
        bank_name="ゆうちょ銀行",
        today=TODAY,
    )
    db.session.commit()
    assert db.session.scalar(select(TransferNotice.payer_name)) == "ヤマダタロウ"
    texts = [entry.text for entry in bill_history(awaiting)]
    assert texts[0] == "お申込を受け付けました(ご請求を作成)"
    assert any(
        text.startswith("振込連絡を受け付けました(2026年11月21日 ゆうちょ銀行") for text in texts
    )


@pytest.mark.parametrize(
    ("transferred_on", "amount", "field", "message"),
    [
        (TODAY + timedelta(days=1), 12_540, "transferred_on", "未来の日付"),
        (TODAY - timedelta(days=1), 12_540, "transferred_on", "お申込日以降"),
        (TODAY, 0, "amount", "振込金額"),
    ],
)
def test_a_transfer_notice_with_a_wrong_date_or_amount_is_refused(
    awaiting, transferred_on, amount, field, message
):
    with pytest.raises(DomainError, match=message) as refusal:
        record_transfer_notice(
            awaiting,
            factories.owner(awaiting.customer),
            transferred_on=transferred_on,
            payer_name="ヤマダタロウ",
            amount=amount,
            bank_name="ゆうちょ銀行",
            today=TODAY,
        )
    assert refusal.value.field == field


def test_a_transfer_notice_is_only_for_bank_transfers(awaiting):
    change_payment_method(awaiting, PaymentMethod.CARD)
    with pytest.raises(DomainError, match="銀行振込のご請求"):
        record_transfer_notice(
            awaiting,
            factories.owner(awaiting.customer),
            transferred_on=TODAY,
            payer_name="ヤマダタロウ",
            amount=1,
            bank_name="ゆうちょ銀行",
            today=TODAY,
        )


def test_cancelling_leaves_the_contracts_and_mails_the_customer(awaiting):
    contract_date = db.session.scalar(select(Contract.renewal_date))
    cancel_bill(awaiting, NOW, factories.owner(awaiting.customer), CLIENT)
    db.session.commit()

    assert (awaiting.status, awaiting.cancelled_at) == (BillStatus.CANCELLED, NOW)
    assert db.session.scalar(select(Contract.renewal_date)) == contract_date
    mail = db.session.scalar(select(OutboxMail).where(OutboxMail.kind == "cancellation"))
    assert mail.recipients == "taro@example.jp, taro-sub@example.com"
    assert db.session.scalar(select(AuditEvent.action)) == "bill_cancelled"
    assert "お申込を取り消しました" in [entry.text for entry in bill_history(awaiting)]


def test_a_paid_or_cancelled_bill_accepts_no_action(awaiting):
    cancel_bill(awaiting, NOW, None, CLIENT)
    db.session.commit()
    for action in (
        lambda: cancel_bill(awaiting, NOW, None, CLIENT),
        lambda: change_payment_method(awaiting, PaymentMethod.CARD),
        lambda: resend_bill_mail(awaiting, NOW),
    ):
        with pytest.raises(DomainError, match="取り消されています"):
            action()


def test_the_bill_mail_is_sent_again_at_most_once_every_five_minutes(awaiting):
    mails = lambda: db.session.scalar(select(func.count()).select_from(OutboxMail))  # noqa: E731
    first = db.session.scalar(select(OutboxMail.created_at))
    with pytest.raises(DomainError, match="5分に1回"):
        resend_bill_mail(awaiting, first + timedelta(minutes=4))
    resent = resend_bill_mail(awaiting, first + timedelta(minutes=5))
    db.session.commit()
    assert mails() == 2
    assert resent.subject == f"【ご請求】請求No.{awaiting.bill_no} ご契約更新のお申込み"


# How to pay, in the bill e-mail

#: An account as an operator may write it, with characters HTML would escape.
BANK_ACCOUNT = "A&B銀行 <本店> 普通預金 1234567"


@pytest.mark.parametrize(
    ("method", "method_label", "instructions"),
    [
        (
            PaymentMethod.BANK_TRANSFER,
            "銀行振込",
            "お支払期限日までに、下記の口座へお振込みください。\n"
            f"{BANK_ACCOUNT}\n"
            "振込名義の前にお客様番号「{reference}」を入れてください"
            "(例: {reference} ヤマダタロウ)。"
            "お振込後は、ご請求の詳細ページの「振込連絡」からご連絡いただくと確認が早くなります。"
            "入金確認後にご契約へ反映されます。",
        ),
        (
            PaymentMethod.CONVENIENCE_STORE,
            "コンビニ決済",
            "ご請求の詳細ページの「お支払のお手続き」でお支払番号を取得し、"
            "お支払期限日までにコンビニエンスストアでお支払いください。"
            "店舗からの通知後(1〜2時間かかる場合があります)にご契約へ反映されます。",
        ),
        (
            PaymentMethod.PAYPAL,
            "PayPal",
            "ご請求の詳細ページの「お支払のお手続き」からPayPalでお支払いください。"
            "決済後すぐにご契約へ反映されます。",
        ),
        (
            PaymentMethod.CARD,
            "クレジットカード",
            "ご請求の詳細ページの「お支払のお手続き」からクレジットカード"
            "(VISA・Master・JCB・American Express)でお支払いください。"
            "決済後すぐにご契約へ反映されます。",
        ),
    ],
)
def test_the_bill_mail_says_how_to_pay_by_the_bills_method(
    app, monkeypatch, method, method_label, instructions
):
    monkeypatch.setitem(app.config, "BANK_TRANSFER_ACCOUNT", BANK_ACCOUNT)
    customer = factories.customer()
    server = factories.server(customer, "taro.jp", factories.plan(), date(2026, 11, 30))
    bill = factories.renewal_bill(customer, server, method=method, today=TODAY)
    body = db.session.scalar(select(OutboxMail.body).where(OutboxMail.bill_id == bill.id))
    assert f"■ お支払方法    : {method_label}\n" in body
    expected = instructions.format(reference=transfer_reference(bill))
    assert f"【お支払のお手続き】\n{expected}\n\n" in body


# A bill's history of card payment attempts


def _pay_by_card(bill, number, now):
    """Pay as the card form does: a declined card's attempt is kept, as the request keeps it."""
    with current_app.test_request_context():  # the 3-D Secure page is a URL of the panel
        try:
            settlement = pay_by_card(
                bill, CardDetails(number, 12, 2030, "123"), "", TODAY, now, CLIENT
            )
        except DomainError as refusal:
            assert refusal.keeps_record
            settlement = None
    db.session.commit()
    return settlement


def test_the_history_tells_of_a_declined_card_and_a_3d_secure_challenge_until_it_expires():
    plans = factories.plan_lineup()
    with time_machine.travel(NOW, tick=False) as clock:
        customer = factories.customer()
        server = factories.server(customer, "taro.jp", plans["standard"], date(2026, 11, 30))
        bill = factories.renewal_bill(customer, server, method=PaymentMethod.CARD, today=TODAY)
        paying = f"クレジットカードでの{bill.total:,}円のお支払"

        clock.shift(timedelta(minutes=1))
        assert _pay_by_card(bill, DECLINED_CARD, NOW + timedelta(minutes=1)) is None
        clock.shift(timedelta(minutes=1))
        challenge = _pay_by_card(bill, AUTHENTICATED_CARD, NOW + timedelta(minutes=2))
        assert challenge.outcome == PaymentOutcome.AUTHENTICATION_REQUIRED

        history = bill_history(bill)
        assert [(entry.at - NOW, entry.kind) for entry in history] == [
            (timedelta(0), HistoryKind.APPLIED),
            (timedelta(0), HistoryKind.MAIL_WAITING),
            (timedelta(minutes=1), HistoryKind.PAYMENT_FAILED),
            (timedelta(minutes=2), HistoryKind.AUTHENTICATION_WAITING),
        ]
        declined, waiting = history[2:]
        assert (declined.amount, declined.method) == (bill.total, PaymentMethod.CARD)
        assert declined.text == (
            f"{paying}はできませんでした。カード会社により決済が承認されませんでした。"
            "別のカードをお使いいただくか、カード会社にお問い合わせください。"
        )
        assert waiting.text == f"{paying}は、カード会社の本人認証(3-Dセキュア)の完了待ちです"

        # The cardholder never comes back: the challenge is cancelled at the gateway.
        abandoned_at = NOW + timedelta(minutes=40)
        clock.move_to(abandoned_at)
        assert reconcile_attempts(abandoned_at) == {"applied": 0, "closed": 1}
        last = bill_history(bill)[-1]
        assert (last.at, last.kind) == (abandoned_at, HistoryKind.PAYMENT_EXPIRED)
        assert last.text == (
            f"{paying}のお手続きは、完了しないまま期限が切れたため取り消しました"
            "(お支払は行われていません)"
        )
        assert HistoryKind.AUTHENTICATION_WAITING not in {e.kind for e in bill_history(bill)}


def test_a_card_paid_after_a_failed_authentication_shows_the_failure_and_the_payment():
    plans = factories.plan_lineup()
    with time_machine.travel(NOW, tick=False):
        customer = factories.customer()
        server = factories.server(customer, "taro.jp", plans["standard"], date(2026, 11, 30))
        bill = factories.renewal_bill(customer, server, method=PaymentMethod.CARD, today=TODAY)
        challenge = _pay_by_card(bill, FAILS_AUTHENTICATION_CARD, NOW)
        payment_gateway().complete_challenge(challenge.action_url.rsplit("/", 1)[1], True)
        with pytest.raises(DomainError, match="本人認証"):
            complete_card_authentication(bill, NOW + timedelta(minutes=1), CLIENT)
        db.session.commit()
        _pay_by_card(bill, "4242424242424242", NOW + timedelta(minutes=2))

    texts = [entry.text for entry in bill_history(bill) if "メール" not in entry.text]
    assert texts == [
        "お申込を受け付けました(ご請求を作成)",
        f"クレジットカードでの{bill.total:,}円のお支払はできませんでした。"
        "カード会社の本人認証(3-Dセキュア)に失敗しました。",
        f"クレジットカード(VISA 末尾4242)での{bill.total:,}円のお支払を確認しました",
    ]
