"""Applying a renewal: the one bill awaiting payment that a confirmed selection makes."""

from datetime import date, datetime

from sqlalchemy import select

from panel.extensions import db
from panel.models import Bill, Customer
from panel.models.bills import BillKind, PaymentMethod
from panel.refusals import DomainError
from panel.services.audit import Client
from panel.services.billing import (
    APPLICATION_PAYMENT_METHODS,
    EXPIRED_FORM,
    create_bill,
    new_application_token,
    queue_bill_mail,
    refuse_foreign_token,
)
from panel.services.payments import pay_from_balance
from panel.services.renewal.pricing import RenewalQuote, Selection, quote_renewal

__all__ = ["EXPIRED_FORM", "apply_renewal", "new_application_token", "refusal_summary"]


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
    *,
    now: datetime | None = None,
    client: Client | None = None,
) -> Bill:
    """Create the one bill, awaiting payment, for the selection, and queue its e-mail. Paid
    from the account balance, the bill is paid at once (`now`, by `client`), or the whole
    application is refused when 現在利用できる金額 does not cover it.

    The account is locked first (PostgreSQL; SQLite serialises every writer), so applications
    of one customer run one at a time: the same confirm form submitted twice finds the bill the
    first submission made, and two applications for one contract can't both pass the "already
    on a bill" check."""
    refuse_foreign_token(customer, application_token)
    if payment_method not in APPLICATION_PAYMENT_METHODS:
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
    if payment_method == PaymentMethod.BALANCE:
        assert now is not None and client is not None, "paying now needs the time and the client"
        pay_from_balance(bill, now, client)
    else:
        queue_bill_mail(bill)
    return bill
