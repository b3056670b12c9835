"""Money no gateway settles (経理 and 管理者): bank-transfer and convenience-store bills whose
receipt staff confirm, and flagged money (a second payment, money for a cancelled or overdue
bill, another amount, an unknown reference) that staff settle.

A confirmation pays the bill through `apply_payment`, exactly as a gateway notification does,
as one event of the provider "staff": `confirmation-<bill No.>-<n>`, where n is the bill's
n-th confirmation, fixed on the form when the page was shown. The same form sent twice, or by
two staff members looking at the same page, is one event: the bill is paid once.
"""

from dataclasses import dataclass
from datetime import date, datetime, time

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from panel.dates import JAPAN
from panel.extensions import db
from panel.filters import japanese_date, yen
from panel.models import (
    Bill,
    Customer,
    Payment,
    StaffMember,
    StorePayment,
    TransferNotice,
)
from panel.models.balance import LedgerKind
from panel.models.bills import BillStatus, PaymentMethod
from panel.models.payments import Resolution
from panel.refusals import DomainError
from panel.services.audit import Client, record_event
from panel.services.balance import credit
from panel.services.billing import (
    MAX_TRANSFER_AMOUNT,
    bill_no_of_transfer,
    lock_bill,
    refuse_past_due,
    refuse_unless_awaiting,
    transfer_reference,
)
from panel.services.payments import PaymentOutcome, ReceivedMoney, apply_payment
from panel.services.staff.accounts import CONFIRMS_PAYMENTS

#: The provider name of money staff confirmed or moved: its own namespace of event IDs.
STAFF_PROVIDER = "staff"
#: The methods whose money staff confirm (card and PayPal are confirmed by the gateway).
CONFIRMED_METHODS = (PaymentMethod.BANK_TRANSFER, PaymentMethod.CONVENIENCE_STORE)
PER_PAGE = 20
NOT_ALLOWED = "入金の確認と確認待ちの入金の処理は、経理または管理者が行えます。"


def _refuse_unless_accounting(staff: StaffMember) -> None:
    if staff.role not in CONFIRMS_PAYMENTS:
        raise DomainError(NOT_ALLOWED)


@dataclass(frozen=True)
class AwaitingBill:
    """A bill on the confirmation queue, with what the customer told and what was issued."""

    bill: Bill
    #: the customer's transfer notices (振込連絡), newest first
    notices: list[TransferNotice]
    #: the convenience-store payment number issued, if any
    store_payment: StorePayment | None
    #: the customer number a bank transfer carries (お客様番号)
    reference: str
    #: the number this bill's next confirmation is (the form carries it)
    confirmation: int


def _confirmations(bill_ids: list[int]) -> dict[int, int]:
    """How many confirmations each bill has had."""
    rows = db.session.execute(
        select(Payment.bill_id, func.count())
        .where(
            Payment.bill_id.in_(bill_ids),
            Payment.provider == STAFF_PROVIDER,
            Payment.provider_event_id.startswith("confirmation-"),
        )
        .group_by(Payment.bill_id)
    )
    return {bill_id: count for bill_id, count in rows}


def confirmation_queue(query: str | None, page: int) -> tuple[Pagination, list[AwaitingBill]]:
    """Bills awaiting a bank transfer or a convenience-store payment, the earliest due date
    first, each with its transfer notices; `query` narrows them to a bill No., a customer
    number (the bill No.'s digits, as the bank statement shows it) or a member ID."""
    statement = (
        select(Bill)
        .options(selectinload(Bill.lines), selectinload(Bill.customer))
        .where(
            Bill.status == BillStatus.AWAITING_PAYMENT,
            Bill.payment_method.in_(CONFIRMED_METHODS),
        )
        .order_by(Bill.due_date, Bill.id)
    )
    query = (query or "").strip()
    if query:
        member = select(Customer.id).where(Customer.member_id == query).scalar_subquery()
        statement = statement.where(
            or_(
                Bill.bill_no == query,
                Bill.bill_no == bill_no_of_transfer(query),
                Bill.customer_id == member,
            )
        )
    pagination = db.paginate(statement, page=page, per_page=PER_PAGE, error_out=False)
    bills: list[Bill] = list(pagination.items)
    ids = [bill.id for bill in bills]
    notices: dict[int, list[TransferNotice]] = {}
    for notice in db.session.scalars(
        select(TransferNotice)
        .where(TransferNotice.bill_id.in_(ids))
        .order_by(TransferNotice.created_at.desc(), TransferNotice.id.desc())
    ):
        notices.setdefault(notice.bill_id, []).append(notice)
    slips: dict[int, StorePayment] = {}
    for slip in db.session.scalars(
        select(StorePayment).where(StorePayment.bill_id.in_(ids)).order_by(StorePayment.id)
    ):
        slips[slip.bill_id] = slip  # the latest
    done = _confirmations(ids)
    rows = [
        AwaitingBill(
            bill=bill,
            notices=notices.get(bill.id, []),
            store_payment=slips.get(bill.id),
            reference=transfer_reference(bill),
            confirmation=done.get(bill.id, 0) + 1,
        )
        for bill in bills
    ]
    return pagination, rows


