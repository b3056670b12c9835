"""Bills: numbering, creation, the list and history customers see, and what a customer may do
to a bill awaiting payment (change the method, send a transfer notice, cancel, resend the mail).
"""

import hashlib
import hmac
import secrets
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from flask import current_app, get_template_attribute
from sqlalchemy import func, select, update
from sqlalchemy.orm import selectinload

from panel import labels
from panel.database import dialect_insert, rows_matched
from panel.extensions import db
from panel.filters import japanese_date
from panel.models import (
    Bill,
    BillLine,
    BillNumberCounter,
    Customer,
    OutboxMail,
    Payment,
    PaymentAttempt,
    StorePayment,
    TransferNotice,
    User,
)
from panel.models.bills import (
    STANDARD_TAX_RATE,
    BillKind,
    BillLineKind,
    BillStatus,
    PaymentMethod,
)
from panel.models.payments import AttemptState
from panel.refusals import DomainError
from panel.services.audit import Client, record_event
from panel.services.mail import queue_templated_mail

#: The fee a convenience-store payment adds to the bill, tax included.
CONVENIENCE_STORE_FEE = 200
#: The methods a customer may choose for a bill, in the order they are offered.
CUSTOMER_PAYMENT_METHODS = (
    PaymentMethod.CARD,
    PaymentMethod.PAYPAL,
    PaymentMethod.BANK_TRANSFER,
    PaymentMethod.CONVENIENCE_STORE,
)
#: An application may also be paid from the account balance, at once (`pay_from_balance`);
#: a bill awaiting payment is paid from it by its own action, not by switching its method.
APPLICATION_PAYMENT_METHODS = (*CUSTOMER_PAYMENT_METHODS, PaymentMethod.BALANCE)
#: Money into the balance (a deposit) is paid by card or bank transfer, as the registrar's
#: notice says; never from the balance itself.
BALANCE_BILL_METHODS = (PaymentMethod.CARD, PaymentMethod.BANK_TRANSFER)
#: How a month-end bill (月末締め: invoice terms, or a negative balance) may be paid: bank
#: transfer, direct debit (口座振替) from the account the customer registered, or card.
MONTH_END_PAYMENT_METHODS = (
    PaymentMethod.BANK_TRANSFER,
    PaymentMethod.DIRECT_DEBIT,
    PaymentMethod.CARD,
)
#: Bills on one page of the bill list.
BILLS_PER_PAGE = 20
#: The bill e-mail can be sent again once this long after the last one.
RESEND_INTERVAL = timedelta(minutes=5)
#: Transfer notices: the most a customer may state, and the longest names.
MAX_TRANSFER_AMOUNT = 10_000_000


def allocate_bill_no(day: date) -> str:
    """The next bill No. for a day: the date and a daily sequence, e.g. 20261121-0001.

    One upsert hands out the number, so concurrent applications never get the same one and a
    rolled-back application gives its number back.
    """
    table = BillNumberCounter.__table__
    statement = (
        dialect_insert(table)
        .values(issued_on=day, last_number=1)
        .on_conflict_do_update(
            index_elements=[table.c.issued_on],
            set_={"last_number": table.c.last_number + 1},
        )
        .returning(table.c.last_number)
    )
    number = db.session.execute(statement).scalar_one()
    return f"{day:%Y%m%d}-{number:04d}"


EXPIRED_FORM = "ページの有効期限が切れました。もう一度お試しください。"


