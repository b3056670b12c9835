"""Closing a month of the account balance (月末締め): the month's statement (ご利用明細), and
the settlement of a negative balance, as the registrar's notice says (請求システム, 例2): the
registered card is charged when the customer pays by card, otherwise one bill for the negative
amount is sent; paying it brings the balance back to zero.

The daily job (`jobs/daily.py`) closes each account once per month, on the month's last day.
`close_month` and `statement_facts` are what any other month-end process (the corporate
consolidated bill, say) calls to write or read an account's statement.
"""

from dataclasses import dataclass
from datetime import date, datetime

from flask import current_app
from sqlalchemy import select

from panel.dates import add_months, end_of_month
from panel.extensions import db
from panel.filters import yen
from panel.models import BalanceStatement, Bill, Customer, LedgerEntry, PaymentAttempt
from panel.models.bills import BillKind, BillLineKind, BillStatus, PaymentMethod
from panel.models.payments import AttemptState
from panel.pdf import render_pdf
from panel.refusals import DomainError
from panel.services.audit import Client, record_event
from panel.services.balance import UNTAXED, current_balance, lock_account, settles_by_card
from panel.services.billing import (
    LineDraft,
    create_bill,
    queue_bill_mail,
    set_payment_method,
)
from panel.services.documents import issuer, recipient_name
from panel.services.mail import queue_templated_mail
from panel.services.payments import pay_by_saved_card

JOB_CLIENT = Client(ip_address=None, user_agent="jobs daily")


def is_month_end(day: date) -> bool:
    return day == end_of_month(day)


def settlement_due_date(month_end: date) -> date:
    """A month-end bill is due at the end of the next month (月末締め翌月末払い)."""
    return end_of_month(add_months(month_end.replace(day=1), 1))


def settlement_key(customer_id: int, month: date) -> str:
    """The idempotency key of a month's card settlement: one charge per account and month."""
    return f"month-end-{customer_id}-{month:%Y-%m}"


# The statement


def _previous_statement(customer: Customer, month: date) -> BalanceStatement | None:
    return db.session.scalar(
        select(BalanceStatement)
        .where(BalanceStatement.customer_id == customer.id, BalanceStatement.month < month)
        .order_by(BalanceStatement.month.desc())
        .limit(1)
    )


def _latest_entry_id(customer: Customer) -> int | None:
    return db.session.scalar(
        select(LedgerEntry.id)
        .where(LedgerEntry.customer_id == customer.id)
        .order_by(LedgerEntry.id.desc())
        .limit(1)
    )


def close_month(customer: Customer, month_end: date) -> BalanceStatement | None:
    """The statement of the month ending on `month_end`, written once: the ledger up to now
    (the entries after the previous statement's), the balance then, the credit limit. None
    when the account had no entry since the last statement and its balance is zero: there is
    nothing to tell."""
    month = month_end.replace(day=1)
    lock_account(customer)
    written = db.session.scalar(
        select(BalanceStatement).where(
            BalanceStatement.customer_id == customer.id, BalanceStatement.month == month
        )
    )
    if written is not None:
        return written
    previous = _previous_statement(customer, month)
    last_entry_id = _latest_entry_id(customer)
    balance = current_balance(customer)
    if last_entry_id == (previous.last_entry_id if previous else None) and balance == 0:
        return None
    statement = BalanceStatement(
        customer_id=customer.id,
        month=month,
        closed_on=month_end,
        opening_balance=previous.closing_balance if previous else 0,
        closing_balance=balance,
        credit_limit=customer.credit_limit,
        last_entry_id=last_entry_id,
    )
    db.session.add(statement)
    db.session.flush()
    return statement


@dataclass(frozen=True)
class StatementFacts:
    """What a statement shows: its entries, oldest first, and their sums."""

    statement: BalanceStatement
    customer: Customer
    entries: list[LedgerEntry]

    @property
    def deposits(self) -> int:
        """Money in: deposits and month-end bills paid (and refunds or corrections in)."""
        return sum(entry.amount for entry in self.entries if entry.amount > 0)

    @property
    def purchases(self) -> int:
        """Money out: what the balance paid for, as a positive sum."""
        return -sum(entry.amount for entry in self.entries if entry.amount < 0)

    @property
    def available(self) -> int:
        """現在利用できる金額 at the close."""
        return self.statement.closing_balance + self.statement.credit_limit


def statement_facts(statement: BalanceStatement) -> StatementFacts:
    customer = db.session.get_one(Customer, statement.customer_id)
    previous = _previous_statement(customer, statement.month)
    entries: list[LedgerEntry] = []
    if statement.last_entry_id is not None:
        query = select(LedgerEntry).where(
            LedgerEntry.customer_id == customer.id, LedgerEntry.id <= statement.last_entry_id
        )
        if previous is not None and previous.last_entry_id is not None:
            query = query.where(LedgerEntry.id > previous.last_entry_id)
        entries = list(db.session.scalars(query.order_by(LedgerEntry.id)))
    return StatementFacts(statement, customer, entries)


