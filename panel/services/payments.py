"""Payments (お支払): paying a bill through the gateway, and applying the money that arrives.

`apply_payment` is the one place a bill becomes paid. Every path ends there: a card charge, a
PayPal return, a bank or convenience-store notification, and staff confirming receipt or
applying flagged money to another bill (`services/staff/money.py`).
"""

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import TypeVar

from sqlalchemy import func, or_, select

from panel.database import dialect_insert
from panel.dates import today_in_japan
from panel.extensions import db
from panel.gateways import (
    CardDetails,
    CardToken,
    Charge,
    ChargeOutcome,
    ChargeStatus,
    GatewayUnavailable,
    Notification,
    PaymentRefused,
    payment_gateway,
)
from panel.models import Bill, BillLine, Contract, Payment, PaymentAttempt, StorePayment
from panel.models.balance import LedgerKind
from panel.models.bills import BillKind, BillLineKind, BillStatus, PaymentMethod
from panel.models.payments import UNSETTLED_ATTEMPT_STATES, AttemptState
from panel.refusals import DomainError
from panel.services.audit import Client, record_event
from panel.services.balance import (
    credit_paid_bill,
    debit,
    lock_account,
    payable_from_balance,
)
from panel.services.billing import (
    LineDraft,
    bill_no_of_transfer,
    change_bill_status,
    lock_awaiting_bill,
    lock_bill,
    queue_payment_mail,
    refuse_past_due,
    set_payment_method,
)

Result = TypeVar("Result")


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
    #: what the staff member who confirmed the money noted (staff confirmations only)
    staff_note: str | None = None


class PaymentOutcome(StrEnum):
    APPLIED = "applied"  #: the money paid the bill
    DUPLICATE = "duplicate"  #: the event was already recorded; nothing changed
    FLAGGED = "flagged"  #: recorded, but it could not pay its bill: staff settle it
    AUTHENTICATION_REQUIRED = "authentication_required"  #: the cardholder must authenticate


@dataclass(frozen=True)
class Settlement:
    """What became of a payment the customer made: its outcome, and for 3-D Secure where the
    cardholder authenticates."""

    outcome: PaymentOutcome
    action_url: str | None = None


def _review_reason(bill: Bill | None, amount: int, received_on: date) -> str | None:
    if bill is None:
        return "該当するご請求が見つかりません"
    if bill.status == BillStatus.PAID:
        return "すでにお支払済みのご請求への入金です"
    if bill.status == BillStatus.CANCELLED:
        return "取り消されたご請求への入金です"
    if amount != bill.total:
        return f"ご請求金額({bill.total:,}円)と入金額が一致しません"
    # A month-end bill is never cancelled (what it bills was used already): money for it is
    # welcome late too. Any other bill past its due date is cancelled, or about to be.
    if received_on > bill.due_date and bill.kind != BillKind.MONTH_END:
        return "お支払期限日を過ぎた入金です"
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
            staff_note=money.staff_note,
        )
        .on_conflict_do_nothing(index_elements=[table.c.provider, table.c.provider_event_id])
        .returning(table.c.id)
    )
    return db.session.execute(statement).scalar_one_or_none()


def extend_contracts(bill_lines: Sequence[BillLine | LineDraft]) -> None:
    """Each contract renewed by the lines (a paid bill's, or a purchase on account's) gets the
    renewal date and plan fixed on its line; a renewal date never moves back, and a trial's
    first paid renewal ends the trial."""
    lines = [line for line in bill_lines if line.kind == BillLineKind.RENEWAL]
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
        assert line.contract_id is not None and line.new_renewal_date is not None, (
            "a renewal line names its contract and the renewal date it brings"
        )
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
    reason = _review_reason(bill, money.amount, today_in_japan(money.received_at))
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
    assert bill is not None, "money that matched no bill is flagged above"
    change_bill_status(bill, BillStatus.PAID, now)
    extend_contracts(bill.lines)
    credit_paid_bill(bill, now)
    queue_payment_mail(bill)
    record_event(
        "payment_applied",
        client,
        customer=bill.customer,
        detail=f"請求No.{bill.bill_no} {detail}",
        at=now,
    )
    return PaymentOutcome.APPLIED


