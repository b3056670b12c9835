from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from panel.extensions import db
from panel.gateways import CardDetails, Notification, payment_gateway
from panel.models import AuditEvent, Contract, OutboxMail, Payment
from panel.models.bills import BillStatus, PaymentMethod
from panel.refusals import DomainError
from panel.services.audit import Client
from panel.services.billing import cancel_bill, change_payment_method, transfer_reference
from panel.services.payments import (
    PaymentOutcome,
    complete_paypal_payment,
    issue_store_payment,
    pay_by_card,
    receive_notification,
    start_paypal_payment,
)
from panel.services.renewal.application import apply_renewal, new_application_token
from panel.services.renewal.pricing import Selection
from tests import factories

TODAY = date(2026, 11, 21)
NOW = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
CLIENT = Client(ip_address="203.0.113.9", user_agent="provider")
#: where the card company's 3-D Secure page sends the cardholder back to
RETURN_URL = "http://panel.test/bills/x/pay/card/return"


@pytest.fixture
def plans():
    return factories.plan_lineup()


@pytest.fixture
def customer():
    return factories.customer(sub_email="taro-sub@example.com")


@pytest.fixture
def server(customer, plans):
    return factories.server(customer, "taro.jp", plans["standard"], date(2026, 11, 30))


def _bill(customer, server, method=PaymentMethod.BANK_TRANSFER, months=12):
    return factories.renewal_bill(customer, server, months=months, method=method, today=TODAY)


def _bank_notification(bill, amount=None, event_id="evt-1"):
    return Notification(
        event_id=event_id,
        method=PaymentMethod.BANK_TRANSFER,
        reference=transfer_reference(bill),
        amount=bill.total if amount is None else amount,
        received_at=NOW,
        payer_name="202611210001 ヤマダタロウ",
    )


def _receive(notification):
    outcome = receive_notification(notification, "sandbox", NOW, CLIENT)
    db.session.commit()
    return outcome


