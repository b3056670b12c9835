"""アカウント残高: the ledger (credit and debit, each once per cause), what the balance and the
amount available are, and deposits (入金).

The balance is the sum of the ledger's amounts. Every entry is booked under the account's row
lock (PostgreSQL; SQLite's one writer at a time), which also keeps the balance after it, so the
latest entry's `balance_after` is the balance, and no two debits can both pass the check that
the balance stays at or above minus the credit limit.

Paying a bill from the balance is `services/payments.py`'s `pay_from_balance`; closing a month
(statement and settlement of a negative balance) is `services/month_end.py`.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import func, select

from panel import labels
from panel.extensions import db
from panel.models import BalanceStatement, Bill, Customer, LedgerEntry
from panel.models.balance import LedgerKind
from panel.models.bills import BillKind, BillLineKind, BillStatus
from panel.refusals import DomainError
from panel.services.billing import (
    BALANCE_BILL_METHODS,
    MAX_TRANSFER_AMOUNT,
    LineDraft,
    create_bill,
    list_awaiting_bills,
    queue_bill_mail,
    refuse_foreign_token,
)
from panel.services.renewal.pricing import RenewalQuote

#: The smallest and the largest deposit, in yen.
MIN_DEPOSIT = 1_000
MAX_DEPOSIT = MAX_TRANSFER_AMOUNT
#: A deposit bill is due this many days after it is made (like a renewal bill at most).
DEPOSIT_DAYS_TO_PAY = 14
#: Entries on one page of the ledger.
ENTRIES_PER_PAGE = 20
#: Bill lines whose money goes into the balance when the bill is paid.
BALANCE_LINE_KINDS = (BillLineKind.DEPOSIT, BillLineKind.BALANCE_DUE)
#: A deposit is a prepayment, not a sale: no consumption tax until the balance buys something
#: (which is then taxed on its own bill).
UNTAXED = 0


@dataclass(frozen=True)
class Balance:
    """アカウント残高 and what it allows."""

    #: the ledger's sum; negative when the account owes
    balance: int
    #: how far below zero the balance may go
    credit_limit: int

    @property
    def available(self) -> int:
        """現在利用できる金額: the balance plus the credit limit."""
        return self.balance + self.credit_limit


def current_balance(customer: Customer) -> int:
    """The account's balance: its latest entry's balance after (0 without any)."""
    latest = db.session.scalar(
        select(LedgerEntry.balance_after)
        .where(LedgerEntry.customer_id == customer.id)
        .order_by(LedgerEntry.id.desc())
        .limit(1)
    )
    return latest or 0


def account_balance(customer: Customer) -> Balance:
    return Balance(current_balance(customer), customer.credit_limit)


def available_amounts(customer_ids: list[int]) -> dict[int, int]:
    """現在利用できる金額 of each of these accounts, read in two queries (not locked: for
    choosing whom the daily job need look at, never for paying)."""
    if not customer_ids:
        return {}
    limits = dict(
        db.session.execute(
            select(Customer.id, Customer.credit_limit).where(Customer.id.in_(customer_ids))
        )
        .tuples()
        .all()
    )
    latest = (
        select(func.max(LedgerEntry.id))
        .where(LedgerEntry.customer_id.in_(customer_ids))
        .group_by(LedgerEntry.customer_id)
    )
    balances = dict(
        db.session.execute(
            select(LedgerEntry.customer_id, LedgerEntry.balance_after).where(
                LedgerEntry.id.in_(latest)
            )
        )
        .tuples()
        .all()
    )
    return {id_: balances.get(id_, 0) + limit for id_, limit in limits.items()}


def lock_account(customer: Customer) -> Customer:
    """The account locked for a change of its balance (PostgreSQL: other changes wait for
    this transaction) and re-read, so its credit limit is the one in force."""
    db.session.refresh(customer, with_for_update=True)
    return customer


def shortage_message(available: int, amount: int) -> str:
    return (
        f"アカウント残高の現在利用できる金額({available:,}円)が不足しているため、"
        f"{amount:,}円をお支払いいただけません。「請求書/残高」からご入金ください。"
    )


def _book(
    customer: Customer,
    *,
    kind: str,
    cause: str,
    amount: int,
    description: str,
    now: datetime,
    bill: Bill | None,
) -> LedgerEntry:
    lock_account(customer)
    earlier = db.session.scalar(
        select(LedgerEntry).where(
            LedgerEntry.customer_id == customer.id, LedgerEntry.cause == cause
        )
    )
    if earlier is not None:
        return earlier  # this cause moved the balance already
    balance = account_balance(customer)
    if amount < 0 and balance.available + amount < 0:
        raise DomainError(shortage_message(balance.available, -amount), field="payment_method")
    entry = LedgerEntry(
        customer_id=customer.id,
        kind=kind,
        cause=cause,
        amount=amount,
        balance_after=balance.balance + amount,
        description=description[:200],
        bill_id=bill.id if bill else None,
        created_at=now,
    )
    db.session.add(entry)
    db.session.flush()
    return entry


def credit(
    customer: Customer,
    *,
    kind: str,
    cause: str,
    amount: int,
    description: str,
    now: datetime,
    bill: Bill | None = None,
) -> LedgerEntry:
    """Money into the balance, once per `cause` (the same cause again returns its entry)."""
    assert amount > 0, "a credit adds yen"
    return _book(
        customer,
        kind=kind,
        cause=cause,
        amount=amount,
        description=description,
        now=now,
        bill=bill,
    )


def debit(
    customer: Customer,
    *,
    kind: str,
    cause: str,
    amount: int,
    description: str,
    now: datetime,
    bill: Bill | None = None,
) -> LedgerEntry:
    """Money out of the balance, once per `cause`; refused when 現在利用できる金額 (balance
    plus credit limit) does not cover it."""
    assert amount > 0, "a debit takes yen"
    return _book(
        customer,
        kind=kind,
        cause=cause,
        amount=-amount,
        description=description,
        now=now,
        bill=bill,
    )


def credit_paid_bill(bill: Bill, now: datetime) -> LedgerEntry | None:
    """A paid bill's money for the balance (a deposit, the month-end bill of a negative
    balance) credited to it, once per bill; None for a bill that puts nothing into it."""
    amount = sum(line.amount for line in bill.lines if line.kind in BALANCE_LINE_KINDS)
    if amount <= 0:
        return None
    method = labels.PAYMENT_METHOD[bill.payment_method]
    if bill.kind == BillKind.DEPOSIT:
        kind, cause = LedgerKind.DEPOSIT, f"deposit:{bill.bill_no}"
        description = f"ご入金({method}) 請求No.{bill.bill_no}"
    else:
        kind, cause = LedgerKind.SETTLEMENT, f"settlement:{bill.bill_no}"
        description = f"月末のご請求のお支払({method}) 請求No.{bill.bill_no}"
    return credit(
        bill.customer,
        kind=kind,
        cause=cause,
        amount=amount,
        description=description,
        now=now,
        bill=bill,
    )


def ledger_page(customer: Customer, page: int) -> Pagination:
    """One page of the customer's ledger, newest first."""
    statement = (
        select(LedgerEntry)
        .where(LedgerEntry.customer_id == customer.id)
        .order_by(LedgerEntry.id.desc())
    )
    return db.paginate(statement, page=page, per_page=ENTRIES_PER_PAGE, error_out=False)


