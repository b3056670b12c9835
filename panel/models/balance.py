"""The account balance (アカウント残高): an append-only ledger, and the monthly statements.

The balance is the sum of the ledger's amounts; each entry also keeps the balance after it,
written under the account's row lock, so the latest entry's `balance_after` is the balance.
"""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from panel.extensions import Model
from panel.models.bills import Bill
from panel.models.types import UtcDateTime, one_of, utc_now


class LedgerKind(StrEnum):
    DEPOSIT = "deposit"  #: 入金: a deposit bill paid (card or bank transfer)
    PURCHASE = "purchase"  #: ご利用: a bill paid from the balance
    SETTLEMENT = "settlement"  #: 月末精算: the month-end bill of a negative balance paid
    REFUND = "refund"  #: 返金: money paid back (staff)
    CORRECTION = "correction"  #: 訂正: an entry corrected by another one (staff)


class LedgerEntry(Model):
    """One change of a customer's balance, with its cause. Rows are only ever inserted: a
    mistake is corrected by another entry, never by changing this one (a database trigger
    refuses any UPDATE)."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        # Each cause changes the balance once: a bill is paid from it once, a deposit is
        # credited once, however often its payment is delivered.
        UniqueConstraint("customer_id", "cause"),
        Index("ix_ledger_entries_customer_id_id", "customer_id", "id"),
        one_of("kind", LedgerKind),
        CheckConstraint("amount <> 0", name="amount_not_zero"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the account whose balance changes
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    #: deposit, purchase, settlement, refund or correction
    kind: Mapped[str] = mapped_column(String(16))
    #: what caused it, unique per account: "deposit:<bill No.>", "bill:<bill No.>", ...
    cause: Mapped[str] = mapped_column(String(100))
    #: yen into the balance (positive) or out of it (negative)
    amount: Mapped[int]
    #: the balance once this entry is counted
    balance_after: Mapped[int]
    #: what the customer reads in the ledger
    description: Mapped[str] = mapped_column(String(200))
    #: the bill that caused it, if any
    bill_id: Mapped[int | None] = mapped_column(ForeignKey("bills.id"))
    #: when it was booked
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)

    bill: Mapped[Bill | None] = relationship()


class BalanceStatement(Model):
    """The month's statement of an account's balance (ご利用明細), written when the month is
    closed on its last day: the ledger entries after the previous statement's last one up to
    its own, the balance before and after, and how a negative balance is settled."""

    __tablename__ = "balance_statements"
    __table_args__ = (UniqueConstraint("customer_id", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the account (the unique constraint's index finds its statements)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    #: the first day of the month the statement closes
    month: Mapped[date]
    #: the Japan date the month was closed (its last day)
    closed_on: Mapped[date]
    #: the balance at the previous statement's close
    opening_balance: Mapped[int]
    #: the balance at this close
    closing_balance: Mapped[int]
    #: the credit limit at this close
    credit_limit: Mapped[int]
    #: the last ledger entry the statement counts; none while the account has no entry
    last_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))
    #: the month-end bill that settles a negative closing balance, if one was made
    settlement_bill_id: Mapped[int | None] = mapped_column(ForeignKey("bills.id"))
    #: when the statement was written
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)

    settlement_bill: Mapped[Bill | None] = relationship()