def statement_pdf(statement: BalanceStatement, today: date) -> bytes:
    """The statement as an A4 PDF (made from the ledger, which never changes, so the same
    statement always shows the same figures)."""
    facts = statement_facts(statement)
    return render_pdf(
        "pdf/statement.html",
        facts=facts,
        statement=statement,
        issuer=issuer(),
        recipient=recipient_name(facts.customer),
        issued_on=today,
    )


def queue_statement_mail(statement: BalanceStatement, by_card: bool) -> None:
    facts = statement_facts(statement)
    base_url = current_app.config["PANEL_BASE_URL"].rstrip("/")
    queue_templated_mail(
        facts.customer,
        "balance_statement",
        f"【ご利用明細】{statement.month.year}年{statement.month.month}月分 アカウント残高",
        "mail/balance_statement.txt",
        bill=statement.settlement_bill,
        facts=facts,
        statement=statement,
        by_card=by_card,
        balance_url=f"{base_url}/balance",
    )


# Settling a negative balance


def amount_to_settle(customer: Customer, balance: int) -> int:
    """What a month-end bill asks for: the negative balance, less what month-end bills still
    awaiting payment ask for already (never billed twice)."""
    if balance >= 0:
        return 0
    awaiting = db.session.scalars(
        select(Bill).where(
            Bill.customer_id == customer.id,
            Bill.kind == BillKind.MONTH_END,
            Bill.status == BillStatus.AWAITING_PAYMENT,
        )
    )
    billed = sum(
        line.amount
        for bill in awaiting
        for line in bill.lines
        if line.kind == BillLineKind.BALANCE_DUE
    )
    return max(0, -balance - billed)


def settlement_line(month_end: date, balance: int, amount: int) -> LineDraft:
    return LineDraft(
        kind=BillLineKind.BALANCE_DUE,
        description=(
            f"アカウント残高のご精算({month_end.year}年{month_end.month}月末の残高 {yen(balance)})"
        ),
        amount=amount,
        tax_rate=UNTAXED,  # the purchases were taxed on their own bills
    )


def _card_declined(bill: Bill, key: str, reason: str, now: datetime) -> None:
    """The card settlement was declined: the bill stays, to be paid by bank transfer (or
    another card on its page), and the customer is told both."""
    bill = db.session.get_one(Bill, bill.id)
    if bill.status == BillStatus.AWAITING_PAYMENT:
        set_payment_method(bill, PaymentMethod.BANK_TRANSFER)
        db.session.flush()
    queue_templated_mail(
        bill.customer,
        "month_end_card_declined",
        f"【月末のご請求】クレジットカード決済ができませんでした(請求No.{bill.bill_no})",
        "mail/month_end_card_declined.txt",
        bill=bill,
        reason=reason,
        bill_url=f"{current_app.config['PANEL_BASE_URL'].rstrip('/')}/bills/{bill.bill_no}",
    )
    queue_bill_mail(bill)
    record_event(
        "month_end_card_declined",
        JOB_CLIENT,
        customer=bill.customer,
        detail=f"請求No.{bill.bill_no} {reason} ({key})",
        at=now,
    )


def settle_month(customer_id: int, month_end: date, now: datetime) -> BalanceStatement | None:
    """Close the month of one account: its statement written and e-mailed, and a negative
    balance settled: one month-end bill for it, charged at once to the card on file when the
    customer pays by card (a decline leaves the bill to be paid by bank transfer), otherwise
    sent to be paid by bank transfer or card. The caller has claimed (account, month) and
    commits what follows the card company's answer; everything before it (the statement, the
    bill, the mails, the payment attempt) is committed before the card is charged."""
    customer = db.session.get_one(Customer, customer_id)
    statement = close_month(customer, month_end)
    if statement is None:
        return None
    amount = amount_to_settle(customer, statement.closing_balance)
    by_card = settles_by_card(customer)
    if amount == 0:
        queue_statement_mail(statement, by_card)
        return statement
    bill = create_bill(
        customer,
        kind=BillKind.MONTH_END,
        payment_method=PaymentMethod.CARD if by_card else PaymentMethod.BANK_TRANSFER,
        applied_on=month_end,
        due_date=settlement_due_date(month_end),
        lines=[settlement_line(month_end, statement.closing_balance, amount)],
    )
    db.session.flush()
    statement.settlement_bill_id = bill.id
    db.session.flush()
    db.session.refresh(statement)
    queue_statement_mail(statement, by_card)
    if not by_card:
        queue_bill_mail(bill)
        return statement
    assert customer.saved_card_token is not None, "settles by card: a card is on file"
    key = settlement_key(customer.id, statement.month)
    statement_id = statement.id
    try:
        pay_by_saved_card(bill, customer.saved_card_token, key, month_end, now, JOB_CLIENT)
    except DomainError as declined:
        attempt = db.session.scalar(
            select(PaymentAttempt).where(PaymentAttempt.idempotency_key == key)
        )
        if attempt is None or attempt.state != AttemptState.FAILED:
            # The gateway did not answer: the attempt is settled later by its key
            # (`payments reconcile`), never charged again; the bill waits for it.
            raise
        _card_declined(bill, key, declined.message, now)
    return db.session.get_one(BalanceStatement, statement_id)