def _count(model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_a_bank_transfer_pays_the_bill_and_extends_the_contract_once(customer, server):
    bill = _bill(customer, server)
    assert _receive(_bank_notification(bill)) == PaymentOutcome.APPLIED

    db.session.refresh(bill)
    assert bill.status == BillStatus.PAID
    assert bill.paid_at == NOW
    assert db.session.get(Contract, server.id).renewal_date == date(2027, 11, 30)
    payment = db.session.scalar(select(Payment))
    assert (payment.bill_id, payment.amount, payment.applied_to_bill) == (bill.id, bill.total, True)
    assert payment.payer_name == "202611210001 ヤマダタロウ"
    mail = db.session.scalar(select(OutboxMail).where(OutboxMail.kind == "payment"))
    assert mail.recipients == "taro@example.jp, taro-sub@example.com"
    assert "2027年11月30日" in mail.body
    assert _count(AuditEvent, AuditEvent.action == "payment_applied") == 1


def test_the_same_notification_twice_changes_nothing_the_second_time(customer, server):
    bill = _bill(customer, server)
    assert _receive(_bank_notification(bill)) == PaymentOutcome.APPLIED
    assert _receive(_bank_notification(bill)) == PaymentOutcome.DUPLICATE

    assert _count(Payment) == 1
    assert _count(OutboxMail, OutboxMail.kind == "payment") == 1
    assert db.session.get(Contract, server.id).renewal_date == date(2027, 11, 30)


def test_a_second_payment_for_a_paid_bill_is_kept_for_staff_and_extends_nothing(customer, server):
    bill = _bill(customer, server)
    _receive(_bank_notification(bill, event_id="evt-1"))
    assert _receive(_bank_notification(bill, event_id="evt-2")) == PaymentOutcome.FLAGGED

    second = db.session.scalar(select(Payment).where(Payment.provider_event_id == "evt-2"))
    assert second.applied_to_bill is False
    assert second.review_reason == "すでにお支払済みのご請求への入金です"
    assert db.session.get(Contract, server.id).renewal_date == date(2027, 11, 30)
    assert _count(AuditEvent, AuditEvent.action == "payment_flagged") == 1


def test_money_for_a_cancelled_bill_is_kept_for_staff_and_the_contract_is_untouched(
    customer, server
):
    bill = _bill(customer, server)
    cancel_bill(bill, NOW, None, CLIENT)
    db.session.commit()
    assert _receive(_bank_notification(bill)) == PaymentOutcome.FLAGGED

    db.session.refresh(bill)
    assert bill.status == BillStatus.CANCELLED
    assert db.session.get(Contract, server.id).renewal_date == date(2026, 11, 30)
    payment = db.session.scalar(select(Payment))
    assert payment.review_reason == "取り消されたご請求への入金です"


def test_another_amount_leaves_the_bill_awaiting_and_flags_the_money(customer, server):
    bill = _bill(customer, server)
    assert _receive(_bank_notification(bill, amount=bill.total - 1)) == PaymentOutcome.FLAGGED

    db.session.refresh(bill)
    assert bill.status == BillStatus.AWAITING_PAYMENT
    assert "と入金額が一致しません" in db.session.scalar(select(Payment.review_reason))


def test_money_with_an_unknown_reference_is_kept_without_a_bill(customer, server):
    notification = Notification("evt-x", PaymentMethod.BANK_TRANSFER, "209901019999", 500, NOW)
    assert _receive(notification) == PaymentOutcome.FLAGGED
    payment = db.session.scalar(select(Payment))
    assert (payment.bill_id, payment.reference) == (None, "209901019999")


def test_paying_applies_the_plan_change_and_ends_the_trial(customer, plans):
    trial = factories.server(
        customer, "trial.jp", plans["standard"], date(2026, 11, 25), is_trial=True
    )
    bill = apply_renewal(
        customer,
        [Selection(trial.id, 12, plans["premium"].id)],
        month_end=False,
        payment_method=PaymentMethod.BANK_TRANSFER,
        application_token=new_application_token(customer),
        today=TODAY,
    )
    db.session.commit()
    assert db.session.get(Contract, trial.id).plan_id == plans["standard"].id  # not before paying

    _receive(_bank_notification(bill))
    contract = db.session.get(Contract, trial.id)
    assert (contract.plan_id, contract.is_trial) == (plans["premium"].id, False)
    assert contract.renewal_date == date(2027, 11, 25)


def test_the_renewal_date_never_moves_back(customer, server):
    bill = _bill(customer, server, months=1)  # would give 2026-12-30
    server.renewal_date = date(2027, 3, 31)  # moved on by staff in the meantime
    db.session.commit()
    _receive(_bank_notification(bill))
    assert db.session.get(Contract, server.id).renewal_date == date(2027, 3, 31)


# Cards


def _card(number, expiry=(12, 2030), code="123"):
    return CardDetails(number, expiry[0], expiry[1], code)


@pytest.mark.parametrize(
    ("number", "brand", "code"),
    [
        ("4242 4242 4242 4242", "VISA", "123"),
        ("5555-5555-5555-4444", "Master", "123"),
        ("3530111333300000", "JCB", "123"),
        ("378282246310005", "American Express", "1234"),
    ],
)
def test_each_brand_pays_at_once_and_only_brand_last4_and_expiry_are_kept(
    customer, server, number, brand, code
):
    bill = _bill(customer, server, method=PaymentMethod.CARD)
    settlement = pay_by_card(bill, _card(number, code=code), RETURN_URL, TODAY, NOW, CLIENT)
    db.session.commit()

    assert settlement.outcome == PaymentOutcome.APPLIED
    assert bill.status == BillStatus.PAID
    assert db.session.get(Contract, server.id).renewal_date == date(2027, 11, 30)
    payment = db.session.scalar(select(Payment))
    digits = number.replace(" ", "").replace("-", "")
    assert (payment.card_brand, payment.card_last4, payment.card_expiry) == (
        brand,
        digits[-4:],
        "12/30",
    )
    stored = [str(value) for value in db.session.execute(select(Payment.__table__)).one()]
    assert not any(digits in value or code == value for value in stored)


@pytest.mark.parametrize(
    ("number", "expiry", "code", "field", "message"),
    [
        (
            "4000000000000002",
            (12, 2030),
            "123",
            "number",
            "カード会社により決済が承認されませんでした",
        ),
        ("4242424242424241", (12, 2030), "123", "number", "カード番号が正しくありません"),
        ("6011111111111117", (12, 2030), "123", "number", "このカードはご利用いただけません"),
        ("36227206271667", (12, 2030), "123", "number", "このカードはご利用いただけません"),
        ("4242424242424242", (10, 2026), "123", "expiry", "有効期限が切れています"),
        ("378282246310005", (12, 2030), "123", "security_code", "4桁"),
    ],
)
def test_a_refused_card_leaves_the_bill_awaiting(
    customer, server, number, expiry, code, field, message
):
    bill = _bill(customer, server, method=PaymentMethod.CARD)
    with pytest.raises(DomainError) as refusal:
        pay_by_card(bill, _card(number, expiry, code), RETURN_URL, TODAY, NOW, CLIENT)
    db.session.rollback()

    assert message in refusal.value.message
    assert refusal.value.field == field
    db.session.refresh(bill)
    assert bill.status == BillStatus.AWAITING_PAYMENT
    assert _count(Payment) == 0


def test_a_card_expiring_this_month_is_accepted(customer, server):
    bill = _bill(customer, server, method=PaymentMethod.CARD)
    pay_by_card(bill, _card("4242424242424242", (11, 2026)), RETURN_URL, TODAY, NOW, CLIENT)
    assert bill.status == BillStatus.PAID


def test_a_resubmitted_card_form_charges_once(customer, server):
    bill = _bill(customer, server, method=PaymentMethod.CARD)
    pay_by_card(bill, _card("4242424242424242"), RETURN_URL, TODAY, NOW, CLIENT)
    db.session.commit()
    with pytest.raises(DomainError, match="お支払済み"):
        pay_by_card(bill, _card("4242424242424242"), RETURN_URL, TODAY, NOW, CLIENT)
    db.session.rollback()
    assert _count(Payment) == 1


def test_a_card_payment_needs_the_card_method(customer, server):
    bill = _bill(customer, server)
    with pytest.raises(DomainError, match="お支払方法が変更されています"):
        pay_by_card(bill, _card("4242424242424242"), RETURN_URL, TODAY, NOW, CLIENT)


# PayPal


def test_paypal_approve_and_return_pays_once(app, customer, server):
    bill = _bill(customer, server, method=PaymentMethod.PAYPAL)
    gateway = payment_gateway()
    with app.test_request_context():
        approval_url = start_paypal_payment(bill, "/bills/x/return", "/bills/x/cancel", TODAY)
    order = gateway.read_paypal_order(approval_url.split("order=", 1)[1])
    assert (order["order_ref"], order["amount"]) == (bill.bill_no, bill.total)
    returned = gateway.approve_paypal_order(order)
    approval = returned.split("approval=", 1)[1]

    assert complete_paypal_payment(bill, approval, NOW, CLIENT).outcome == PaymentOutcome.APPLIED
    db.session.commit()
    reloaded = complete_paypal_payment(bill, approval, NOW, CLIENT)
    assert reloaded.outcome == PaymentOutcome.DUPLICATE
    db.session.commit()
    assert _count(Payment) == 1
    assert db.session.get(Contract, server.id).renewal_date == date(2027, 11, 30)


def test_paypal_refuses_an_order_that_was_not_approved_or_was_tampered_with(app, customer, server):
    bill = _bill(customer, server, method=PaymentMethod.PAYPAL)
    with app.test_request_context():
        approval_url = start_paypal_payment(bill, "/r", "/c", TODAY)
    not_approved = approval_url.split("order=", 1)[1]
    for approval in (not_approved, not_approved[:-2] + "xx", ""):
        with pytest.raises(DomainError):
            complete_paypal_payment(bill, approval, NOW, CLIENT)
        db.session.rollback()
    assert bill.status == BillStatus.AWAITING_PAYMENT
    assert _count(Payment) == 0


# Convenience stores


def test_a_store_payment_number_is_issued_once_and_paid_by_the_store_notification(customer, server):
    bill = _bill(customer, server, method=PaymentMethod.CONVENIENCE_STORE)
    slip = issue_store_payment(bill, TODAY)
    db.session.commit()
    assert issue_store_payment(bill, TODAY).payment_number == slip.payment_number
    assert (slip.amount, slip.expires_on) == (bill.total, bill.due_date)
    assert bill.total == 12_540 + 200  # the store fee is on the bill

    notification = Notification(
        "evt-store", PaymentMethod.CONVENIENCE_STORE, slip.payment_number, slip.amount, NOW
    )
    assert _receive(notification) == PaymentOutcome.APPLIED
    assert db.session.get(Contract, server.id).renewal_date == date(2027, 11, 30)


def test_store_money_after_the_method_changed_is_flagged_not_applied(customer, server):
    bill = _bill(customer, server, method=PaymentMethod.CONVENIENCE_STORE)
    slip = issue_store_payment(bill, TODAY)
    change_payment_method(bill, PaymentMethod.CARD)  # the fee goes: the bill is 200 yen less
    db.session.commit()

    notification = Notification(
        "evt-late", PaymentMethod.CONVENIENCE_STORE, slip.payment_number, slip.amount, NOW
    )
    assert _receive(notification) == PaymentOutcome.FLAGGED
    db.session.refresh(bill)
    assert bill.status == BillStatus.AWAITING_PAYMENT


def test_a_card_payment_after_the_store_paid_refuses_before_charging(customer, server):
    """Out of order: the store's notification came first; the card form is refused."""
    bill = _bill(customer, server, method=PaymentMethod.CONVENIENCE_STORE)
    slip = issue_store_payment(bill, TODAY)
    db.session.commit()
    _receive(
        Notification(
            "evt-s", PaymentMethod.CONVENIENCE_STORE, slip.payment_number, slip.amount, NOW
        )
    )
    with pytest.raises(DomainError, match="お支払済み"):
        change_payment_method(bill, PaymentMethod.CARD)
    assert _count(Payment) == 1


def test_no_store_number_after_the_due_date(customer, server):
    bill = _bill(customer, server, method=PaymentMethod.CONVENIENCE_STORE)
    with pytest.raises(DomainError, match="お支払期限日を過ぎている"):
        issue_store_payment(bill, bill.due_date + timedelta(days=1))
