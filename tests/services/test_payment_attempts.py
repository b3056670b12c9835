"""Payment attempts: money that leaves through the gateway is written down before it moves, the
gateway is asked by the attempt's key what became of it, and nothing is ever charged twice."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from panel.extensions import db
from panel.gateways import CardDetails, ChargeStatus, GatewayUnavailable, payment_gateway
from panel.gateways.sandbox import AUTHENTICATED_CARD, DECLINED_CARD, FAILS_AUTHENTICATION_CARD
from panel.models import Contract, Payment, PaymentAttempt, SandboxCharge
from panel.models.bills import BillStatus, PaymentMethod
from panel.models.payments import AttemptState
from panel.refusals import DomainError
from panel.services import payments
from panel.services.audit import Client
from panel.services.billing import cancel_bill, change_payment_method
from panel.services.payments import (
    IN_FLIGHT,
    PaymentOutcome,
    complete_card_authentication,
    complete_paypal_payment,
    pay_by_card,
    reconcile_attempts,
    start_paypal_payment,
)
from tests import factories

TODAY = date(2026, 11, 21)
NOW = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
CLIENT = Client(ip_address="203.0.113.9", user_agent="pytest")
VISA = "4242424242424242"


@pytest.fixture
def request_context(app):
    """The sandbox's 3-D Secure answers name its challenge page by URL."""
    with app.test_request_context():
        yield


@pytest.fixture
def server():
    customer = factories.customer()
    return factories.server(customer, "taro.jp", factories.plan(), date(2026, 11, 30))


def _bill(server, method=PaymentMethod.CARD):
    return factories.renewal_bill(server.customer, server, method=method, today=TODAY)


def _card(number=VISA) -> CardDetails:
    return CardDetails(number, 12, 2030, "123")


def _pay(bill, number=VISA, now=NOW):
    settlement = pay_by_card(bill, _card(number), "/return", TODAY, now, CLIENT)
    db.session.commit()
    return settlement


def _count(model, *where) -> int:
    db.session.rollback()  # see what was committed
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _attempts(bill) -> list[tuple[int, str, str]]:
    db.session.rollback()
    return [
        (attempt.sequence, attempt.state, attempt.idempotency_key)
        for attempt in db.session.scalars(
            select(PaymentAttempt)
            .where(PaymentAttempt.bill_id == bill.id)
            .order_by(PaymentAttempt.sequence)
        )
    ]


def test_the_attempt_is_committed_before_the_gateway_is_called(server, monkeypatch):
    bill = _bill(server)
    seen = []
    charge_card = payment_gateway().charge_card

    def charge_while_looking(token, amount, order_ref, key, return_url):
        # Another connection, as an operator's query would: the attempt is already there.
        with db.engine.connect() as connection:
            seen.append(
                connection.execute(
                    select(PaymentAttempt.state, PaymentAttempt.amount).where(
                        PaymentAttempt.idempotency_key == key
                    )
                ).one()
            )
        return charge_card(token, amount, order_ref, key, return_url)

    monkeypatch.setattr(payment_gateway(), "charge_card", charge_while_looking)
    assert _pay(bill).outcome == PaymentOutcome.APPLIED
    assert seen == [(AttemptState.PENDING, bill.total)]
    assert _attempts(bill) == [(1, AttemptState.SUCCEEDED, f"{bill.bill_no}/1")]


def test_a_declined_card_records_a_failed_attempt_and_the_next_one_can_pay(server):
    bill = _bill(server)
    with pytest.raises(DomainError, match="承認されませんでした") as refusal:
        _pay(bill, DECLINED_CARD)
    assert refusal.value.keeps_record
    db.session.commit()  # what the request's unit of work does with such a refusal
    assert _attempts(bill) == [(1, AttemptState.FAILED, f"{bill.bill_no}/1")]
    assert _count(Payment) == 0

    assert _pay(bill).outcome == PaymentOutcome.APPLIED
    assert [state for _, state, _ in _attempts(bill)] == [
        AttemptState.FAILED,
        AttemptState.SUCCEEDED,
    ]


def _crash_after_the_charge(monkeypatch):
    """The process dies after the gateway took the money and before the panel recorded it:
    the request's second transaction never commits."""

    def crash(*args):
        raise SystemExit("killed")

    monkeypatch.setattr(payments, "_record_outcome", crash)


def _pay_and_crash(bill, monkeypatch) -> None:
    with monkeypatch.context() as patched:
        _crash_after_the_charge(patched)
        with pytest.raises(SystemExit):
            pay_by_card(bill, _card(), "/return", TODAY, NOW, CLIENT)
        db.session.rollback()


