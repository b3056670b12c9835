"""アカウント残高: the ledger (each cause once, never below minus the credit limit, append-only),
deposits, paying from the balance, and the registrar's two examples exactly as written."""

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DatabaseError

from panel.extensions import db
from panel.gateways import CardDetails, Notification
from panel.jobs.daily import run_daily
from panel.models import Bill, Contract, DomainPrice, LedgerEntry, OutboxMail, Payment
from panel.models.balance import LedgerKind
from panel.models.bills import BillKind, BillLineKind, BillStatus, PaymentMethod
from panel.refusals import DomainError
from panel.services.audit import Client
from panel.services.balance import (
    account_balance,
    credit,
    current_balance,
    debit,
    ledger_sum,
    start_deposit,
)
from panel.services.billing import (
    EXPIRED_FORM,
    cancel_bill,
    new_application_token,
    transfer_reference,
)
from panel.services.documents import invoice, receipt
from panel.services.payments import (
    PaymentOutcome,
    pay_by_card,
    pay_from_balance,
    receive_notification,
)
from panel.services.renewal.application import apply_renewal
from panel.services.renewal.pricing import Selection
from tests import factories
from tests.services.test_documents import pdf_text

TODAY = date(2026, 11, 21)
NOW = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
MONTH_END = date(2026, 11, 30)
CLIENT = Client(ip_address="203.0.113.9", user_agent="pytest")


@pytest.fixture
def customer():
    return factories.customer()


def _count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _domain_bill(customer, name: str, price: int, years: int = 1, method=PaymentMethod.CARD):
    """A renewal of the domain `name` (its TLD at `price` yen a year), applied: awaiting
    payment."""
    tld = name.split(".", 1)[1]
    if db.session.scalar(select(DomainPrice).where(DomainPrice.tld == tld)) is None:
        factories.domain_price(tld, price)
    domain = factories.domain(customer, name, date(2027, 1, 10))
    return factories.renewal_bill(customer, domain, months=12 * years, method=method, today=TODAY)


def _pay_from_balance(bill) -> PaymentOutcome:
    outcome = pay_from_balance(bill, NOW, CLIENT)
    db.session.commit()
    return outcome


def _bank_notification(bill, event_id: str = "evt-1") -> Notification:
    return Notification(
        event_id=event_id,
        method=PaymentMethod.BANK_TRANSFER,
        reference=transfer_reference(bill),
        amount=bill.total,
        received_at=NOW,
    )


def _entries(customer) -> list[tuple[str, int, int]]:
    db.session.expire_all()
    return [
        (entry.kind, entry.amount, entry.balance_after)
        for entry in db.session.scalars(
            select(LedgerEntry)
            .where(LedgerEntry.customer_id == customer.id)
            .order_by(LedgerEntry.id)
        )
    ]


# The ledger


def test_each_entry_keeps_the_balance_after_it_and_the_balance_is_their_sum(customer):
    credit(customer, kind="deposit", cause="a", amount=5_000, description="入金", now=NOW)
    debit(customer, kind="purchase", cause="b", amount=1_200, description="利用", now=NOW)
    credit(customer, kind="deposit", cause="c", amount=300, description="入金", now=NOW)
    db.session.commit()

    assert _entries(customer) == [
        ("deposit", 5_000, 5_000),
        ("purchase", -1_200, 3_800),
        ("deposit", 300, 4_100),
    ]
    assert current_balance(customer) == ledger_sum(customer) == 4_100


def test_the_same_cause_moves_the_balance_once(customer):
    first, again = (
        credit(customer, kind="deposit", cause="deposit:x", amount=5_000, description="", now=NOW)
        for _ in range(2)
    )
    db.session.commit()
    assert again.id == first.id
    assert current_balance(customer) == 5_000
    assert _count(LedgerEntry) == 1