def next_confirmation(bill: Bill) -> int:
    return _confirmations([bill.id]).get(bill.id, 0) + 1


def _received_at(received_on: date, now: datetime, today: date) -> datetime:
    """When the money arrived: now for today; the start of that Japan day for an earlier one."""
    return now if received_on == today else datetime.combine(received_on, time(), tzinfo=JAPAN)


def _reference(bill: Bill) -> str:
    if bill.payment_method == PaymentMethod.CONVENIENCE_STORE:
        slip = db.session.scalar(
            select(StorePayment)
            .where(StorePayment.bill_id == bill.id)
            .order_by(StorePayment.id.desc())
            .limit(1)
        )
        if slip is not None:
            return slip.payment_number
    return transfer_reference(bill)


def confirm_receipt(
    bill: Bill,
    *,
    amount: int,
    received_on: date,
    confirmation: int,
    note: str | None,
    staff: StaffMember,
    client: Client,
    now: datetime,
    today: date,
) -> PaymentOutcome:
    """Staff saw the money arrive (the bank statement, the store's report): it is applied to
    the bill through `apply_payment`, as the gateway's notification would be. Another amount
    than the bill's is recorded and held for staff with the note, not applied. The same
    confirmation again (`confirmation` already recorded) changes nothing: DUPLICATE."""
    _refuse_unless_accounting(staff)
    note = (note or "").strip() or None
    if bill.payment_method not in CONFIRMED_METHODS:
        raise DomainError("入金の確認は、銀行振込とコンビニ決済のご請求で行えます。")
    if received_on > today:
        raise DomainError("入金日に未来の日付は指定できません。", field="received_on")
    if received_on < bill.applied_on:
        raise DomainError("入金日はお申込日以降の日付を入力してください。", field="received_on")
    if not 0 < amount <= MAX_TRANSFER_AMOUNT:
        raise DomainError("入金額を正しく入力してください。", field="amount")
    lock_bill(bill)
    done = next_confirmation(bill) - 1
    if confirmation <= done:
        return PaymentOutcome.DUPLICATE
    if confirmation > done + 1:
        raise DomainError("ページの内容が古くなっています。ページを開き直してください。")
    refuse_unless_awaiting(bill)
    if amount != bill.total and note is None:
        raise DomainError(
            f"入金額がご請求金額({yen(bill.total)})と異なります。保留する理由をメモに"
            "入力してください。",
            field="note",
        )
    money = ReceivedMoney(
        provider=STAFF_PROVIDER,
        event_id=f"confirmation-{bill.bill_no}-{confirmation}",
        method=bill.payment_method,
        amount=amount,
        received_at=_received_at(received_on, now, today),
        reference=_reference(bill),
        staff_note=note,
    )
    outcome = apply_payment(bill, money, now, client)
    held = "(金額不一致のため保留)" if outcome == PaymentOutcome.FLAGGED else ""
    record_event(
        "payment_confirmed_by_staff",
        client,
        customer=bill.customer,
        staff=staff,
        detail=f"請求No.{bill.bill_no} {yen(amount)} {japanese_date(received_on)}入金{held}",
        at=now,
    )
    return outcome


# Flagged money


def flagged_payments(resolved: bool, page: int) -> Pagination:
    """Money that could not pay its bill: waiting for staff (oldest first), or settled
    (latest first)."""
    statement = select(Payment).options(
        selectinload(Payment.bill).selectinload(Bill.customer),
        selectinload(Payment.resolved_bill),
        selectinload(Payment.resolved_by),
    )
    # `applied_to_bill` is compared as the partial index's condition says it.
    statement = statement.where(~Payment.applied_to_bill)
    if resolved:
        statement = statement.where(Payment.resolution.is_not(None)).order_by(Payment.id.desc())
    else:
        statement = statement.where(Payment.resolution.is_(None)).order_by(Payment.id)
    return db.paginate(statement, page=page, per_page=PER_PAGE, error_out=False)


def _lock_flagged(payment: Payment) -> None:
    db.session.refresh(payment, with_for_update=True)
    if payment.applied_to_bill or payment.resolution is not None:
        raise DomainError("この入金は処理済みです。")