def test_a_charge_lost_in_a_crash_is_found_by_its_key_and_never_charged_again(server, monkeypatch):
    bill = _bill(server)
    _pay_and_crash(bill, monkeypatch)
    assert _attempts(bill) == [(1, AttemptState.PENDING, f"{bill.bill_no}/1")]
    assert _count(SandboxCharge) == 1  # the provider took the money
    assert _count(Payment) == 0

    # Paying again at once: the first attempt may still be in flight, so nothing is charged.
    with pytest.raises(DomainError, match="お支払の処理中です"):
        _pay(bill, now=NOW + timedelta(seconds=5))
    db.session.rollback()

    # Later: the lost attempt is settled by its key, not charged again.
    settlement = _pay(bill, now=NOW + IN_FLIGHT + timedelta(seconds=1))
    assert settlement.outcome == PaymentOutcome.DUPLICATE
    assert _attempts(bill) == [(1, AttemptState.SUCCEEDED, f"{bill.bill_no}/1")]
    assert _count(SandboxCharge) == 1
    assert _count(Payment) == 1
    assert db.session.get(Contract, server.id).renewal_date == date(2027, 11, 30)


def test_reconcile_applies_a_lost_charge_once(server, monkeypatch):
    bill = _bill(server)
    _pay_and_crash(bill, monkeypatch)

    assert reconcile_attempts(NOW + timedelta(seconds=5)) == {"applied": 0, "closed": 0}
    later = NOW + IN_FLIGHT
    assert reconcile_attempts(later) == {"applied": 1, "closed": 0}
    assert reconcile_attempts(later) == {"applied": 0, "closed": 0}  # again: nothing left
    assert _count(Payment) == 1
    db.session.refresh(bill)
    assert bill.status == BillStatus.PAID
    assert db.session.get(Contract, server.id).renewal_date == date(2027, 11, 30)


def test_reconcile_closes_an_attempt_the_gateway_never_got_and_spends_its_key(server, monkeypatch):
    bill = _bill(server)
    gateway = payment_gateway()
    with monkeypatch.context() as patched:
        patched.setattr(gateway, "charge_card", lambda *args: (_ for _ in ()).throw(SystemExit))
        with pytest.raises(SystemExit):
            pay_by_card(bill, _card(), "/return", TODAY, NOW, CLIENT)
        db.session.rollback()

    assert reconcile_attempts(NOW + IN_FLIGHT) == {"applied": 0, "closed": 1}
    assert _attempts(bill) == [(1, AttemptState.EXPIRED, f"{bill.bill_no}/1")]
    # A charge with that key arriving late (the lost request, say) can no longer take money.
    token = gateway.tokenise_card(_card(), TODAY).token
    late = gateway.charge_card(token, bill.total, bill.bill_no, f"{bill.bill_no}/1", "/return")
    assert late.status == ChargeStatus.CANCELLED
    db.session.refresh(bill)
    assert bill.status == BillStatus.AWAITING_PAYMENT
    assert _pay(bill).outcome == PaymentOutcome.APPLIED  # the customer pays with attempt 2
    assert _count(Payment) == 1


def test_3d_secure_sends_the_cardholder_to_authenticate_and_the_return_pays_once(
    server, request_context
):
    bill = _bill(server)
    settlement = _pay(bill, AUTHENTICATED_CARD)
    assert settlement.outcome == PaymentOutcome.AUTHENTICATION_REQUIRED
    assert settlement.action_url.startswith("/sandbox/3ds/")
    assert _attempts(bill) == [(1, AttemptState.REQUIRES_ACTION, f"{bill.bill_no}/1")]
    assert _count(Payment) == 0

    challenge = settlement.action_url.rsplit("/", 1)[1]
    assert payment_gateway().complete_challenge(challenge, authenticated=True) == "/return"
    returned = complete_card_authentication(bill, NOW, CLIENT)
    db.session.commit()
    assert returned.outcome == PaymentOutcome.APPLIED
    reloaded = complete_card_authentication(bill, NOW, CLIENT)
    assert reloaded.outcome == PaymentOutcome.DUPLICATE
    assert _count(Payment) == 1
    assert _attempts(bill) == [(1, AttemptState.SUCCEEDED, f"{bill.bill_no}/1")]