def test_a_debit_may_take_the_balance_down_to_minus_the_credit_limit_and_no_further(customer):
    factories.balance(customer, 1_000, credit_limit=2_000)
    debit(customer, kind="purchase", cause="ok", amount=3_000, description="", now=NOW)
    db.session.commit()
    assert account_balance(customer).balance == -2_000
    assert account_balance(customer).available == 0

    with pytest.raises(DomainError) as refused:
        debit(customer, kind="purchase", cause="one yen more", amount=1, description="", now=NOW)
    assert refused.value.message == (
        "アカウント残高の現在利用できる金額(0円)が不足しているため、1円をお支払いいただけません。"
        "「請求書/残高」からご入金ください。"
    )
    db.session.rollback()
    assert current_balance(customer) == -2_000


def test_the_database_refuses_to_change_a_ledger_entry(customer):
    entry = credit(customer, kind="deposit", cause="a", amount=5_000, description="", now=NOW)
    db.session.commit()
    with pytest.raises(DatabaseError, match="append-only"):
        db.session.execute(
            text("UPDATE ledger_entries SET amount = 50000 WHERE id = :id"), {"id": entry.id}
        )
    db.session.rollback()
    assert db.session.get(LedgerEntry, entry.id).amount == 5_000


# The registrar's examples (請求システム), as written: the figures the notice calls
# 現在利用できる金額 move with the balance, so they are the account balance (残高): example 2
# buys 20,000円 with 10,000円 in it, which the credit limit allows (docs/rules.md).


def test_example_1_a_1000_yen_purchase_from_10000_yen_leaves_9000_and_no_month_end_bill(customer):
    factories.balance(customer, 10_000)  # 現在利用できる金額: 10,000円 (no credit limit)
    assert account_balance(customer).available == 10_000
    bill = _domain_bill(customer, "taro.xyz", 1_000)  # ドメイン取得利用: 1,000円

    assert _pay_from_balance(bill) == PaymentOutcome.APPLIED

    after = account_balance(customer)
    assert (after.balance, after.available) == (9_000, 9_000)
    run_daily(MONTH_END)
    assert _count(Bill, Bill.kind == BillKind.MONTH_END) == 0  # 月末の請求はありません


def test_example_2_a_20000_yen_purchase_goes_to_minus_10000_and_is_billed_at_month_end(customer):
    factories.balance(customer, 10_000, credit_limit=10_000)
    bill = _domain_bill(customer, "taro.ai", 10_000, years=2)  # ドメイン取得利用: 20,000円
    assert bill.total == 20_000

    assert _pay_from_balance(bill) == PaymentOutcome.APPLIED
    after = account_balance(customer)
    assert after.balance == -10_000  # 取得後: -10,000円
    assert after.available == 0  # nothing more can be bought until it is settled

    run_daily(MONTH_END)  # 月末の残高が-10,000円: 10,000円分の請求書
    db.session.expire_all()
    (month_end,) = db.session.scalars(select(Bill).where(Bill.kind == BillKind.MONTH_END)).all()
    assert month_end.total == 10_000
    assert [line.kind for line in month_end.lines] == [BillLineKind.BALANCE_DUE]
    assert month_end.payment_method == PaymentMethod.BANK_TRANSFER  # no card on file
    assert month_end.due_date == date(2026, 12, 31)

    receive_notification(_bank_notification(month_end), "sandbox", NOW, CLIENT)  # 銀行振込
    db.session.commit()
    assert account_balance(customer).balance == 0  # 新しい残高: 0円
    assert ledger_sum(customer) == 0


# Paying a bill from the balance


def test_paying_from_the_balance_pays_the_bill_at_once_like_any_payment(customer):
    plan = factories.plan()
    server = factories.server(customer, "taro.jp", plan, date(2026, 11, 30))
    bill = factories.renewal_bill(
        customer, server, method=PaymentMethod.CONVENIENCE_STORE, today=TODAY
    )
    assert bill.total == 12_540 + 200  # the store fee, which the balance does not pay
    factories.balance(customer, 20_000)

    assert _pay_from_balance(bill) == PaymentOutcome.APPLIED

    db.session.expire_all()
    bill = db.session.get(Bill, bill.id)
    assert (bill.status, bill.payment_method, bill.total) == (
        BillStatus.PAID,
        PaymentMethod.BALANCE,
        12_540,
    )
    assert db.session.get(Contract, server.id).renewal_date == date(2027, 11, 30)
    entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.kind == LedgerKind.PURCHASE))
    assert (entry.cause, entry.amount, entry.balance_after, entry.bill_id) == (
        f"bill:{bill.bill_no}",
        -12_540,
        7_460,
        bill.id,
    )
    assert entry.description == f"お支払 請求No.{bill.bill_no}(taro.jp Standardプラン 1年 更新)"
    payment = db.session.scalar(select(Payment))
    assert (payment.provider, payment.method, payment.amount) == ("balance", "balance", 12_540)
    assert _count(OutboxMail, OutboxMail.kind == "payment") == 1
    assert "アカウント残高" in pdf_text(receipt(bill, TODAY).content)


