"""Staff confirming money (入金確認) through the same service and idempotency as a gateway
notification, and settling flagged money: applied to another bill, or refunded."""

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from panel.extensions import db
from panel.models import AuditEvent, Bill, Contract, LedgerEntry, OutboxMail, Payment, StaffRole
from panel.models.bills import BillStatus, PaymentMethod
from panel.models.payments import Resolution
from panel.refusals import DomainError
from panel.services.audit import Client
from panel.services.balance import account_balance, ledger_sum
from panel.services.payments import PaymentOutcome, ReceivedMoney, apply_payment
from panel.services.staff.money import (
    apply_flagged_payment,
    confirm_receipt,
    confirmation_queue,
    credit_flagged_payment,
    flagged_payments,
    mark_refunded,
    next_confirmation,
)
from tests import factories
from tests.concurrency import as_a_request, loaded_together, run_together

CLIENT = Client(ip_address="203.0.113.9", user_agent="pytest")
TODAY = date(2026, 11, 21)
NOW = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)


@pytest.fixture
def plan():
    return factories.plan()


@pytest.fixture
def bill(plan):
    customer = factories.customer("taro")
    server = factories.server(customer, "taro.jp", plan, TODAY + timedelta(days=10))
    return factories.renewal_bill(customer, server, today=TODAY - timedelta(days=2))


@pytest.fixture
def accounting():
    return factories.staff_member("keiri", StaffRole.ACCOUNTING, name="経理 田中")


def _confirm(bill, staff, amount=None, confirmation=1, note=None, received_on=TODAY):
    return confirm_receipt(
        bill,
        amount=bill.total if amount is None else amount,
        received_on=received_on,
        confirmation=confirmation,
        note=note,
        staff=staff,
        client=CLIENT,
        now=NOW,
        today=TODAY,
    )


def test_the_queue_shows_awaiting_transfer_bills_with_their_notices(plan, bill):
    factories.renewal_bill(
        bill.customer,
        factories.server(bill.customer, "card.jp", plan, TODAY),
        method=PaymentMethod.CARD,
        today=TODAY,
    )
    _, rows = confirmation_queue(None, 1)
    assert [row.bill.bill_no for row in rows] == [bill.bill_no]  # not the card bill
    assert rows[0].reference == bill.bill_no.replace("-", "")
    assert rows[0].confirmation == 1
    _, found = confirmation_queue(bill.bill_no.replace("-", ""), 1)  # the customer number
    assert [row.bill.id for row in found] == [bill.id]
    assert confirmation_queue("taro", 1)[1] and not confirmation_queue("hanako", 1)[1]


def test_a_confirmation_pays_the_bill_as_a_notification_would(bill, accounting):
    contract = db.session.get(Contract, bill.lines[0].contract_id)
    renewal_date = contract.renewal_date

    assert _confirm(bill, accounting) == PaymentOutcome.APPLIED
    db.session.commit()

    assert bill.status == BillStatus.PAID
    assert contract.renewal_date > renewal_date
    payment = db.session.scalar(select(Payment))
    assert (payment.provider, payment.provider_event_id) == (
        "staff",
        f"confirmation-{bill.bill_no}-1",
    )
    kinds = set(db.session.scalars(select(OutboxMail.kind)))
    assert "payment" in kinds  # お支払確認, as for any payment
    actions = list(db.session.scalars(select(AuditEvent.action)))
    assert {"payment_applied", "payment_confirmed_by_staff"} <= set(actions)
    by_staff = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == "payment_confirmed_by_staff")
    )
    assert by_staff.staff_member_id == accounting.id and by_staff.customer_id == bill.customer_id


def test_a_confirmation_done_twice_pays_once(bill, accounting):
    assert _confirm(bill, accounting) == PaymentOutcome.APPLIED
    db.session.commit()
    assert _confirm(bill, accounting) == PaymentOutcome.DUPLICATE
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 1
    assert next_confirmation(bill) == 2


