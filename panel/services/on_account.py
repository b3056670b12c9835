"""請求書払い (法人のお客様向けドメイン管理サービス: 月末締め翌月末払い): a corporate customer on
invoice terms buys on account during the month, and gets one consolidated bill for the month,
due at the end of the next month, paid by bank transfer or direct debit (口座振替).

- A purchase on account is applied at once: the contracts are extended (and plans changed) when
  it is bought, as for a customer whose account pays for what it buys (the source document's
  prepaid balance); it is written down line by line (`OnAccountPurchase`) for the month of its
  Japan date.
- A month closes at the end of its last day, Japan time. The first run of the daily job after
  that (the run of the 1st) makes the month's bill, dated the last day (締め日): every purchase
  not billed yet, each as its own line with its date. No purchases, no bill.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select

from panel.dates import add_months, end_of_month
from panel.extensions import db
from panel.models import Bill, Customer, OnAccountPurchase, User
from panel.models.bills import BillKind, BillLineKind, BillStatus, PaymentMethod
from panel.refusals import DomainError
from panel.services.audit import Client, record_event
from panel.services.billing import (
    LineDraft,
    change_payment_method,
    create_bill,
    queue_bill_mail,
    queue_bill_notice,
    refuse_foreign_token,
)
from panel.services.mail import queue_templated_mail
from panel.services.payments import extend_contracts
from panel.services.renewal.application import refusal_summary
from panel.services.renewal.pricing import Selection, quote_renewal
from panel.tax import RateTotal, totals_by_rate

ONLY_ON_INVOICE_TERMS = (
    "請求書払いは、法人のお客様向けドメイン管理サービス(月末締め翌月末払い)を"
    "ご利用のお客様がお選びいただけます。ほかのお支払方法をお選びください。"
)


def buys_on_account(customer: Customer) -> bool:
    """May the customer buy on account? Companies on invoice terms only (set by staff)."""
    return customer.is_corporate and customer.invoice_terms


def closing_day(day: date) -> date:
    """締め日: the last day of the month `day` is in; its purchases are billed together."""
    return end_of_month(day)


def month_end_due_date(closing: date) -> date:
    """翌月末払い: a month-end bill is due on the last day of the month after its closing."""
    return end_of_month(add_months(closing.replace(day=1), 1))


def last_closed_month(today: date) -> date:
    """The closing day of the last month that has closed by `today`: the day before the 1st."""
    return today.replace(day=1) - timedelta(days=1)


def overdue_month_end_bill(customer: Customer, today: date) -> Bill | None:
    """A month-end bill of the customer still unpaid after its due date, if any."""
    return db.session.scalar(
        select(Bill)
        .where(
            Bill.customer_id == customer.id,
            Bill.kind == BillKind.MONTH_END,
            Bill.status == BillStatus.AWAITING_PAYMENT,
            Bill.due_date < today,
        )
        .order_by(Bill.due_date, Bill.id)
        .limit(1)
    )


def _refuse_while_overdue(customer: Customer, today: date) -> None:
    overdue = overdue_month_end_bill(customer, today)
    if overdue is not None:
        raise DomainError(
            f"お支払期限日を過ぎたご請求(請求No. {overdue.bill_no})のお支払を確認できるまで、"
            "請求書払いはご利用いただけません。お振込みのうえ、ほかのお支払方法でお申込ください。"
        )


def _purchases_of(customer: Customer, application_token: str) -> list[OnAccountPurchase]:
    return list(
        db.session.scalars(
            select(OnAccountPurchase)
            .where(
                OnAccountPurchase.customer_id == customer.id,
                OnAccountPurchase.application_token == application_token,
            )
            .order_by(OnAccountPurchase.position)
        )
    )


def buy_on_account(
    customer: Customer,
    selections: list[Selection],
    month_end: bool,
    application_token: str,
    today: date,
    now: datetime,
    by: User,
    client: Client,
) -> list[OnAccountPurchase]:
    """Buy the selection on account (請求書払い): the contracts are extended at once, each line
    is recorded for the month of `today`, and the customer gets the お申込完了 mail.

    The account is locked first, as for a renewal applied with a bill, so the same confirm form
    sent twice buys once (it finds the first purchase by its token), and a contract cannot be
    bought on account and applied for at the same time."""
    refuse_foreign_token(customer, application_token)
    if not buys_on_account(customer):
        raise DomainError(ONLY_ON_INVOICE_TERMS, field="payment_method")
    if not selections:
        raise DomainError("更新するご契約を選択してください。")
    db.session.refresh(customer, with_for_update=True)
    earlier = _purchases_of(customer, application_token)
    if earlier:
        return earlier
    _refuse_while_overdue(customer, today)
    quote = quote_renewal(customer, selections, month_end, today)
    if quote.refusals:
        raise DomainError(refusal_summary(quote))
    if not quote.renewals:
        raise DomainError("更新するご契約を選択してください。")
    purchases = [
        OnAccountPurchase(
            customer=customer,
            purchased_on=today,
            application_token=application_token,
            position=position,
            user_id=by.id,
            kind=line.kind,
            description=line.description,
            amount=line.amount,
            tax_rate=line.tax_rate,
            contract_id=line.contract_id,
            period_months=line.period_months,
            new_renewal_date=line.new_renewal_date,
            period_start=line.period_start,
            period_end=line.period_end,
            created_at=now,
        )
        for position, line in enumerate(quote.lines, start=1)
    ]
    db.session.add_all(purchases)
    extend_contracts(quote.lines)
    db.session.flush()
    total = sum(purchase.amount for purchase in purchases)
    queue_templated_mail(
        customer,
        "on_account_purchase",
        "【お申込完了】ご契約更新(請求書払い・月末締め翌月末払い)",
        "mail/on_account_purchase.txt",
        purchases=purchases,
        total=total,
        closing=closing_day(today),
        due_date=month_end_due_date(closing_day(today)),
    )
    record_event(
        "on_account_purchase",
        client,
        user=by,
        detail=f"{len(quote.renewals)}件 {total:,}円({closing_day(today):%Y年%m月}分)",
        at=now,
    )
    return purchases


@dataclass(frozen=True)
class UnbilledPurchases:
    """What the customer bought on account and is not billed for yet (this month's purchases,
    and any an earlier month's bill could not take), with the bill they go on."""

    purchases: list[OnAccountPurchase]
    #: the closing day of the next month-end bill, and its due date
    closing: date
    due_date: date

    @property
    def total(self) -> int:
        return sum(purchase.amount for purchase in self.purchases)

    @property
    def tax_totals(self) -> list[RateTotal]:
        return totals_by_rate((purchase.amount, purchase.tax_rate) for purchase in self.purchases)


def unbilled_purchases(customer: Customer, today: date) -> UnbilledPurchases:
    purchases = db.session.scalars(
        select(OnAccountPurchase)
        .where(
            OnAccountPurchase.customer_id == customer.id,
            OnAccountPurchase.month_end_bill_id.is_(None),
        )
        .order_by(OnAccountPurchase.purchased_on, OnAccountPurchase.id)
    )
    closing = closing_day(today)
    return UnbilledPurchases(list(purchases), closing, month_end_due_date(closing))


# The month-end bill (the daily job)


def _month_end_line(purchase: OnAccountPurchase) -> LineDraft:
    return LineDraft(
        # Billed, not renewing: the contract was extended when it was bought.
        kind=BillLineKind.ON_ACCOUNT
        if purchase.kind == BillLineKind.RENEWAL
        else BillLineKind.MONTH_END_PRORATION,
        description=purchase.description,
        amount=purchase.amount,
        tax_rate=purchase.tax_rate,
        contract_id=purchase.contract_id,
        period_months=purchase.period_months,
        period_start=purchase.period_start,
        period_end=purchase.period_end,
        purchased_on=purchase.purchased_on,
    )


def bill_month_end(customer_id: int, closing: date) -> Bill | None:
    """The customer's one bill for the month that closed on `closing`: every purchase on
    account up to that day that no bill lists yet, each as its own line with its date, due at
    the end of the next month, to be paid by direct debit when the customer registered a bank
    account, by bank transfer otherwise; the bill e-mail goes out. None when there is nothing
    to bill. The caller claims (customer, closing day), so it is made once."""
    customer = db.session.get_one(Customer, customer_id)
    # A purchase being bought right now is waited for, and lands on this bill or the next.
    db.session.refresh(customer, with_for_update=True)
    purchases = list(
        db.session.scalars(
            select(OnAccountPurchase)
            .where(
                OnAccountPurchase.customer_id == customer.id,
                OnAccountPurchase.month_end_bill_id.is_(None),
                OnAccountPurchase.purchased_on <= closing,
            )
            .order_by(OnAccountPurchase.purchased_on, OnAccountPurchase.id)
            .with_for_update()
        )
    )
    if not purchases:
        return None
    method = (
        PaymentMethod.DIRECT_DEBIT if customer.direct_debit_token else PaymentMethod.BANK_TRANSFER
    )
    bill = create_bill(
        customer,
        kind=BillKind.MONTH_END,
        payment_method=method,
        applied_on=closing,
        due_date=month_end_due_date(closing),
        lines=[_month_end_line(purchase) for purchase in purchases],
    )
    db.session.flush()
    for purchase in purchases:
        purchase.month_end_bill_id = bill.id
    queue_bill_mail(bill)
    return bill


def month_end_bills_overdue(first_due: date, last_due: date) -> list[tuple[int, date]]:
    """(bill ID, due date) of the month-end bills still awaiting payment whose due date lies
    between the two days."""
    return [
        (bill_id, due_date)
        for bill_id, due_date in db.session.execute(
            select(Bill.id, Bill.due_date)
            .where(
                Bill.kind == BillKind.MONTH_END,
                Bill.status == BillStatus.AWAITING_PAYMENT,
                Bill.due_date.between(first_due, last_due),
            )
            .order_by(Bill.id)
        )
    ]


def tell_month_end_overdue(bill: Bill) -> None:
    """A month-end bill past its due date is not cancelled (what it bills was used): the
    customer is asked to pay it by bank transfer, and a bill that was to be collected by direct
    debit (the collection did not happen) is now to be paid that way."""
    if bill.payment_method == PaymentMethod.DIRECT_DEBIT:
        change_payment_method(bill, PaymentMethod.BANK_TRANSFER)
    queue_bill_notice(
        bill,
        "month_end_overdue",
        f"【お支払のお願い】請求No.{bill.bill_no} お支払期限日を過ぎています",
        "mail/month_end_overdue.txt",
    )


def set_invoice_terms(customer: Customer, enabled: bool, now: datetime, client: Client) -> bool:
    """Staff put a company on invoice terms, or take it off them (purchases already made are
    still billed at month end). Individuals cannot be. Whether anything changed."""
    if enabled and not customer.is_corporate:
        raise DomainError("請求書払いは法人のお客様だけがご利用いただけます。")
    if customer.invoice_terms == enabled:
        return False
    customer.invoice_terms = enabled
    record_event(
        "invoice_terms_changed",
        client,
        customer=customer,
        detail="請求書払い: " + ("開始" if enabled else "終了"),
        at=now,
    )
    return True
