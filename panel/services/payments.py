"""Payments (お支払): paying a bill through the gateway, and applying the money that arrives.

`apply_payment` is the one place a bill becomes paid. Every path ends there: a card charge, a
PayPal return, a bank or convenience-store notification, and (later) staff confirming receipt.
"""

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import select, update

from panel.database import dialect_insert
from panel.extensions import db
from panel.gateways import CardDetails, CardToken, Charge, Notification, payment_gateway
from panel.models import Bill, Contract, Payment, StorePayment
from panel.models.bills import BillLineKind, BillStatus, PaymentMethod
from panel.services.audit import Client, record_event
from panel.services.billing import (
    bill_no_of_transfer,
    lock_awaiting_bill,
    lock_bill,
    queue_payment_mail,
)
from panel.services.errors import DomainError


@dataclass(frozen=True)
class ReceivedMoney:
    """Money a provider reports, as one event."""

    provider: str
    event_id: str
    method: str
    amount: int
    received_at: datetime
    reference: str | None = None
    payer_name: str | None = None
    card: CardToken | None = None


class PaymentOutcome(StrEnum):
    APPLIED = "applied"  #: the money paid the bill
    DUPLICATE = "duplicate"  #: the event was already recorded; nothing changed
    FLAGGED = "flagged"  #: recorded, but it could not pay its bill: staff settle it


def _review_reason(bill: Bill | None, amount: int) -> str | None:
    if bill is None:
        return "該当するご請求が見つかりません"
    if bill.status == BillStatus.PAID:
        return "すでにお支払済みのご請求への入金です"
    if bill.status == BillStatus.CANCELLED:
        return "取り消されたご請求への入金です"
    if amount != bill.total:
        return f"ご請求金額({bill.total:,}円)と入金額が一致しません"
    return None


def _record(
    bill: Bill | None, money: ReceivedMoney, review_reason: str | None, now: datetime
) -> int | None:
    """Insert the payment unless its event is already recorded; its ID, or None if it was."""
    table = Payment.__table__
    card = money.card
    statement = (
        dialect_insert(table)
        .values(
            provider=money.provider,
            provider_event_id=money.event_id,
            bill_id=bill.id if bill else None,
            method=money.method,
            amount=money.amount,
            reference=money.reference,
            payer_name=money.payer_name,
            card_brand=card.brand if card else None,
            card_last4=card.last4 if card else None,
            card_expiry=card.expiry if card else None,
            received_at=money.received_at,
            recorded_at=now,
            applied_to_bill=review_reason is None,
            review_reason=review_reason,
        )
        .on_conflict_do_nothing(index_elements=[table.c.provider, table.c.provider_event_id])
        .returning(table.c.id)
    )
    return db.session.execute(statement).scalar_one_or_none()


def _extend_contracts(bill: Bill) -> None:
    """Each contract on the bill gets the renewal date and plan fixed on its line; a renewal
    date never moves back, and a trial's first paid renewal ends the trial."""
    lines = [line for line in bill.lines if line.kind == BillLineKind.RENEWAL]
    contracts = {
        contract.id: contract
        for contract in db.session.scalars(
            select(Contract)
            .where(Contract.id.in_([line.contract_id for line in lines]))
            .order_by(Contract.id)
            .with_for_update()
        )
    }
    for line in lines:
        contract = contracts[line.contract_id]
        contract.renewal_date = max(contract.renewal_date, line.new_renewal_date)
        contract.is_trial = False
        if line.target_plan_id is not None:
            contract.plan_id = line.target_plan_id


def apply_payment(
    bill: Bill | None, money: ReceivedMoney, now: datetime, client: Client
) -> PaymentOutcome:
    """Apply money to `bill` (None: its reference matched no bill), all in the caller's
    transaction: the payment recorded once per provider event, the bill paid exactly once, its
    contracts extended and plans changed, the payment e-mail queued, the event audited.

    The same event again changes nothing. Money that cannot pay the bill (already paid,
    cancelled, another amount) is recorded and flagged for staff, never lost."""
    if bill is not None:
        # Deliveries of one bill's money queue here (PostgreSQL) and see each other's result.
        lock_bill(bill)
    reason = _review_reason(bill, money.amount)
    if _record(bill, money, reason, now) is None:
        return PaymentOutcome.DUPLICATE
    detail = f"{money.method} {money.amount}円 ({money.provider} {money.event_id})"
    if reason is not None:
        record_event(
            "payment_flagged",
            client,
            customer=bill.customer if bill else None,
            detail=f"{reason}: {detail}, 参照 {money.reference}",
            at=now,
        )
        return PaymentOutcome.FLAGGED
    paid = db.session.execute(
        update(Bill)
        .where(Bill.id == bill.id, Bill.status == BillStatus.AWAITING_PAYMENT)
        .values(status=BillStatus.PAID, paid_at=now)
    ).rowcount
    if paid != 1:  # only reachable without row locks (SQLite): the database decides
        raise DomainError("このご請求はすでにお支払済みか、取り消されています。")
    db.session.refresh(bill)
    _extend_contracts(bill)
    queue_payment_mail(bill)
    record_event(
        "payment_applied",
        client,
        customer=bill.customer,
        detail=f"請求No.{bill.bill_no} {detail}",
        at=now,
    )
    return PaymentOutcome.APPLIED


