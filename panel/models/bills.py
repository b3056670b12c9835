"""Bills (ご請求) and their lines."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from panel.extensions import Model
from panel.models.contracts import Contract
from panel.models.customers import Customer
from panel.models.plans import Plan
from panel.models.types import UtcDateTime, one_of, utc_now
from panel.tax import RateTotal, totals_by_rate

#: The standard consumption-tax rate, in percent; 8 is the reduced rate, 0 is for untaxed money
#: (a deposit to the account balance is a prepayment, not a sale).
STANDARD_TAX_RATE = 10
TAX_RATES = (0, 8, 10)


#: a bill still awaiting payment
AWAITING = "status = 'awaiting_payment'"


class BillStatus(StrEnum):
    AWAITING_PAYMENT = "awaiting_payment"  #: ご入金待ち
    PAID = "paid"  #: お支払済
    CANCELLED = "cancelled"  #: 取消


class PaymentMethod(StrEnum):
    CARD = "card"  #: クレジットカード
    PAYPAL = "paypal"  #: PayPal
    BANK_TRANSFER = "bank_transfer"  #: 銀行振込
    CONVENIENCE_STORE = "convenience_store"  #: コンビニ決済
    BALANCE = "balance"  #: アカウント残高
    DIRECT_DEBIT = "direct_debit"  #: 口座振替


class BillKind(StrEnum):
    RENEWAL = "renewal"  #: contract renewal, with or without a plan change
    DEPOSIT = "deposit"  #: money paid into the account balance
    MONTH_END = "month_end"  #: the month-end bill of a negative balance or invoice terms


class BillLineKind(StrEnum):
    RENEWAL = "renewal"  #: a contract extended by a period
    MONTH_END_PRORATION = "month_end_proration"  #: days added to reach the month's end
    CONVENIENCE_STORE_FEE = "convenience_store_fee"  #: the 200-yen store fee
    DEPOSIT = "deposit"  #: money into the account balance
    BALANCE_DUE = "balance_due"  #: a negative balance settled at month end
    ON_ACCOUNT = "on_account"  #: a purchase on account (請求書払い), billed at month end


#: Lines that are items of their own; the others (proration, store fee) belong to one.
ITEM_LINE_KINDS = (
    BillLineKind.RENEWAL,
    BillLineKind.DEPOSIT,
    BillLineKind.BALANCE_DUE,
    BillLineKind.ON_ACCOUNT,
)


class Bill(Model):
    """What an application creates: lines, a payment method, a due date and a status."""

    __tablename__ = "bills"
    __table_args__ = (
        one_of("status", BillStatus),
        one_of("payment_method", PaymentMethod),
        one_of("kind", BillKind),
        # One bill per confirm form of a customer (the token is made for that customer).
        UniqueConstraint("customer_id", "application_token"),
        CheckConstraint("due_date >= applied_on", name="due_after_application"),
        CheckConstraint("(status = 'paid') = (paid_at IS NOT NULL)", name="paid_at_iff_paid"),
        CheckConstraint(
            "(status = 'cancelled') = (cancelled_at IS NOT NULL)",
            name="cancelled_at_iff_cancelled",
        ),
        # Bills awaiting payment, by due date (the staff's confirmation queue, the daily job's
        # overdue bills): a partial index holds only those, however many bills are settled.
        Index(
            "ix_bills_awaiting_due_date",
            "due_date",
            sqlite_where=text(AWAITING),
            postgresql_where=text(AWAITING),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: 請求No., shown to customers and used in URLs
    bill_no: Mapped[str] = mapped_column(String(20), unique=True)
    #: the account billed
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    #: what the application was for
    kind: Mapped[str] = mapped_column(String(16))
    #: awaiting_payment, paid or cancelled
    status: Mapped[str] = mapped_column(String(20), default=BillStatus.AWAITING_PAYMENT)
    #: the payment method chosen at application time
    payment_method: Mapped[str] = mapped_column(String(20))
    #: the Japan date of the application (お申込日; the invoice's 取引日)
    applied_on: Mapped[date]
    #: お支払期限日: the last Japan date on which payment is accepted
    due_date: Mapped[date]
    #: the one-time token of the confirm form that applied: a double submit finds this bill
    application_token: Mapped[str | None] = mapped_column(String(64))
    #: when the application was made
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    #: when the payment was applied; set exactly when the status is paid
    paid_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: when the bill was cancelled; set exactly when the status is cancelled
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    customer: Mapped[Customer] = relationship()
    lines: Mapped[list["BillLine"]] = relationship(
        back_populates="bill", order_by="BillLine.position", cascade="all, delete-orphan"
    )

    @property
    def total(self) -> int:
        """The tax-included total in yen: the sum of the lines."""
        return sum(line.amount for line in self.lines)

    @property
    def tax_totals(self) -> list[RateTotal]:
        """The total and the consumption tax per tax rate, tax rounded once per rate."""
        return totals_by_rate((line.amount, line.tax_rate) for line in self.lines)

    @property
    def item_lines(self) -> list["BillLine"]:
        """What the bill is for: its lines that are items of their own (the bill list names the
        first and counts the others)."""
        return [line for line in self.lines if line.kind in ITEM_LINE_KINDS]


class BillLine(Model):
    """One line of a bill, with its tax-included amount and tax rate."""

    __tablename__ = "bill_lines"
    __table_args__ = (
        UniqueConstraint("bill_id", "position"),
        one_of("kind", BillLineKind),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        CheckConstraint(
            f"tax_rate IN ({', '.join(str(rate) for rate in TAX_RATES)})", name="tax_rate"
        ),
        CheckConstraint(
            "period_months IS NULL OR period_months > 0", name="period_months_positive"
        ),
        CheckConstraint(
            "(period_start IS NULL) = (period_end IS NULL) AND period_start <= period_end",
            name="period_in_order",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the bill this line is on
    bill_id: Mapped[int] = mapped_column(ForeignKey("bills.id"), index=True)
    #: order of the line on the bill, from 1
    position: Mapped[int]
    #: what the line charges for
    kind: Mapped[str] = mapped_column(String(32))
    #: the text printed on the bill
    description: Mapped[str] = mapped_column(String(200))
    #: tax-included amount in yen
    amount: Mapped[int]
    #: consumption-tax rate in percent
    tax_rate: Mapped[int] = mapped_column(default=STANDARD_TAX_RATE)
    #: the contract the line renews, if any
    contract_id: Mapped[int | None] = mapped_column(ForeignKey("contracts.id"), index=True)
    #: the renewal period in months
    period_months: Mapped[int | None]
    #: the contract's renewal date once the bill is paid, fixed when the bill is made
    new_renewal_date: Mapped[date | None]
    #: the first and last day the line pays for (printed on invoices); none when it is no term
    period_start: Mapped[date | None]
    period_end: Mapped[date | None]
    #: the plan the contract moves to when the bill is paid
    target_plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id"))
    #: ご利用日: the day of the purchase on account the line bills (month-end bills)
    purchased_on: Mapped[date | None]

    bill: Mapped[Bill] = relationship(back_populates="lines")
    contract: Mapped[Contract | None] = relationship()
    target_plan: Mapped[Plan | None] = relationship()


class BillNumberCounter(Model):
    """The last bill No. handed out for a day; bill Nos. are the date and a daily sequence."""

    __tablename__ = "bill_number_counters"

    #: the Japan date the numbers belong to
    issued_on: Mapped[date] = mapped_column(primary_key=True)
    #: the last sequence number used that day
    last_number: Mapped[int]