def test_a_bill_is_paid_from_the_balance_once(customer):
    factories.balance(customer, 20_000)
    bill = _domain_bill(customer, "taro.xyz", 1_000)
    _pay_from_balance(bill)
    with pytest.raises(DomainError, match="このご請求はお支払済みです。"):
        pay_from_balance(bill, NOW, CLIENT)
    db.session.rollback()
    assert current_balance(customer) == 19_000
    assert _count(LedgerEntry, LedgerEntry.kind == LedgerKind.PURCHASE) == 1


def test_a_short_balance_refuses_and_changes_nothing(customer):
    factories.balance(customer, 500, credit_limit=400)
    bill = _domain_bill(customer, "taro.xyz", 1_000)
    with pytest.raises(DomainError) as refused:
        pay_from_balance(bill, NOW, CLIENT)
    assert "現在利用できる金額(900円)が不足している" in refused.value.message
    db.session.rollback()
    db.session.expire_all()
    bill = db.session.get(Bill, bill.id)
    assert (bill.status, bill.payment_method) == (BillStatus.AWAITING_PAYMENT, PaymentMethod.CARD)
    assert current_balance(customer) == 500


def test_money_into_the_balance_is_not_paid_out_of_it(customer):
    factories.balance(customer, 50_000)
    deposit = start_deposit(
        customer, 10_000, PaymentMethod.BANK_TRANSFER, new_application_token(customer), TODAY
    )
    with pytest.raises(DomainError, match="アカウント残高ではお支払いいただけません"):
        pay_from_balance(deposit, NOW, CLIENT)


def test_an_application_paid_from_the_balance_is_paid_at_once_without_a_bill_mail(customer):
    factories.balance(customer, 20_000)
    factories.domain_price("xyz", 1_000)
    domain = factories.domain(customer, "taro.xyz", date(2027, 1, 10))
    bill = apply_renewal(
        customer,
        [Selection(domain.id, 12)],
        False,
        PaymentMethod.BALANCE,
        new_application_token(customer),
        TODAY,
        now=NOW,
        client=CLIENT,
    )
    db.session.commit()
    assert bill.status == BillStatus.PAID
    assert current_balance(customer) == 19_000
    kinds = db.session.scalars(select(OutboxMail.kind)).all()
    assert kinds == ["payment"]


def test_an_application_the_balance_cannot_cover_is_refused_and_makes_no_bill(customer):
    factories.domain_price("xyz", 1_000)
    domain = factories.domain(customer, "taro.xyz", date(2027, 1, 10))
    with pytest.raises(DomainError) as refused:
        apply_renewal(
            customer,
            [Selection(domain.id, 12)],
            False,
            PaymentMethod.BALANCE,
            new_application_token(customer),
            TODAY,
            now=NOW,
            client=CLIENT,
        )
    assert refused.value.field == "payment_method"
    db.session.rollback()
    assert _count(Bill) == 0


# Deposits (入金)