def _token_signature(customer: Customer, nonce: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    message = f"renewal-application:{customer.id}:{nonce}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def new_application_token(customer: Customer) -> str:
    """The token of one application form (a renewal's confirm step, a deposit), made by the
    server for this customer: applying twice with it makes one bill, and no other customer's
    token (nor a made-up one) is accepted."""
    nonce = secrets.token_urlsafe(12)
    return f"{nonce}.{_token_signature(customer, nonce)}"


def refuse_foreign_token(customer: Customer, token: str) -> None:
    nonce, _, signature = token.partition(".")
    if not hmac.compare_digest(signature, _token_signature(customer, nonce)):
        raise DomainError(EXPIRED_FORM)


@dataclass(frozen=True)
class LineDraft:
    """A bill line before it is on a bill."""

    kind: str
    description: str
    amount: int
    tax_rate: int = STANDARD_TAX_RATE
    contract_id: int | None = None
    period_months: int | None = None
    new_renewal_date: date | None = None
    target_plan_id: int | None = None
    period_start: date | None = None
    period_end: date | None = None
    purchased_on: date | None = None


def create_bill(
    customer: Customer,
    *,
    kind: str,
    payment_method: str,
    applied_on: date,
    due_date: date,
    lines: list[LineDraft],
) -> Bill:
    """A new bill awaiting payment, with its lines numbered in order."""
    bill = Bill(
        bill_no=allocate_bill_no(applied_on),
        customer=customer,
        kind=kind,
        status=BillStatus.AWAITING_PAYMENT,
        payment_method=payment_method,
        applied_on=applied_on,
        due_date=due_date,
        lines=[
            BillLine(position=position, **asdict(draft))
            for position, draft in enumerate(lines, start=1)
        ],
    )
    db.session.add(bill)
    return bill


def list_awaiting_bills(customer: Customer) -> list[Bill]:
    """The customer's bills awaiting payment, the most urgent due date first."""
    return list(
        db.session.scalars(
            select(Bill)
            .options(selectinload(Bill.lines))
            .where(Bill.customer_id == customer.id, Bill.status == BillStatus.AWAITING_PAYMENT)
            .order_by(Bill.due_date, Bill.id)
        )
    )


def transfer_reference(bill: Bill) -> str:
    """The number a bank transfer carries before the payer's name: the bill No.'s digits."""
    return bill.bill_no.replace("-", "")


def bill_no_of_transfer(reference: str) -> str:
    """The bill No. a bank transfer's reference points to (see `transfer_reference`)."""
    digits = "".join(ch for ch in reference if ch.isdigit())
    return f"{digits[:8]}-{digits[8:]}"


def convenience_store_fee_line() -> LineDraft:
    return LineDraft(
        kind=BillLineKind.CONVENIENCE_STORE_FEE,
        description="コンビニ決済手数料",
        amount=CONVENIENCE_STORE_FEE,
    )


# E-mails about a bill

#: The outbox kind of the bill e-mail (ご請求メール), the one a customer may have sent again.
BILL_MAIL_KIND = "bill"


def _queue_bill_related_mail(bill: Bill, kind: str, subject: str, template: str) -> OutboxMail:
    config = current_app.config
    return queue_templated_mail(
        bill.customer,
        kind,
        subject,
        template,
        bill=bill,
        bank_account=config["BANK_TRANSFER_ACCOUNT"],
        transfer_reference=transfer_reference(bill),
        bill_url=f"{config['PANEL_BASE_URL'].rstrip('/')}/bills/{bill.bill_no}",
    )


def queue_bill_notice(bill: Bill, kind: str, subject: str, template: str) -> OutboxMail:
    """A mail about `bill` with what paying it takes: the bank account, the customer number
    for a transfer, and the link to the bill."""
    return _queue_bill_related_mail(bill, kind, subject, template)


def queue_bill_mail(bill: Bill) -> OutboxMail:
    """The bill e-mail (ご請求メール): lines, total, due date, what to do, a link to the bill."""
    if bill.kind == BillKind.MONTH_END:
        closing = bill.applied_on
        return _queue_bill_related_mail(
            bill,
            BILL_MAIL_KIND,
            f"【ご請求】請求No.{bill.bill_no} {closing.year}年{closing.month}月分 ご利用料金"
            "(月末締め)",
            "mail/month_end_bill.txt",
        )
    return _queue_bill_related_mail(
        bill,
        BILL_MAIL_KIND,
        f"【ご請求】請求No.{bill.bill_no} {labels.BILL_KIND[bill.kind]}",
        "mail/bill.txt",
    )


def queue_payment_mail(bill: Bill) -> OutboxMail:
    """お支払確認: the bill is paid, with each contract's new renewal date."""
    return _queue_bill_related_mail(
        bill,
        "payment",
        f"【お支払確認】請求No.{bill.bill_no} お支払ありがとうございます",
        "mail/payment.txt",
    )


def queue_cancellation_mail(bill: Bill) -> OutboxMail:
    """お申込取消: the bill is cancelled and nothing was renewed."""
    return _queue_bill_related_mail(
        bill,
        "cancellation",
        f"【お申込取消】請求No.{bill.bill_no} お申込を取り消しました",
        "mail/cancellation.txt",
    )


# The bill list and a bill's history


def list_bills(customer: Customer, status: str | None, page: int):
    """One page of the customer's bills, newest first, all or those in `status`."""
    statement = (
        select(Bill)
        .options(selectinload(Bill.lines))
        .where(Bill.customer_id == customer.id)
        .order_by(Bill.applied_on.desc(), Bill.id.desc())
    )
    if status is not None:
        statement = statement.where(Bill.status == status)
    return db.paginate(statement, page=page, per_page=BILLS_PER_PAGE, error_out=False)


class HistoryKind(StrEnum):
    """What happened to a bill, as one line of its history says it
    (`templates/bills/_history_entry.html` has the words)."""

    APPLIED = "applied"  #: the application made the bill
    MONTH_END_BILLED = "month_end_billed"  #: the month-end bill was made (no application)
    STORE_NUMBER_ISSUED = "store_number_issued"  #: a convenience-store payment number
    TRANSFER_NOTICE = "transfer_notice"  #: the customer's 振込連絡
    PAYMENT_IN_PROGRESS = "payment_in_progress"  #: an attempt waiting for the gateway's answer
    AUTHENTICATION_WAITING = "authentication_waiting"  #: an attempt waiting for 3-D Secure
    PAYMENT_FAILED = "payment_failed"  #: an attempt declined or not authenticated
    PAYMENT_EXPIRED = "payment_expired"  #: an attempt abandoned and cancelled at the gateway
    PAYMENT_CONFIRMED = "payment_confirmed"  #: money that paid the bill
    PAYMENT_FLAGGED = "payment_flagged"  #: money kept for staff, with the reason
    CANCELLED = "cancelled"  #: お申込の取消
    MAIL_SENT = "mail_sent"
    MAIL_WAITING = "mail_waiting"  #: still in the outbox
    MAIL_FAILED = "mail_failed"  #: given up for good


#: What became of an attempt, as the history tells it; a succeeded attempt is told by its
#: payment.
ATTEMPT_HISTORY: dict[str, HistoryKind] = {
    AttemptState.PENDING: HistoryKind.PAYMENT_IN_PROGRESS,
    AttemptState.REQUIRES_ACTION: HistoryKind.AUTHENTICATION_WAITING,
    AttemptState.FAILED: HistoryKind.PAYMENT_FAILED,
    AttemptState.EXPIRED: HistoryKind.PAYMENT_EXPIRED,
}


@dataclass(frozen=True)
class HistoryEntry:
    """One thing that happened to a bill: its kind, when, and the facts its line names (those
    that do not concern the kind stay None)."""

    at: datetime
    kind: HistoryKind
    #: yen paid, transferred, or being paid
    amount: int | None = None
    #: the payment method (a code of `PaymentMethod`)
    method: str | None = None
    #: the card's brand and last four digits, for a card payment
    card_brand: str | None = None
    card_last4: str | None = None
    #: the convenience-store payment number issued
    payment_number: str | None = None
    #: the transfer notice's date, bank and payer name
    transferred_on: date | None = None
    bank_name: str | None = None
    payer_name: str | None = None
    #: why money was kept for staff, or why an attempt failed (a sentence for the customer)
    reason: str | None = None
    #: the subject of the e-mail
    subject: str | None = None

    @property
    def text(self) -> str:
        """The line as plain text, in the words the bill page writes."""
        write = get_template_attribute("bills/_history_entry.html", "history_entry")
        return write(self).striptags()


def _payment_entry(payment: Payment) -> HistoryEntry:
    return HistoryEntry(
        payment.recorded_at,
        HistoryKind.PAYMENT_CONFIRMED if payment.applied_to_bill else HistoryKind.PAYMENT_FLAGGED,
        amount=payment.amount,
        method=payment.method,
        card_brand=payment.card_brand,
        card_last4=payment.card_last4,
        reason=payment.review_reason,
    )


def _attempt_entry(attempt: PaymentAttempt) -> HistoryEntry | None:
    kind = ATTEMPT_HISTORY.get(attempt.state)
    if kind is None:
        return None
    return HistoryEntry(
        # An open attempt is told from when it began, a closed one from when it closed.
        attempt.created_at if attempt.is_unsettled else attempt.settled_at or attempt.created_at,
        kind,
        amount=attempt.amount,
        method=attempt.method,
        reason=attempt.failure_reason,
    )


def _mail_entry(mail: OutboxMail) -> HistoryEntry:
    if mail.sent_at:
        return HistoryEntry(mail.sent_at, HistoryKind.MAIL_SENT, subject=mail.subject)
    if mail.failed_at:
        # Given up for good: "waiting" would be untrue, and the customer may want to check the
        # addresses in 会員登録情報変更.
        return HistoryEntry(mail.failed_at, HistoryKind.MAIL_FAILED, subject=mail.subject)
    return HistoryEntry(mail.created_at, HistoryKind.MAIL_WAITING, subject=mail.subject)


def bill_history(bill: Bill) -> list[HistoryEntry]:
    """What happened to the bill, oldest first: created, payment numbers, transfer notices,
    payment attempts that did not pay it, payments, cancelled, e-mails."""
    made = HistoryKind.MONTH_END_BILLED if bill.kind == BillKind.MONTH_END else HistoryKind.APPLIED
    entries = [HistoryEntry(bill.created_at, made)]
    for slip in db.session.scalars(select(StorePayment).where(StorePayment.bill_id == bill.id)):
        entries.append(
            HistoryEntry(
                slip.created_at,
                HistoryKind.STORE_NUMBER_ISSUED,
                payment_number=slip.payment_number,
            )
        )
    for notice in db.session.scalars(
        select(TransferNotice).where(TransferNotice.bill_id == bill.id)
    ):
        entries.append(
            HistoryEntry(
                notice.created_at,
                HistoryKind.TRANSFER_NOTICE,
                amount=notice.amount,
                transferred_on=notice.transferred_on,
                bank_name=notice.bank_name,
                payer_name=notice.payer_name,
            )
        )
    for attempt in db.session.scalars(
        select(PaymentAttempt)
        .where(PaymentAttempt.bill_id == bill.id)
        .order_by(PaymentAttempt.sequence)
    ):
        entry = _attempt_entry(attempt)
        if entry is not None:
            entries.append(entry)
    for payment in db.session.scalars(select(Payment).where(Payment.bill_id == bill.id)):
        entries.append(_payment_entry(payment))
    if bill.cancelled_at:
        entries.append(HistoryEntry(bill.cancelled_at, HistoryKind.CANCELLED))
    for mail in db.session.scalars(select(OutboxMail).where(OutboxMail.bill_id == bill.id)):
        entries.append(_mail_entry(mail))
    # A stable sort: what happened comes before the e-mail that tells of it.
    return sorted(entries, key=lambda entry: entry.at)


# What the customer may do while a bill awaits payment


def lock_bill(bill: Bill) -> Bill:
    """`bill` locked for a change (PostgreSQL: other changes to it wait for this transaction)
    and re-read after the lock, so it shows what those changes committed."""
    db.session.refresh(bill, with_for_update=True)
    db.session.expire(bill, ["lines"])
    return bill


def refuse_unless_awaiting(bill: Bill) -> None:
    """A paid or cancelled bill accepts no action."""
    if bill.status == BillStatus.PAID:
        raise DomainError("このご請求はお支払済みです。")
    if bill.status == BillStatus.CANCELLED:
        raise DomainError("このご請求は取り消されています。")


def lock_awaiting_bill(bill: Bill) -> Bill:
    """`bill` locked and re-read for a change, or a refusal when it no longer awaits payment."""
    lock_bill(bill)
    refuse_unless_awaiting(bill)
    return bill


def refuse_while_paying(bill: Bill) -> None:
    """No change to a bill while money for it may be on its way through the gateway."""
    in_flight = db.session.scalar(
        select(PaymentAttempt.id).where(
            PaymentAttempt.bill_id == bill.id, PaymentAttempt.state == AttemptState.PENDING
        )
    )
    if in_flight is not None:
        raise DomainError(
            "お支払の処理中のため、この操作はできません。お支払の結果が出てから、もう一度お試しください。"
        )


#: The only ways a bill's status changes, and the timestamp each one sets.
BILL_STATUS_CHANGES = {
    (BillStatus.AWAITING_PAYMENT, BillStatus.PAID): "paid_at",
    (BillStatus.AWAITING_PAYMENT, BillStatus.CANCELLED): "cancelled_at",
}


def change_bill_status(bill: Bill, status: BillStatus, now: datetime) -> None:
    """Move `bill` to `status` (paid or cancelled) from awaiting payment, the one status either
    may be reached from, in one conditional UPDATE: whatever else raced for the bill, exactly
    one change wins, and the others are refused with what the bill has become."""
    timestamp = BILL_STATUS_CHANGES[(BillStatus.AWAITING_PAYMENT, status)]
    changed = db.session.execute(
        update(Bill)
        .where(Bill.id == bill.id, Bill.status == BillStatus.AWAITING_PAYMENT)
        .values({"status": status, timestamp: now})
    )
    db.session.refresh(bill)
    if rows_matched(changed) != 1:
        refuse_unless_awaiting(bill)


def payment_methods_for(bill: Bill) -> tuple[PaymentMethod, ...]:
    """The methods the customer may choose for `bill`, by what it is for."""
    if bill.kind == BillKind.DEPOSIT:
        return BALANCE_BILL_METHODS
    if bill.kind == BillKind.MONTH_END:
        return MONTH_END_PAYMENT_METHODS
    return CUSTOMER_PAYMENT_METHODS


def refuse_direct_debit(bill: Bill, today: date) -> None:
    """口座振替 is collected on the due date by the daily job: it needs a registered account,
    and is chosen at the latest the day before."""
    if bill.customer.direct_debit_token is None:
        raise DomainError(
            "口座振替をご利用いただくには、先に「口座振替の登録」で口座を登録してください。",
            field="method",
        )
    if today >= bill.due_date:
        raise DomainError(
            "口座振替はお支払期限日に引き落とすため、お支払期限日の前日までにお選びください。"
            "お振込みでお支払いください。",
            field="method",
        )


def change_payment_method(bill: Bill, method: str, today: date | None = None) -> Bill:
    """Pay `bill` another way: the convenience-store fee line comes or goes with the method.
    `today` is needed to choose direct debit (collected on the due date)."""
    if method not in payment_methods_for(bill):
        raise DomainError("お支払方法を選択してください。", field="method")
    lock_awaiting_bill(bill)
    refuse_while_paying(bill)
    if method == PaymentMethod.DIRECT_DEBIT and method != bill.payment_method:
        assert today is not None, "choosing direct debit depends on the day"
        refuse_direct_debit(bill, today)
    set_payment_method(bill, method)
    return bill


def set_payment_method(bill: Bill, method: str) -> None:
    """The bill (locked by the caller, awaiting payment) to be paid by `method`, with the
    convenience-store fee line exactly when that is the method."""
    if method == bill.payment_method:
        return
    for line in [line for line in bill.lines if line.kind == BillLineKind.CONVENIENCE_STORE_FEE]:
        bill.lines.remove(line)
    db.session.flush()
    if method == PaymentMethod.CONVENIENCE_STORE:
        fee = convenience_store_fee_line()
        bill.lines.append(
            BillLine(position=max(line.position for line in bill.lines) + 1, **asdict(fee))
        )
    bill.payment_method = method


def record_transfer_notice(
    bill: Bill,
    user: User,
    *,
    transferred_on: date,
    payer_name: str,
    amount: int,
    bank_name: str,
    today: date,
) -> TransferNotice:
    """The customer's 振込連絡 for a bank-transfer bill, shown in its history and to staff."""
    lock_awaiting_bill(bill)
    if bill.payment_method != PaymentMethod.BANK_TRANSFER:
        raise DomainError("振込連絡は、お支払方法が銀行振込のご請求でご利用いただけます。")
    if transferred_on > today:
        raise DomainError("振込日に未来の日付は指定できません。", field="transferred_on")
    if transferred_on < bill.applied_on:
        raise DomainError("振込日はお申込日以降の日付を入力してください。", field="transferred_on")
    if not 0 < amount <= MAX_TRANSFER_AMOUNT:
        raise DomainError("振込金額を正しく入力してください。", field="amount")
    notice = TransferNotice(
        bill=bill,
        user_id=user.id,
        transferred_on=transferred_on,
        payer_name=payer_name,
        amount=amount,
        bank_name=bank_name,
    )
    db.session.add(notice)
    return notice


def _cancel(bill: Bill, now: datetime) -> None:
    """The bill cancelled, its contracts left as they are: only while it awaits payment and no
    money for it is on its way through the gateway. A month-end bill asks for what was already
    used (purchases on account, a negative balance): there is no application to withdraw."""
    if bill.kind == BillKind.MONTH_END:
        raise DomainError(
            "月末締めのご請求は、すでにご利用いただいた料金のご請求のため取り消せません。"
        )
    lock_awaiting_bill(bill)
    refuse_while_paying(bill)
    change_bill_status(bill, BillStatus.CANCELLED, now)


def cancel_bill(bill: Bill, now: datetime, by: User | None, client: Client) -> Bill:
    """お申込の取消: the bill is cancelled and its contracts are left as they are.

    The status changes only from awaiting payment, in one conditional update, so a payment
    racing the cancellation leaves one consistent state: paid, or cancelled with the money
    kept for staff. A month-end bill is no application: what it asks for is owed already."""
    if bill.kind == BillKind.MONTH_END:
        raise DomainError("月末のご請求は取り消せません。お支払期限日までにお支払いください。")
    _cancel(bill, now)
    queue_cancellation_mail(bill)
    record_event(
        "bill_cancelled",
        client,
        customer=bill.customer,
        user=by,
        detail=f"請求No.{bill.bill_no}",
        at=now,
    )
    return bill


def cancel_overdue_bill(bill: Bill, now: datetime) -> Bill:
    """The daily job's cancellation of a bill still awaiting payment after its due date: its
    contracts are left as they are, and the customer is told why. Money that arrives for it
    later is kept for staff (`apply_payment`). Not while money for it may be on its way."""
    _cancel(bill, now)
    _queue_bill_related_mail(
        bill,
        "overdue_cancellation",
        f"【お申込取消】請求No.{bill.bill_no} お支払期限日を過ぎたため取り消しました",
        "mail/overdue_cancellation.txt",
    )
    record_event(
        "bill_overdue_cancelled",
        Client(ip_address=None, user_agent="jobs daily"),
        customer=bill.customer,
        detail=f"請求No.{bill.bill_no}",
        at=now,
    )
    return bill


def refuse_past_due(bill: Bill, today: date) -> None:
    """A bill past its due date can no longer be paid by card or PayPal (the daily job cancels
    it), whether or not the job has run yet."""
    if bill.due_date < today:
        raise DomainError(
            f"お支払期限日({japanese_date(bill.due_date)})を過ぎているため、このご請求は"
            "お支払いいただけません。ご契約を更新される場合は、あらためてお申込ください。"
        )


def resend_bill_mail(bill: Bill, now: datetime) -> OutboxMail:
    """ご請求メール再送信, at most once every few minutes per bill."""
    lock_awaiting_bill(bill)
    last = db.session.scalar(
        select(func.max(OutboxMail.created_at)).where(
            OutboxMail.bill_id == bill.id, OutboxMail.kind == BILL_MAIL_KIND
        )
    )
    if last is not None and now - last < RESEND_INTERVAL:
        minutes = int(RESEND_INTERVAL.total_seconds() // 60)
        raise DomainError(
            f"ご請求メールは{minutes}分に1回まで再送信できます。しばらくしてからお試しください。"
        )
    return queue_bill_mail(bill)