def _apply_charge(bill: Bill, charge: Charge, method: str, now: datetime, client: Client):
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


# Payment attempts: money that leaves through the gateway is written down before it moves.
#
# 1. Under the bill's lock, a `PaymentAttempt` with a stable idempotency key is written and
#    committed (no attempt while another one of the bill is unsettled).
# 2. The gateway is called with no transaction open, so no lock is held while it takes its time.
# 3. Its answer is recorded in a second transaction: the payment applied, the attempt failed,
#    or waiting for the cardholder (3-D Secure).
# A crash between 2 and 3 leaves the attempt pending; it is settled by asking the gateway what
# became of its key (`reconcile_attempts`, or the customer's next try), never by charging again.

#: A pending attempt younger than this may still be waiting for the gateway's answer (which
#: times out well before); an older one is lost, and is settled by asking the gateway.
IN_FLIGHT = timedelta(seconds=30)
#: A 3-D Secure challenge left open this long is abandoned: it is cancelled at the gateway.
CHALLENGE_TIMEOUT = timedelta(minutes=30)

PAYMENT_IN_PROGRESS = "お支払の処理中です。しばらくしてからページを開き直し、結果をご確認ください。"
RESULT_UNKNOWN = (
    "決済代行会社から応答がなく、お支払の結果を確認できませんでした。"
    "二重に請求されることはありません。しばらくしてからページを開き直し、結果をご確認ください。"
)


def _call_gateway(call: Callable[..., Result], *args) -> Result:
    """Call the gateway with no transaction open: what was written before is committed (the
    attempt, above all), and no lock is held while the provider answers. The arguments are
    plain values, read before the commit."""
    db.session.commit()
    try:
        return call(*args)
    except GatewayUnavailable:
        raise DomainError(RESULT_UNKNOWN, keeps_record=True) from None


def unsettled_attempt(bill: Bill) -> PaymentAttempt | None:
    """The bill's attempt whose outcome is still open, if any (there is at most one)."""
    return db.session.scalar(
        select(PaymentAttempt).where(
            PaymentAttempt.bill_id == bill.id,
            PaymentAttempt.state.in_(UNSETTLED_ATTEMPT_STATES),
        )
    )


def _start_attempt(
    bill: Bill,
    method: PaymentMethod,
    now: datetime,
    order_id: str | None = None,
    idempotency_key: str | None = None,
) -> int:
    """Write the attempt to pay `bill` by `method` (under the bill's lock) and return its ID.
    Its idempotency key is the bill's No. and the attempt's number, unless the caller fixes one
    by what is paid (auto-renewal: the customer and the renewal date)."""
    lock_awaiting_bill(bill)
    _require_method(bill, method)
    refuse_past_due(bill, today_in_japan(now))
    if unsettled_attempt(bill) is not None:
        raise DomainError(PAYMENT_IN_PROGRESS)
    sequence = 1 + (
        db.session.scalar(
            select(func.max(PaymentAttempt.sequence)).where(PaymentAttempt.bill_id == bill.id)
        )
        or 0
    )
    attempt = PaymentAttempt(
        bill=bill,
        sequence=sequence,
        method=method,
        amount=bill.total,
        idempotency_key=idempotency_key or f"{bill.bill_no}/{sequence}",
        provider_order_id=order_id,
        created_at=now,
    )
    db.session.add(attempt)
    db.session.flush()
    return attempt.id