def ledger_sum(customer: Customer) -> int:
    """The sum of every entry's amount: the balance, counted the long way (for checks)."""
    amounts = db.session.scalars(
        select(LedgerEntry.amount).where(LedgerEntry.customer_id == customer.id)
    )
    return sum(amounts)


# Deposits (入金)


def deposit_line(amount: int) -> LineDraft:
    return LineDraft(
        kind=BillLineKind.DEPOSIT,
        description="アカウント残高へのご入金",
        amount=amount,
        tax_rate=UNTAXED,
    )


def start_deposit(
    customer: Customer, amount: int, method: str, application_token: str, today: date
) -> Bill:
    """入金: a deposit bill awaiting payment by card (paid on its page at once, through a
    payment attempt like any card payment) or bank transfer (paid when the bank's notification
    or staff confirm the money). The balance is credited when the bill is paid. The form's
    token makes a double submit find the bill the first one made."""
    refuse_foreign_token(customer, application_token)
    if method not in BALANCE_BILL_METHODS:
        raise DomainError("お支払方法を選択してください。", field="method")
    if not MIN_DEPOSIT <= amount <= MAX_DEPOSIT:
        raise DomainError(
            f"入金額は{MIN_DEPOSIT:,}円以上{MAX_DEPOSIT:,}円以下で入力してください。",
            field="amount",
        )
    lock_account(customer)
    earlier = db.session.scalar(
        select(Bill).where(
            Bill.customer_id == customer.id, Bill.application_token == application_token
        )
    )
    if earlier is not None:
        return earlier
    bill = create_bill(
        customer,
        kind=BillKind.DEPOSIT,
        payment_method=method,
        applied_on=today,
        due_date=today + timedelta(days=DEPOSIT_DAYS_TO_PAY),
        lines=[deposit_line(amount)],
    )
    bill.application_token = application_token
    db.session.flush()
    queue_bill_mail(bill)
    return bill


