"""Purchases on account (請求書払い, 月末締め翌月末払い): what a corporate customer on invoice
terms bought during a month, each line billed on the month's one consolidated bill."""

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from panel.extensions import Model
from panel.models.bills import TAX_RATES, Bill, BillLineKind
from panel.models.contracts import Contract
from panel.models.customers import Customer
from panel.models.types import UtcDateTime, utc_now

#: The purchase method 請求書払い, chosen at the renewal confirm step by customers on invoice
#: terms. It is no bill's payment method: a purchase on account makes no bill of its own; the
#: month-end bill that lists it is paid by bank transfer or direct debit.
ON_ACCOUNT = "on_account"

#: The kinds of line a purchase has: a contract renewed, and the month-end days added to it.
PURCHASE_LINE_KINDS = (BillLineKind.RENEWAL, BillLineKind.MONTH_END_PRORATION)
_PURCHASE_KINDS_SQL = "(" + ", ".join(f"'{kind.value}'" for kind in PURCHASE_LINE_KINDS) + ")"


class OnAccountPurchase(Model):
    """One line of a purchase on account: applied at once (the contract is extended when it is
    bought), billed on the customer's month-end bill for the month of `purchased_on`."""

    __tablename__ = "on_account_purchases"
    __table_args__ = (
        # One application (its confirm form's token) is bought once.
        UniqueConstraint("customer_id", "application_token", "position"),
        CheckConstraint(f"kind IN {_PURCHASE_KINDS_SQL}", name="kind"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        CheckConstraint(
            f"tax_rate IN ({', '.join(str(rate) for rate in TAX_RATES)})", name="tax_rate"
        ),
        CheckConstraint(
            "(period_start IS NULL) = (period_end IS NULL) AND period_start <= period_end",
            name="period_in_order",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the account that bought
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    #: ご利用日: the Japan date of the purchase; its month is the month it is billed for
    purchased_on: Mapped[date]
    #: the confirm form's one-time token: the same application sent twice buys once
    application_token: Mapped[str] = mapped_column(String(64))
    #: order of the line within its application, from 1
    position: Mapped[int]
    #: the user who bought
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: renewal, or month_end_proration (the days added to reach the month's end)
    kind: Mapped[str] = mapped_column(String(32))
    #: the text printed on the bill
    description: Mapped[str] = mapped_column(String(200))
    #: tax-included amount in yen
    amount: Mapped[int]
    #: consumption-tax rate in percent
    tax_rate: Mapped[int]
    #: the contract bought for
    contract_id: Mapped[int | None] = mapped_column(ForeignKey("contracts.id"), index=True)
    #: the renewal period in months
    period_months: Mapped[int | None]
    #: the contract's renewal date after the purchase
    new_renewal_date: Mapped[date | None]
    #: the first and last day the line pays for
    period_start: Mapped[date | None]
    period_end: Mapped[date | None]
    #: the month-end bill that bills it; none until that bill is made
    month_end_bill_id: Mapped[int | None] = mapped_column(ForeignKey("bills.id"), index=True)
    #: when it was bought
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)

    customer: Mapped[Customer] = relationship()
    contract: Mapped[Contract | None] = relationship()
    month_end_bill: Mapped[Bill | None] = relationship()