def _record_outcome(
    attempt_id: int, outcome: ChargeOutcome, now: datetime, client: Client
) -> Settlement:
    """What the gateway answered for an attempt, recorded under the bill's lock: the payment
    applied (once, whoever records it first), the attempt failed or expired, or waiting for the
    cardholder. A decline is a refusal that keeps its record."""
    attempt = db.session.get_one(PaymentAttempt, attempt_id)
    lock_bill(attempt.bill)
    db.session.refresh(attempt)
    status = outcome.status
    if status == ChargeStatus.SUCCEEDED:
        assert outcome.charge is not None, "a charge that succeeded took money"
        applied = _apply_charge(attempt.bill, outcome.charge, attempt.method, now, client)
        attempt.state, attempt.settled_at, attempt.action_url = AttemptState.SUCCEEDED, now, None
        return Settlement(applied)
    if status == ChargeStatus.REQUIRES_ACTION:
        if attempt.state == AttemptState.PENDING:
            attempt.state, attempt.action_url = AttemptState.REQUIRES_ACTION, outcome.action_url
        return Settlement(PaymentOutcome.AUTHENTICATION_REQUIRED, attempt.action_url)
    reason = outcome.decline_reason or "お支払は完了しませんでした。"
    if attempt.is_unsettled:
        attempt.state = (
            AttemptState.FAILED if status == ChargeStatus.DECLINED else AttemptState.EXPIRED
        )
        attempt.failure_reason, attempt.settled_at, attempt.action_url = reason, now, None
    raise DomainError(reason, field="number", keeps_record=True)


def settle_lost_attempt(bill: Bill, now: datetime, client: Client) -> None:
    """Before a new attempt: an earlier one that is no longer in flight (lost in a crash, or a
    3-D Secure challenge the customer left) is settled by making sure at the gateway that it
    never completes, or by applying it if it already did. One still in flight is waited for."""
    attempt = unsettled_attempt(bill)
    if attempt is None:
        return
    if attempt.state == AttemptState.PENDING and now - attempt.created_at < IN_FLIGHT:
        raise DomainError(PAYMENT_IN_PROGRESS)
    attempt_id, key = attempt.id, attempt.idempotency_key
    outcome = _call_gateway(payment_gateway().cancel_charge, key)
    # Failed or cancelled: nothing was taken, and the new attempt goes ahead.
    with contextlib.suppress(DomainError):
        _record_outcome(attempt_id, outcome, now, client)
    db.session.refresh(bill)


def pay_by_card(
    bill: Bill,
    card: CardDetails,
    return_url: str,
    today: date,
    now: datetime,
    client: Client,
) -> Settlement:
    """Charge the card through the gateway and apply the payment at once; or, when the card
    company asks for 3-D Secure, send the cardholder to authenticate (`action_url`) and come
    back to `return_url`, where `complete_card_authentication` takes over."""
    gateway = payment_gateway()
    token = gateway.tokenise_card(card, today)  # checks the card; no money moves
    lock_awaiting_bill(bill)
    _require_method(bill, PaymentMethod.CARD)
    settle_lost_attempt(bill, now, client)
    if bill.status == BillStatus.PAID:
        return Settlement(PaymentOutcome.DUPLICATE)
    attempt_id = _start_attempt(bill, PaymentMethod.CARD, now)
    attempt = db.session.get_one(PaymentAttempt, attempt_id)
    outcome = _call_gateway(
        gateway.charge_card,
        token.token,
        attempt.amount,
        bill.bill_no,
        attempt.idempotency_key,
        return_url,
    )
    return _record_outcome(attempt_id, outcome, now, client)


def pay_by_saved_card(
    bill: Bill, card_token: str, idempotency_key: str, today: date, now: datetime, client: Client
) -> Settlement:
    """Charge a card saved at the gateway for a payment the merchant starts (auto-renewal): no
    cardholder, no 3-D Secure. The idempotency key is the caller's, fixed by what is paid, so
    the same payment can never be charged twice. Declined: a refusal that keeps its record
    (the attempt failed, with the gateway's reason)."""
    gateway = payment_gateway()
    attempt_id = _start_attempt(bill, PaymentMethod.CARD, now, idempotency_key=idempotency_key)
    attempt = db.session.get_one(PaymentAttempt, attempt_id)
    try:
        outcome = _call_gateway(
            gateway.charge_saved_card,
            card_token,
            attempt.amount,
            bill.bill_no,
            attempt.idempotency_key,
            today,
        )
    except PaymentRefused as refusal:  # a token the gateway no longer knows: nothing was taken
        outcome = ChargeOutcome(ChargeStatus.DECLINED, decline_reason=refusal.message)
    return _record_outcome(attempt_id, outcome, now, client)