def _apply_charge(
    bill: Bill, charge: Charge, method: PaymentMethod, now: datetime, client: Client
) -> PaymentOutcome:
    """Money the gateway took at once (card, PayPal), applied to the bill it was taken for."""
    money = ReceivedMoney(
        provider=payment_gateway().name,
        event_id=charge.event_id,
        method=method,
        amount=charge.amount,
        received_at=now,
        reference=bill.bill_no,
        card=charge.card,
    )
    return apply_payment(bill, money, now, client)


def _require_method(bill: Bill, method: PaymentMethod) -> None:
    if bill.payment_method != method:
        raise DomainError("お支払方法が変更されています。ページを開き直してからお手続きください。")


def pay_by_card(
    bill: Bill,
    card: CardDetails,
    idempotency_key: str,
    today: date,
    now: datetime,
    client: Client,
) -> PaymentOutcome:
    """Charge the card through the gateway and apply the payment at once.

    The bill is locked before the charge, so a cancellation or a second payment waits and then
    finds the bill paid; the idempotency key makes a resubmitted form one charge."""
    lock_awaiting_bill(bill)
    _require_method(bill, PaymentMethod.CARD)
    gateway = payment_gateway()
    token = gateway.tokenise_card(card, today)
    charge = gateway.charge_card(token.token, bill.total, bill.bill_no, idempotency_key)
    return _apply_charge(bill, charge, PaymentMethod.CARD, now, client)


def start_paypal_payment(bill: Bill, return_url: str, cancel_url: str) -> str:
    """Where to send the customer to approve the PayPal payment of `bill`."""
    lock_awaiting_bill(bill)
    _require_method(bill, PaymentMethod.PAYPAL)
    return payment_gateway().paypal_approval_url(bill.total, bill.bill_no, return_url, cancel_url)


def complete_paypal_payment(
    bill: Bill, approval: str, now: datetime, client: Client
) -> PaymentOutcome:
    """The customer is back from PayPal: capture the approved payment and apply it. Coming
    back twice (a reload) captures once."""
    gateway = payment_gateway()
    paid_by_paypal = bill.status == BillStatus.PAID and db.session.scalar(
        select(Payment.id).where(
            Payment.bill_id == bill.id,
            Payment.provider == gateway.name,
            Payment.method == PaymentMethod.PAYPAL,
            Payment.applied_to_bill,
        )
    )
    if paid_by_paypal:  # a reload of the return page after the payment went through
        return PaymentOutcome.DUPLICATE
    lock_awaiting_bill(bill)
    _require_method(bill, PaymentMethod.PAYPAL)
    charge = gateway.capture_paypal(approval, bill.total, bill.bill_no)
    return _apply_charge(bill, charge, PaymentMethod.PAYPAL, now, client)


def issue_store_payment(bill: Bill, today: date) -> StorePayment:
    """The convenience-store payment number for `bill`: one per bill and amount, valid until
    the due date; asking again shows the same number."""
    lock_awaiting_bill(bill)
    _require_method(bill, PaymentMethod.CONVENIENCE_STORE)
    if bill.due_date < today:
        raise DomainError("お支払期限日を過ぎているため、お支払番号を発行できません。")
    issued = current_store_payment(bill, today)
    if issued is not None:
        return issued
    gateway = payment_gateway()
    slip = gateway.issue_store_payment(bill.total, bill.bill_no, bill.due_date)
    issued = StorePayment(
        bill=bill,
        provider=gateway.name,
        payment_number=slip.payment_number,
        amount=bill.total,
        expires_on=slip.expires_on,
    )
    db.session.add(issued)
    return issued


def current_store_payment(bill: Bill, today: date) -> StorePayment | None:
    """The payment number the customer can still use for `bill`, if one was issued."""
    return db.session.scalar(
        select(StorePayment)
        .where(
            StorePayment.bill_id == bill.id,
            StorePayment.amount == bill.total,
            StorePayment.expires_on >= today,
        )
        .order_by(StorePayment.id.desc())
        .limit(1)
    )


def _bill_for(notification: Notification, provider: str) -> Bill | None:
    if notification.method == PaymentMethod.CONVENIENCE_STORE:
        return db.session.scalar(
            select(Bill)
            .join(StorePayment, StorePayment.bill_id == Bill.id)
            .where(
                StorePayment.provider == provider,
                StorePayment.payment_number == notification.reference,
            )
        )
    return db.session.scalar(
        select(Bill).where(Bill.bill_no == bill_no_of_transfer(notification.reference))
    )


def receive_notification(
    notification: Notification, provider: str, now: datetime, client: Client
) -> PaymentOutcome:
    """A verified bank-transfer or convenience-store notification: find its bill by the
    reference the money came with, and apply it."""
    money = ReceivedMoney(
        provider=provider,
        event_id=notification.event_id,
        method=notification.method,
        amount=notification.amount,
        received_at=notification.received_at,
        reference=notification.reference,
        payer_name=notification.payer_name,
    )
    return apply_payment(_bill_for(notification, provider), money, now, client)