def settles_by_card(customer: Customer) -> bool:
    """A negative balance is settled at month end by the card on file when there is one
    (the customer pays by card), otherwise by a bill."""
    return customer.saved_card_token is not None


PAYABLE_FROM_BALANCE = (BillKind.RENEWAL,)


def payable_from_balance(bill: Bill) -> bool:
    """Money into the balance cannot come out of it: deposits and month-end bills are paid
    by card or bank transfer."""
    return bill.kind in PAYABLE_FROM_BALANCE


def quote_price_from_balance(quote: RenewalQuote) -> int:
    """What an application priced by `quote` (a `RenewalQuote`) costs paid from the balance:
    no convenience-store fee."""
    return sum(
        line.amount for line in quote.lines if line.kind != BillLineKind.CONVENIENCE_STORE_FEE
    )


def price_from_balance(bill: Bill) -> int:
    """What paying `bill` from the balance costs: its total without the convenience-store fee
    (the fee goes with that method)."""
    return sum(
        line.amount for line in bill.lines if line.kind != BillLineKind.CONVENIENCE_STORE_FEE
    )


# The page (請求書/残高)


def list_statements(customer: Customer, limit: int = 24) -> list[BalanceStatement]:
    """The customer's latest monthly statements, newest first."""
    return list(
        db.session.scalars(
            select(BalanceStatement)
            .where(BalanceStatement.customer_id == customer.id)
            .order_by(BalanceStatement.month.desc())
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class BalancePage:
    balance: Balance
    #: one page of the ledger, newest first
    entries: Pagination
    #: the latest monthly statements, newest first
    statements: list[BalanceStatement]
    #: deposits and month-end bills awaiting payment
    awaiting: list[Bill]
    #: a negative balance is settled at month end by the card on file (else by a bill)
    settles_by_card: bool


def balance_page(customer: Customer, page: int) -> BalancePage:
    awaiting = [
        bill
        for bill in list_awaiting_bills(customer)
        if bill.kind in (BillKind.DEPOSIT, BillKind.MONTH_END)
        and bill.status == BillStatus.AWAITING_PAYMENT
    ]
    return BalancePage(
        balance=account_balance(customer),
        entries=ledger_page(customer, page),
        statements=list_statements(customer),
        awaiting=awaiting,
        settles_by_card=settles_by_card(customer),
    )