def _customer_of(payment: Payment) -> Customer | None:
    return payment.bill.customer if payment.bill is not None else None


def apply_flagged_payment(
    payment: Payment,
    *,
    bill_no: str,
    note: str | None,
    staff: StaffMember,
    client: Client,
    now: datetime,
    today: date,
) -> Bill:
    """Flagged money applied to another bill awaiting payment: of the same customer (money
    whose reference matched no bill may go to any customer's, once staff know whose it is),
    for exactly its amount, not past its due date. The bill is paid through `apply_payment`
    as a payment of its own (`flagged-<payment ID>`, so applying twice pays once); the flagged
    payment is marked applied, naming the bill."""
    _refuse_unless_accounting(staff)
    _lock_flagged(payment)
    bill_no = bill_no.strip()
    target = db.session.scalar(
        select(Bill).where(
            or_(Bill.bill_no == bill_no, Bill.bill_no == bill_no_of_transfer(bill_no))
        )
    )
    owner = _customer_of(payment)
    if target is None or (owner is not None and target.customer_id != owner.id):
        raise DomainError(
            "同じ会員のご請求の請求No.を入力してください。"
            if owner is not None
            else "請求No.が見つかりません。",
            field="bill_no",
        )
    lock_bill(target)
    refuse_unless_awaiting(target)
    refuse_past_due(target, today)
    if payment.amount != target.total:
        raise DomainError(
            f"入金額({yen(payment.amount)})とご請求金額({yen(target.total)})が一致しないため、"
            "充当できません。",
            field="bill_no",
        )
    money = ReceivedMoney(
        provider=STAFF_PROVIDER,
        event_id=f"flagged-{payment.id}",
        method=payment.method,
        amount=payment.amount,
        received_at=payment.received_at,
        reference=payment.reference,
        payer_name=payment.payer_name,
        staff_note=note,
    )
    outcome = apply_payment(target, money, now, client)
    if outcome != PaymentOutcome.APPLIED:
        raise DomainError("この入金は処理済みです。")
    payment.resolution = Resolution.APPLIED
    payment.resolved_at = now
    payment.resolved_by_id = staff.id
    payment.resolved_bill_id = target.id
    payment.resolution_note = note or None
    record_event(
        "flagged_payment_applied",
        client,
        customer=target.customer,
        staff=staff,
        detail=f"{yen(payment.amount)}を請求No.{target.bill_no}に充当",
        at=now,
    )
    return target


def mark_refunded(
    payment: Payment, *, note: str, staff: StaffMember, client: Client, now: datetime
) -> None:
    """Flagged money paid back to the customer (outside the panel: a bank transfer back, the
    provider's refund); the note says how and when."""
    _refuse_unless_accounting(staff)
    note = note.strip()
    if not note:
        raise DomainError("返金の方法と日付をメモに入力してください。", field="note")
    _lock_flagged(payment)
    payment.resolution = Resolution.REFUNDED
    payment.resolved_at = now
    payment.resolved_by_id = staff.id
    payment.resolution_note = note
    record_event(
        "flagged_payment_refunded",
        client,
        customer=_customer_of(payment),
        staff=staff,
        detail=f"{yen(payment.amount)} {note}",
        at=now,
    )


def credit_flagged_payment(
    payment: Payment, *, note: str | None, staff: StaffMember, client: Client, now: datetime
) -> None:
    """Flagged money put into its customer's account balance (アカウント残高), once: the ledger
    entry's cause is the payment (`payment:<ID>`), so crediting twice credits once. Money whose
    reference matched no bill has no customer yet: it is applied to a bill instead."""
    _refuse_unless_accounting(staff)
    _lock_flagged(payment)
    customer = _customer_of(payment)
    if customer is None:
        raise DomainError(
            "どの会員の入金か分からないため、残高へは入金できません。請求No.を指定して充当してください。"
        )
    assert payment.bill is not None, "a customer's flagged money came for one of its bills"
    credit(
        customer,
        kind=LedgerKind.DEPOSIT,
        cause=f"payment:{payment.id}",
        amount=payment.amount,
        description=f"ご入金(請求No.{payment.bill.bill_no}宛のご入金を残高へ)",
        now=now,
        bill=payment.bill,
    )
    payment.resolution = Resolution.CREDITED
    payment.resolved_at = now
    payment.resolved_by_id = staff.id
    payment.resolution_note = (note or "").strip() or None
    record_event(
        "flagged_payment_credited",
        client,
        customer=customer,
        staff=staff,
        detail=f"{yen(payment.amount)}をアカウント残高へ入金",
        at=now,
    )