def test_two_staff_confirming_the_same_page_at_once_pay_once(app, bill, accounting):
    other = factories.staff_member("keiri2", StaffRole.ACCOUNTING)
    bill_id, staff_ids = bill.id, [accounting.id, other.id]
    barrier = threading.Barrier(2)

    def confirm(staff_id):
        def work():
            loaded = loaded_together(barrier, lambda: db.session.get(Bill, bill_id))
            staff = db.session.get(type(accounting), staff_id)
            return _confirm(loaded, staff)

        return lambda: as_a_request(app, work)

    outcomes = run_together([confirm(staff_id) for staff_id in staff_ids])

    assert sorted(outcomes) == sorted([PaymentOutcome.APPLIED, PaymentOutcome.DUPLICATE])
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 1
    assert db.session.get(Bill, bill_id).status == BillStatus.PAID


def test_another_amount_is_held_with_a_note_and_not_applied(bill, accounting):
    with pytest.raises(DomainError, match="メモに") as refused:
        _confirm(bill, accounting, amount=bill.total - 540)
    assert refused.value.field == "note"

    outcome = _confirm(bill, accounting, amount=bill.total - 540, note="振込手数料を差し引いた入金")
    db.session.commit()

    assert outcome == PaymentOutcome.FLAGGED
    assert bill.status == BillStatus.AWAITING_PAYMENT
    held = db.session.scalar(select(Payment))
    assert not held.applied_to_bill and held.staff_note == "振込手数料を差し引いた入金"
    assert "一致しません" in held.review_reason
    assert [p.id for p in flagged_payments(False, 1).items] == [held.id]
    # The customer's remaining transfer is a second confirmation, on a page shown later.
    assert next_confirmation(bill) == 2


@pytest.mark.parametrize(
    ("received_on", "amount", "field"),
    [
        (TODAY + timedelta(days=1), None, "received_on"),
        (TODAY - timedelta(days=30), None, "received_on"),
        (TODAY, 0, "amount"),
        (TODAY, 10_000_001, "amount"),
    ],
)
def test_a_date_or_amount_that_cannot_be_is_refused(bill, accounting, received_on, amount, field):
    with pytest.raises(DomainError) as refused:
        _confirm(bill, accounting, amount=amount, received_on=received_on)
    assert refused.value.field == field


def test_support_cannot_confirm_payments(bill):
    support = factories.staff_member("support", StaffRole.SUPPORT)
    with pytest.raises(DomainError, match="経理または管理者"):
        _confirm(bill, support)
    assert bill.status == BillStatus.AWAITING_PAYMENT


def test_a_stale_page_or_a_paid_bill_is_refused(bill, accounting):
    with pytest.raises(DomainError, match="ページを開き直して"):
        _confirm(bill, accounting, confirmation=2)
    bill.payment_method = PaymentMethod.CARD
    with pytest.raises(DomainError, match="銀行振込とコンビニ決済"):
        _confirm(bill, accounting)


def _flag(bill, amount=None, event="sandbox-late", received_at=NOW) -> Payment:
    """Money the bank reported that could not pay `bill`."""
    money = ReceivedMoney(
        "sandbox", event, PaymentMethod.BANK_TRANSFER, amount or bill.total, received_at
    )
    assert apply_payment(bill, money, NOW, CLIENT) == PaymentOutcome.FLAGGED
    db.session.commit()
    return db.session.scalar(select(Payment).where(Payment.provider_event_id == event))