def test_a_failed_authentication_leaves_the_bill_awaiting(server, request_context):
    bill = _bill(server)
    settlement = _pay(bill, FAILS_AUTHENTICATION_CARD)
    challenge = settlement.action_url.rsplit("/", 1)[1]
    payment_gateway().complete_challenge(challenge, authenticated=True)
    with pytest.raises(DomainError, match="本人認証"):
        complete_card_authentication(bill, NOW, CLIENT)
    db.session.commit()
    assert _attempts(bill) == [(1, AttemptState.FAILED, f"{bill.bill_no}/1")]
    db.session.refresh(bill)
    assert bill.status == BillStatus.AWAITING_PAYMENT
    assert _count(Payment) == 0


def test_an_abandoned_challenge_expires_and_can_never_be_completed(server, request_context):
    bill = _bill(server)
    challenge = _pay(bill, AUTHENTICATED_CARD).action_url.rsplit("/", 1)[1]

    assert reconcile_attempts(NOW + timedelta(minutes=29)) == {"applied": 0, "closed": 0}
    assert reconcile_attempts(NOW + timedelta(minutes=30)) == {"applied": 0, "closed": 1}
    assert _attempts(bill) == [(1, AttemptState.EXPIRED, f"{bill.bill_no}/1")]
    # The cardholder comes back to the challenge page too late: it is over, nothing is taken.
    assert payment_gateway().complete_challenge(challenge, authenticated=True) is None
    assert _count(SandboxCharge, SandboxCharge.status == ChargeStatus.SUCCEEDED) == 0
    db.session.refresh(bill)
    assert bill.status == BillStatus.AWAITING_PAYMENT


def test_paying_again_during_a_challenge_cancels_it_first(server, request_context):
    bill = _bill(server)
    challenge = _pay(bill, AUTHENTICATED_CARD).action_url.rsplit("/", 1)[1]
    assert _pay(bill).outcome == PaymentOutcome.APPLIED
    assert [state for _, state, _ in _attempts(bill)] == [
        AttemptState.EXPIRED,
        AttemptState.SUCCEEDED,
    ]
    assert payment_gateway().complete_challenge(challenge, authenticated=True) is None
    assert _count(SandboxCharge, SandboxCharge.status == ChargeStatus.SUCCEEDED) == 1


def test_no_cancellation_or_method_change_while_money_is_in_flight(server, monkeypatch):
    bill = _bill(server)
    _pay_and_crash(bill, monkeypatch)
    for change in (
        lambda: cancel_bill(bill, NOW, None, CLIENT),
        lambda: change_payment_method(bill, PaymentMethod.BANK_TRANSFER),
    ):
        with pytest.raises(DomainError, match="お支払の処理中"):
            change()
        db.session.rollback()


def test_a_paypal_capture_lost_in_a_crash_is_captured_once_on_the_next_return(
    app, server, monkeypatch
):
    bill = _bill(server, PaymentMethod.PAYPAL)
    gateway = payment_gateway()
    with app.test_request_context():
        approval_url = start_paypal_payment(bill, "/r", "/c", TODAY)
    order = gateway.read_paypal_order(approval_url.split("order=", 1)[1])
    approval = gateway.approve_paypal_order(order).split("approval=", 1)[1]
    with monkeypatch.context() as patched:
        _crash_after_the_charge(patched)
        with pytest.raises(SystemExit):
            complete_paypal_payment(bill, approval, NOW, CLIENT)
        db.session.rollback()

    # The customer reloads the return page: the same attempt, asked again by the same key.
    assert complete_paypal_payment(bill, approval, NOW, CLIENT).outcome == PaymentOutcome.APPLIED
    db.session.commit()
    assert _attempts(bill) == [(1, AttemptState.SUCCEEDED, f"{bill.bill_no}/1")]
    assert _count(SandboxCharge) == 1
    assert _count(Payment) == 1


def test_a_provider_that_does_not_answer_leaves_the_attempt_to_be_asked_about(server, monkeypatch):
    """A timeout says nothing of the money: the customer is told so, and the attempt stays
    pending until the provider is asked by its key (here: it never got the charge)."""
    bill = _bill(server)

    def no_answer(*args):
        raise GatewayUnavailable("timed out")

    with monkeypatch.context() as patched:
        patched.setattr(payment_gateway(), "charge_card", no_answer)
        with pytest.raises(DomainError, match="二重に請求されることはありません") as refusal:
            _pay(bill)
    assert refusal.value.keeps_record
    assert _attempts(bill) == [(1, AttemptState.PENDING, f"{bill.bill_no}/1")]
    assert reconcile_attempts(NOW + IN_FLIGHT) == {"applied": 0, "closed": 1}
    assert _pay(bill, now=NOW + IN_FLIGHT).outcome == PaymentOutcome.APPLIED
