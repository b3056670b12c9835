"""Applying a renewal: the one bill awaiting payment that a confirmed selection makes."""

import hashlib
import hmac
import secrets
from datetime import date

from flask import current_app
from sqlalchemy import select

from panel.extensions import db
from panel.models import Bill, Customer
from panel.models.bills import BillKind
from panel.refusals import DomainError
from panel.services.billing import CUSTOMER_PAYMENT_METHODS, create_bill, queue_bill_mail
from panel.services.renewal.pricing import RenewalQuote, Selection, quote_renewal

EXPIRED_FORM = "ページの有効期限が切れました。もう一度お試しください。"


def _signature(customer: Customer, nonce: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    message = f"renewal-application:{customer.id}:{nonce}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def new_application_token(customer: Customer) -> str:
    """The token of one confirm form, made by the server for this customer: applying twice
    with it makes one bill, and no other customer's token (nor a made-up one) is accepted."""
    nonce = secrets.token_urlsafe(12)
    return f"{nonce}.{_signature(customer, nonce)}"


def refuse_foreign_token(customer: Customer, token: str) -> None:
    """A confirm form's token the server did not make for this customer is an expired page."""
    nonce, _, signature = token.partition(".")
    if not hmac.compare_digest(signature, _signature(customer, nonce)):
        raise DomainError(EXPIRED_FORM)


def refusal_summary(quote: RenewalQuote) -> str:
    """Which ticked contracts cannot be applied for, and why, in one message."""
    reasons = "".join(
        f"「{quote.contract_names[contract_id]}」: {refusal.message}"
        for contract_id, refusal in quote.refusals.items()
    )
    return f"お申込できないご契約があります。{reasons}"


def apply_renewal(
    customer: Customer,
    selections: list[Selection],
    month_end: bool,
    payment_method: str,
    application_token: str,
    today: date,
) -> Bill:
    """Create the one bill, awaiting payment, for the selection, and queue its e-mail.

    The account is locked first (PostgreSQL; SQLite serialises every writer), so applications
    of one customer run one at a time: the same confirm form submitted twice finds the bill the
    first submission made, and two applications for one contract can't both pass the "already
    on a bill" check."""
    refuse_foreign_token(customer, application_token)
    if payment_method not in CUSTOMER_PAYMENT_METHODS:
        raise DomainError("お支払方法を選択してください。", field="payment_method")
    if not selections:
        raise DomainError("更新するご契約を選択してください。")
    db.session.refresh(customer, with_for_update=True)
    earlier = db.session.scalar(
        select(Bill).where(
            Bill.customer_id == customer.id, Bill.application_token == application_token
        )
    )
    if earlier is not None:
        return earlier
    quote = quote_renewal(customer, selections, month_end, today, payment_method)
    if quote.refusals:
        raise DomainError(refusal_summary(quote))
    assert quote.due_date is not None, "a quote with renewals and a day has a due date"
    bill = create_bill(
        customer,
        kind=BillKind.RENEWAL,
        payment_method=payment_method,
        applied_on=today,
        due_date=quote.due_date,
        lines=quote.lines,
    )
    bill.application_token = application_token
    db.session.flush()
    queue_bill_mail(bill)
    return bill