def test_flagged_money_is_applied_to_another_bill_of_the_customer_once(bill, accounting):
    bill.status, bill.cancelled_at = BillStatus.CANCELLED, NOW  # money arrives after the cancel
    db.session.commit()
    flagged = _flag(bill)
    again = factories.renewal_bill(
        bill.customer, db.session.get(Contract, bill.lines[0].contract_id), today=TODAY
    )

    target = apply_flagged_payment(
        flagged,
        bill_no=again.bill_no,
        note="お客様に確認済み",
        staff=accounting,
        client=CLIENT,
        now=NOW,
        today=TODAY,
    )
    db.session.commit()

    assert target.status == BillStatus.PAID
    assert (flagged.resolution, flagged.resolved_bill_id) == (Resolution.APPLIED, again.id)
    assert flagged.resolved_by_id == accounting.id
    moved = db.session.scalar(select(Payment).where(Payment.bill_id == again.id))
    assert moved.provider_event_id == f"flagged-{flagged.id}" and moved.applied_to_bill
    with pytest.raises(DomainError, match="処理済み"):
        apply_flagged_payment(
            flagged,
            bill_no=again.bill_no,
            note=None,
            staff=accounting,
            client=CLIENT,
            now=NOW,
            today=TODAY,
        )
    assert "flagged_payment_applied" in set(db.session.scalars(select(AuditEvent.action)))


def test_flagged_money_goes_to_a_bill_of_the_same_customer_for_the_same_amount(
    plan, bill, accounting
):
    flagged = _flag(bill, amount=bill.total + 100)
    hanako = factories.customer("hanako")
    theirs = factories.renewal_bill(
        hanako, factories.server(hanako, "hanako.jp", plan, TODAY), today=TODAY
    )

    def apply_to(bill_no):
        return apply_flagged_payment(
            flagged,
            bill_no=bill_no,
            note=None,
            staff=accounting,
            client=CLIENT,
            now=NOW,
            today=TODAY,
        )

    with pytest.raises(DomainError, match="同じ会員"):
        apply_to(theirs.bill_no)
    with pytest.raises(DomainError, match="一致しないため"):
        apply_to(bill.bill_no)
    with pytest.raises(DomainError, match="同じ会員"):
        apply_to("20990101-0001")


def test_flagged_money_is_marked_refunded_with_a_note(bill, accounting):
    flagged = _flag(bill, amount=bill.total + 100)
    with pytest.raises(DomainError, match="返金の方法と日付"):
        mark_refunded(flagged, note=" ", staff=accounting, client=CLIENT, now=NOW)

    mark_refunded(
        flagged, note="11月25日 お客様口座へ振込", staff=accounting, client=CLIENT, now=NOW
    )
    db.session.commit()

    assert flagged.resolution == Resolution.REFUNDED
    assert flagged.resolution_note == "11月25日 お客様口座へ振込"
    assert flagged_payments(False, 1).items == []
    assert [p.id for p in flagged_payments(True, 1).items] == [flagged.id]
    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == "flagged_payment_refunded")
    )
    assert event.customer_id == bill.customer_id and event.staff_member_id == accounting.id


def test_flagged_money_is_credited_to_the_customers_balance_once(bill, accounting):
    flagged = _flag(bill, amount=bill.total + 100)

    credit_flagged_payment(flagged, note="お客様のご希望", staff=accounting, client=CLIENT, now=NOW)
    db.session.commit()
    with pytest.raises(DomainError, match="処理済み"):  # twice: credited once
        credit_flagged_payment(flagged, note=None, staff=accounting, client=CLIENT, now=NOW)
    db.session.rollback()

    customer = bill.customer
    assert flagged.resolution == Resolution.CREDITED
    assert account_balance(customer).balance == ledger_sum(customer) == bill.total + 100
    (entry,) = db.session.scalars(select(LedgerEntry).where(LedgerEntry.customer_id == customer.id))
    assert (entry.kind, entry.cause, entry.amount) == (
        "deposit",
        f"payment:{flagged.id}",
        bill.total + 100,
    )
    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == "flagged_payment_credited")
    )
    assert event.customer_id == customer.id and event.staff_member_id == accounting.id


def test_support_cannot_settle_flagged_money(bill):
    flagged = _flag(bill, amount=bill.total + 100)
    support = factories.staff_member("support", StaffRole.SUPPORT)
    with pytest.raises(DomainError, match="経理または管理者"):
        mark_refunded(flagged, note="返金", staff=support, client=CLIENT, now=NOW)