#: The "provider" of money paid from the account balance: the panel's own ledger.
BALANCE_PROVIDER = "balance"


def _purchase_description(bill: Bill) -> str:
    items = bill.item_lines
    what = items[0].description if items else ""
    more = f" ほか{len(items) - 1}件" if len(items) > 1 else ""
    return f"お支払 請求No.{bill.bill_no}({what}{more})"


def pay_from_balance(
    bill: Bill, now: datetime, client: Client, today: date | None = None
) -> PaymentOutcome:
    """Pay `bill` from the account balance, at once: the balance debited once for the bill
    (down to minus the credit limit, never further), the bill paid through `apply_payment`
    like any payment (contracts extended, the お支払確認 e-mail). Refused, with nothing
    changed, when 現在利用できる金額 does not cover the bill.

    The account is locked before the bill, so payments from one balance queue up and each
    sees what the one before took. A card payment of the bill still in flight is waited for;
    one lost (or a 3-D Secure challenge left open) is first made sure never to complete.
    `today` is the Japan date the payment is for (default: `now`'s; the daily job's day)."""
    if not payable_from_balance(bill):
        raise DomainError("このご請求はアカウント残高ではお支払いいただけません。")
    settle_lost_attempt(bill, now, client)
    customer = lock_account(bill.customer)
    lock_awaiting_bill(bill)
    if unsettled_attempt(bill) is not None:
        raise DomainError(PAYMENT_IN_PROGRESS)
    refuse_past_due(bill, today or today_in_japan(now))
    set_payment_method(bill, PaymentMethod.BALANCE)
    db.session.flush()
    debit(
        customer,
        kind=LedgerKind.PURCHASE,
        cause=f"bill:{bill.bill_no}",
        amount=bill.total,
        description=_purchase_description(bill),
        now=now,
        bill=bill,
    )
    money = ReceivedMoney(
        provider=BALANCE_PROVIDER,
        event_id=f"bill:{bill.bill_no}",
        method=PaymentMethod.BALANCE,
        amount=bill.total,
        received_at=now,
        reference=bill.bill_no,
    )
    return apply_payment(bill, money, now, client)


def direct_debit_key(bill: Bill) -> str:
    """The idempotency key of a bill's collection by direct debit: a bill is collected once."""
    return f"debit-{bill.bill_no}"


def pay_by_direct_debit(
    bill: Bill, account_token: str, today: date, now: datetime, client: Client
) -> Settlement:
    """Collect the bill from the bank account registered for direct debit (口座振替), as the
    daily job does on the due date: no customer present. The idempotency key is fixed by the
    bill, so no run, repeated or concurrent, collects it twice. Declined (残高不足, say): a
    refusal that keeps its record (the attempt failed, with the bank's reason)."""
    gateway = payment_gateway()
    key = direct_debit_key(bill)
    attempt_id = _start_attempt(bill, PaymentMethod.DIRECT_DEBIT, now, idempotency_key=key)
    attempt = db.session.get_one(PaymentAttempt, attempt_id)
    try:
        outcome = _call_gateway(
            gateway.collect_direct_debit,
            account_token,
            attempt.amount,
            bill.bill_no,
            attempt.idempotency_key,
            today,
        )
    except PaymentRefused as refusal:  # an account the gateway no longer knows: nothing taken
        outcome = ChargeOutcome(ChargeStatus.DECLINED, decline_reason=refusal.message)
    return _record_outcome(attempt_id, outcome, now, client)


def _latest_attempt(bill: Bill, method: PaymentMethod) -> PaymentAttempt | None:
    return db.session.scalar(
        select(PaymentAttempt)
        .where(PaymentAttempt.bill_id == bill.id, PaymentAttempt.method == method)
        .order_by(PaymentAttempt.sequence.desc())
        .limit(1)
    )