def test_a_bank_transfer_deposit_credits_the_balance_once_when_the_money_arrives(customer):
    bill = start_deposit(
        customer, 30_000, PaymentMethod.BANK_TRANSFER, new_application_token(customer), TODAY
    )
    db.session.commit()
    assert (bill.kind, bill.status, bill.total, bill.due_date) == (
        BillKind.DEPOSIT,
        BillStatus.AWAITING_PAYMENT,
        30_000,
        date(2026, 12, 5),
    )
    (line,) = bill.lines
    assert (line.kind, line.tax_rate) == (BillLineKind.DEPOSIT, 0)
    assert current_balance(customer) == 0  # not before the money arrives

    for _ in range(2):  # the bank's notification, delivered twice
        receive_notification(_bank_notification(bill), "sandbox", NOW, CLIENT)
        db.session.commit()

    assert _entries(customer) == [("deposit", 30_000, 30_000)]
    entry = db.session.scalar(select(LedgerEntry))
    assert entry.cause == f"deposit:{bill.bill_no}"
    assert entry.description == f"ご入金(銀行振込) 請求No.{bill.bill_no}"
    mail = db.session.scalar(select(OutboxMail).where(OutboxMail.kind == "payment"))
    assert "アカウント残高に反映しました" in mail.body


def test_a_card_deposit_is_credited_at_once(customer):
    bill = start_deposit(
        customer, 5_000, PaymentMethod.CARD, new_application_token(customer), TODAY
    )
    db.session.commit()
    settlement = pay_by_card(
        bill, CardDetails("4242424242424242", 12, 2030, "123"), "http://x/", TODAY, NOW, CLIENT
    )
    db.session.commit()
    assert settlement.outcome == PaymentOutcome.APPLIED
    assert current_balance(customer) == 5_000


def test_a_deposit_form_sent_twice_makes_one_bill(customer):
    token = new_application_token(customer)
    first = start_deposit(customer, 5_000, PaymentMethod.CARD, token, TODAY)
    db.session.commit()
    again = start_deposit(customer, 5_000, PaymentMethod.CARD, token, TODAY)
    assert again.id == first.id
    assert _count(Bill) == 1


@pytest.mark.parametrize(
    ("amount", "method", "message"),
    [
        (999, PaymentMethod.CARD, "入金額は1,000円以上10,000,000円以下で入力してください。"),
        (10_000_001, PaymentMethod.CARD, "入金額は1,000円以上10,000,000円以下で入力してください。"),
        (5_000, PaymentMethod.CONVENIENCE_STORE, "お支払方法を選択してください。"),
        (5_000, PaymentMethod.BALANCE, "お支払方法を選択してください。"),
    ],
)
def test_a_deposit_outside_the_bounds_or_by_another_method_is_refused(
    customer, amount, method, message
):
    with pytest.raises(DomainError, match=message):
        start_deposit(customer, amount, method, new_application_token(customer), TODAY)


def test_another_customers_deposit_token_is_refused(customer):
    other = factories.customer("hanako")
    with pytest.raises(DomainError, match=EXPIRED_FORM):
        start_deposit(customer, 5_000, PaymentMethod.CARD, new_application_token(other), TODAY)


def test_a_deposit_is_a_prepayment_its_documents_charge_no_consumption_tax(customer):
    bill = start_deposit(
        customer, 10_000, PaymentMethod.BANK_TRANSFER, new_application_token(customer), TODAY
    )
    db.session.commit()
    invoice_text = pdf_text(invoice(bill, TODAY).content)
    assert "アカウント残高へのご入金" in invoice_text
    assert "不課税" in invoice_text
    assert "うち消費税" not in invoice_text and "適格請求書です" not in invoice_text

    receive_notification(_bank_notification(bill), "sandbox", NOW, CLIENT)
    db.session.commit()
    receipt_text = pdf_text(receipt(bill, TODAY).content)
    assert "アカウント残高へのご入金として" in receipt_text
    assert "不課税" in receipt_text and "うち消費税" not in receipt_text


def test_a_month_end_bill_cannot_be_cancelled_but_a_deposit_can(customer):
    factories.balance(customer, -5_000, credit_limit=10_000)
    run_daily(MONTH_END)
    month_end = db.session.scalar(select(Bill).where(Bill.kind == BillKind.MONTH_END))
    with pytest.raises(DomainError, match="月末のご請求は取り消せません"):
        cancel_bill(month_end, NOW, None, CLIENT)
    db.session.rollback()

    deposit = start_deposit(
        customer, 5_000, PaymentMethod.BANK_TRANSFER, new_application_token(customer), TODAY
    )
    assert cancel_bill(deposit, NOW, None, CLIENT).status == BillStatus.CANCELLED
