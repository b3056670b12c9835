"""口座振替 (direct debit): the bank account a customer on invoice terms registers once, through
the gateway's own form, and the collection of a month-end bill on its due date.

The panel keeps the gateway's token and what the gateway shows of the account
("三井住友銀行 本店 普通 ****567"), never the account number. A collection goes through a payment
attempt whose idempotency key is fixed by the bill (`payments.pay_by_direct_debit`), so it
happens once however often the job runs.
"""

from dataclasses import dataclass
from datetime import date, datetime

from flask import current_app
from sqlalchemy import select

from panel.extensions import db
from panel.gateways import BankAccount, payment_gateway
from panel.models import Bill, Customer, PaymentAttempt, User
from panel.models.bills import BillKind, BillStatus, PaymentMethod
from panel.models.payments import AttemptState
from panel.refusals import DomainError
from panel.services.audit import Client, record_event
from panel.services.billing import (
    change_payment_method,
    lock_awaiting_bill,
    refuse_while_paying,
    transfer_reference,
)
from panel.services.mail import queue_templated_mail
from panel.services.on_account import buys_on_account
from panel.services.payments import direct_debit_key, pay_by_direct_debit

JOB_CLIENT = Client(ip_address=None, user_agent="jobs daily")
ONLY_ON_INVOICE_TERMS = (
    "口座振替は、法人のお客様向けドメイン管理サービス(請求書払い)をご利用のお客様の、"
    "月末締めのご請求のお支払方法です。"
)


def customer_ref(customer: Customer) -> str:
    """How the gateway knows the customer: a registration's result is only this customer's."""
    return f"customer-{customer.id}"


@dataclass(frozen=True)
class DirectDebitPage:
    customer: Customer
    #: the customer may register an account (on invoice terms)
    available: bool
    #: month-end bills awaiting payment, with how each is to be paid
    awaiting: list[Bill]


def direct_debit_page(customer: Customer) -> DirectDebitPage:
    awaiting = db.session.scalars(
        select(Bill)
        .where(
            Bill.customer_id == customer.id,
            Bill.kind == BillKind.MONTH_END,
            Bill.status == BillStatus.AWAITING_PAYMENT,
        )
        .order_by(Bill.due_date, Bill.id)
    )
    return DirectDebitPage(customer, buys_on_account(customer), list(awaiting))


def start_registration(customer: Customer, return_url: str, cancel_url: str) -> str:
    """Where to send the customer to enter the bank account: the gateway's form."""
    if not buys_on_account(customer):
        raise DomainError(ONLY_ON_INVOICE_TERMS)
    return payment_gateway().bank_account_form_url(customer_ref(customer), return_url, cancel_url)


def complete_registration(
    customer: Customer, result: str, now: datetime, by: User, client: Client
) -> BankAccount:
    """The customer is back from the gateway's form: keep the account's token and display
    (replacing the one registered before). Month-end bills already made keep their method; the
    next ones are collected from this account."""
    if not buys_on_account(customer):
        raise DomainError(ONLY_ON_INVOICE_TERMS)
    account = payment_gateway().registered_bank_account(result, customer_ref(customer))
    db.session.refresh(customer, with_for_update=True)
    if customer.direct_debit_token == account.token:  # the same return loaded again
        return account
    replaced = customer.direct_debit_token is not None
    customer.direct_debit_token = account.token
    customer.direct_debit_account = account.display
    customer.direct_debit_registered_at = now
    record_event(
        "direct_debit_replaced" if replaced else "direct_debit_registered",
        client,
        user=by,
        detail=account.display,
        at=now,
    )
    return account


def remove_registration(customer: Customer, now: datetime, by: User, client: Client) -> int:
    """Forget the bank account. Month-end bills that were to be collected from it are to be
    paid by bank transfer instead: how many were changed."""
    db.session.refresh(customer, with_for_update=True)
    if customer.direct_debit_token is None:
        raise DomainError("登録されている口座はありません。")
    to_change = db.session.scalars(
        select(Bill).where(
            Bill.customer_id == customer.id,
            Bill.status == BillStatus.AWAITING_PAYMENT,
            Bill.payment_method == PaymentMethod.DIRECT_DEBIT,
        )
    ).all()
    for bill in to_change:
        lock_awaiting_bill(bill)
        refuse_while_paying(bill)  # a collection on its way: the account is still needed
        bill.payment_method = PaymentMethod.BANK_TRANSFER
    detail = customer.direct_debit_account or ""
    customer.direct_debit_token = None
    customer.direct_debit_account = None
    customer.direct_debit_registered_at = None
    record_event("direct_debit_removed", client, user=by, detail=detail, at=now)
    return len(to_change)


# The daily job's collection


def bills_to_collect(today: date) -> list[int]:
    """Month-end bills to be paid by direct debit whose due date is `today`."""
    return list(
        db.session.scalars(
            select(Bill.id)
            .where(
                Bill.kind == BillKind.MONTH_END,
                Bill.status == BillStatus.AWAITING_PAYMENT,
                Bill.payment_method == PaymentMethod.DIRECT_DEBIT,
                Bill.due_date == today,
            )
            .order_by(Bill.id)
        )
    )


def _queue_declined_mail(bill: Bill, reason: str) -> None:
    queue_templated_mail(
        bill.customer,
        "direct_debit_declined",
        f"【口座振替】お引き落としができませんでした(請求No.{bill.bill_no})",
        "mail/direct_debit_declined.txt",
        bill=bill,
        reason=reason,
        bank_account=current_app.config["BANK_TRANSFER_ACCOUNT"],
        transfer_reference=transfer_reference(bill),
        bill_url=f"{current_app.config['PANEL_BASE_URL'].rstrip('/')}/bills/{bill.bill_no}",
    )


def collect_month_end_bill(bill_id: int, today: date, now: datetime) -> Bill:
    """Collect the bill from the customer's account on its due date. Paid: the お支払確認 mail
    goes out, as for any payment. Declined (残高不足): the bill stays awaiting payment, now by
    bank transfer, and the customer is told why and how to pay. The caller claims the bill, and
    commits what follows the gateway's answer (the attempt is committed before the call)."""
    bill = db.session.get_one(Bill, bill_id)
    token = bill.customer.direct_debit_token
    if token is None:  # removed meanwhile: its bills were moved to bank transfer then
        return bill
    try:
        pay_by_direct_debit(bill, token, today, now, JOB_CLIENT)
    except DomainError as declined:
        attempt = db.session.scalar(
            select(PaymentAttempt).where(PaymentAttempt.idempotency_key == direct_debit_key(bill))
        )
        if attempt is None or attempt.state != AttemptState.FAILED:
            # Refused before any collection, or the gateway did not answer: the attempt is then
            # settled later by its key (`payments reconcile`), never collected again.
            raise
        bill = db.session.get_one(Bill, bill_id)
        if bill.status == BillStatus.AWAITING_PAYMENT:
            change_payment_method(bill, PaymentMethod.BANK_TRANSFER)
        _queue_declined_mail(bill, declined.message)
        record_event(
            "direct_debit_declined",
            JOB_CLIENT,
            customer=bill.customer,
            detail=f"請求No.{bill.bill_no} {declined.message}",
            at=now,
        )
    return db.session.get_one(Bill, bill_id)