def _settled_result(attempt: PaymentAttempt) -> Settlement:
    """What an attempt that is already settled amounts to, when its return is loaded again."""
    if attempt.state == AttemptState.SUCCEEDED:
        return Settlement(PaymentOutcome.DUPLICATE)
    raise DomainError(attempt.failure_reason or "お支払は完了しませんでした。")


def complete_card_authentication(bill: Bill, now: datetime, client: Client) -> Settlement:
    """The cardholder is back from the 3-D Secure challenge: ask the gateway what became of
    the charge and record it. Coming back twice (a reload) applies nothing twice."""
    attempt = _latest_attempt(bill, PaymentMethod.CARD)
    if attempt is None:
        raise DomainError("お支払の手続きが見つかりません。もう一度お手続きください。")
    if not attempt.is_unsettled:
        return _settled_result(attempt)
    attempt_id, key = attempt.id, attempt.idempotency_key
    outcome = _call_gateway(payment_gateway().charge_outcome, key)
    return _record_outcome(attempt_id, outcome, now, client)


def start_paypal_payment(bill: Bill, return_url: str, cancel_url: str, today: date) -> str:
    """Where to send the customer to approve the PayPal payment of `bill` (no money moves
    until the customer is back and it is captured)."""
    lock_awaiting_bill(bill)
    _require_method(bill, PaymentMethod.PAYPAL)
    refuse_past_due(bill, today)
    return payment_gateway().paypal_approval_url(bill.total, bill.bill_no, return_url, cancel_url)


def complete_paypal_payment(bill: Bill, approval: str, now: datetime, client: Client) -> Settlement:
    """The customer is back from PayPal: capture the approved order and apply it. The order's
    attempt is found again on a reload, and its capture is asked for again by the same key,
    so an order is captured once."""
    gateway = payment_gateway()
    order_id = gateway.paypal_order_id(approval)
    attempt = db.session.scalar(
        select(PaymentAttempt).where(
            PaymentAttempt.bill_id == bill.id, PaymentAttempt.provider_order_id == order_id
        )
    )
    if attempt is not None and not attempt.is_unsettled:
        return _settled_result(attempt)
    attempt_id = (
        attempt.id if attempt else _start_attempt(bill, PaymentMethod.PAYPAL, now, order_id)
    )
    attempt = db.session.get_one(PaymentAttempt, attempt_id)
    outcome = _call_gateway(
        gateway.capture_paypal, approval, attempt.amount, bill.bill_no, attempt.idempotency_key
    )
    return _record_outcome(attempt_id, outcome, now, client)


def reconcile_attempts(now: datetime, in_flight: timedelta = IN_FLIGHT) -> dict[str, int]:
    """Settle the attempts a crash or an abandoned challenge left open: pending ones older than
    `in_flight`, challenges older than `CHALLENGE_TIMEOUT`. Each is made sure of at the gateway
    by its key: applied if the money was taken, otherwise cancelled there so it never is. One
    attempt per transaction; how many were applied and how many closed without money."""
    client = Client(ip_address=None, user_agent="payments reconcile")
    counts = {"applied": 0, "closed": 0}
    candidates = db.session.execute(
        select(PaymentAttempt.id, PaymentAttempt.idempotency_key)
        .where(
            or_(
                (PaymentAttempt.state == AttemptState.PENDING)
                & (PaymentAttempt.created_at <= now - in_flight),
                (PaymentAttempt.state == AttemptState.REQUIRES_ACTION)
                & (PaymentAttempt.created_at <= now - CHALLENGE_TIMEOUT),
            )
        )
        .order_by(PaymentAttempt.id)
    ).all()
    for attempt_id, key in candidates:
        outcome = _call_gateway(payment_gateway().cancel_charge, key)
        try:
            settlement = _record_outcome(attempt_id, outcome, now, client)
        except DomainError:  # declined, or cancelled before any money was taken
            settlement = None
        db.session.commit()
        if settlement is None:
            counts["closed"] += 1
        elif settlement.outcome != PaymentOutcome.AUTHENTICATION_REQUIRED:
            counts["applied"] += 1
    return counts


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
