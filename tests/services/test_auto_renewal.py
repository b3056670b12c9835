"""ご契約自動更新 in the daily job: one bill and one charge per customer and renewal date, a
declined or expired card leaves the servers to manual renewal, and no run charges twice."""

import threading
import time
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from panel.dates import add_months, today_in_japan
from panel.extensions import db
from panel.gateways import CardDetails, GatewayUnavailable, payment_gateway
from panel.gateways.sandbox import DECLINED_CARD
from panel.jobs.daily import (
    CHARGES_AT_ONCE,
    charge_auto_renewals,
    run_daily,
    send_renewal_reminders,
)
from panel.models import Bill, Contract, Customer, OutboxMail, PaymentAttempt
from panel.models.bills import BillStatus, PaymentMethod
from panel.models.payments import AttemptState
from panel.models.sandbox import SandboxCharge
from panel.models.types import utc_now
from panel.services.audit import Client
from panel.services.auto_renewal import register_card
from panel.services.payments import IN_FLIGHT, reconcile_attempts
from tests import factories
from tests.concurrency import WAIT, as_a_request, run_together

VISA = "4242424242424242"
CLIENT = Client(ip_address="203.0.113.9", user_agent="pytest")


@pytest.fixture
def plans():
    return factories.plan_lineup()


def _card(number: str = VISA, month: int = 12, year: int = 2030) -> CardDetails:
    return CardDetails(number, month, year, "123")


def _auto_renewing(
    member_id: str = "taro", months: int = 12, card: CardDetails | None = None
) -> Customer:
    customer = factories.customer(member_id)
    register_card(customer, card or _card(), today_in_japan(), factories.owner(customer), CLIENT)
    customer.auto_renewal = True
    customer.auto_renewal_months = months
    db.session.commit()
    return customer


def _count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _charges() -> int:
    return _count(SandboxCharge)


def test_servers_sharing_a_renewal_date_are_renewed_by_one_bill_and_one_charge(plans):
    today = today_in_japan()
    renewal_date = today + timedelta(days=7)
    customer = _auto_renewing()
    first = factories.server(customer, "a.jp", plans["standard"], renewal_date)
    second = factories.server(customer, "b.jp", plans["premium"], renewal_date)
    later = factories.server(customer, "c.jp", plans["standard"], renewal_date + timedelta(days=1))

    assert charge_auto_renewals(today) == 1
    db.session.expire_all()

    (bill,) = db.session.scalars(select(Bill)).all()
    assert bill.status == BillStatus.PAID
    assert bill.payment_method == PaymentMethod.CARD
    assert bill.total == 12_540 + 25_080
    assert _charges() == 1
    for server in (first, second):
        assert db.session.get(Contract, server.id).renewal_date == add_months(renewal_date, 12)
    assert db.session.get(Contract, later.id).renewal_date == renewal_date + timedelta(days=1)
    mail = db.session.scalar(select(OutboxMail).where(OutboxMail.kind == "payment"))
    assert mail is not None and bill.bill_no in mail.subject


def test_not_charged_before_the_charge_day_and_caught_up_until_the_renewal_date(plans):
    today = today_in_japan()
    customer = _auto_renewing()
    server = factories.server(customer, "a.jp", plans["standard"], today + timedelta(days=8))

    assert charge_auto_renewals(today) == 0
    # The job did not run on the charge day: the day after, it still charges.
    assert charge_auto_renewals(today + timedelta(days=2)) == 1
    db.session.expire_all()
    assert db.session.get(Contract, server.id).renewal_date == add_months(
        today + timedelta(days=8), 12
    )


def test_running_twice_charges_once(plans):
    today = today_in_japan()
    customer = _auto_renewing()
    factories.server(customer, "a.jp", plans["standard"], today + timedelta(days=7))

    assert charge_auto_renewals(today) == 1
    assert charge_auto_renewals(today) == 0
    assert charge_auto_renewals(today + timedelta(days=1)) == 0
    assert _charges() == 1
    assert _count(Bill) == 1


def test_a_declined_card_cancels_the_bill_tells_the_customer_and_leaves_manual_renewal(plans):
    today = today_in_japan()
    renewal_date = today + timedelta(days=7)
    customer = _auto_renewing(card=_card(DECLINED_CARD))
    server = factories.server(customer, "a.jp", plans["standard"], renewal_date)

    assert charge_auto_renewals(today) == 1
    db.session.expire_all()

    (bill,) = db.session.scalars(select(Bill)).all()
    assert bill.status == BillStatus.CANCELLED
    assert db.session.get(Contract, server.id).renewal_date == renewal_date
    mail = db.session.scalar(select(OutboxMail).where(OutboxMail.kind == "auto_renewal_declined"))
    assert mail is not None
    assert "カード会社により決済が承認されませんでした" in mail.body
    # Not charged again, and the reminders from the charge day on take over.
    assert charge_auto_renewals(today + timedelta(days=1)) == 0
    assert send_renewal_reminders(today + timedelta(days=2)) == 1
    # The customer can still renew by hand.
    factories.renewal_bill(customer, server, months=12)


def test_a_card_expired_on_the_charge_day_is_declined_with_the_reason(plans):
    today = today_in_japan()
    customer = _auto_renewing(card=_card(month=today.month, year=today.year))
    renewal_date = add_months(today.replace(day=1), 2) + timedelta(days=9)
    server = factories.server(customer, "a.jp", plans["standard"], renewal_date)
    charge_on = renewal_date - timedelta(days=7)

    assert charge_auto_renewals(charge_on) == 1
    db.session.expire_all()

    assert db.session.scalar(select(Bill.status)) == BillStatus.CANCELLED
    assert db.session.get(Contract, server.id).renewal_date == renewal_date
    mail = db.session.scalar(select(OutboxMail).where(OutboxMail.kind == "auto_renewal_declined"))
    assert mail is not None and "有効期限が切れています" in mail.body
    attempt = db.session.scalar(select(PaymentAttempt))
    assert attempt.failure_reason is not None and "有効期限" in attempt.failure_reason


def test_trials_servers_turned_off_and_periods_the_plan_lacks_are_not_charged(plans):
    today = today_in_japan()
    renewal_date = today + timedelta(days=7)
    customer = _auto_renewing(months=1)
    factories.server(customer, "trial.jp", plans["standard"], renewal_date, is_trial=True)
    factories.server(customer, "lite.jp", plans["lite"], renewal_date)  # no 1-month period
    off = factories.server(customer, "off.jp", plans["standard"], renewal_date)
    off.auto_renewal = False
    db.session.commit()

    assert charge_auto_renewals(today) == 0
    assert _charges() == 0
    assert _count(Bill) == 0


def test_a_server_on_an_awaiting_bill_is_left_to_that_bill(plans):
    today = today_in_japan()
    renewal_date = today + timedelta(days=7)
    customer = _auto_renewing()
    billed = factories.server(customer, "billed.jp", plans["standard"], renewal_date)
    other = factories.server(customer, "other.jp", plans["standard"], renewal_date)
    factories.renewal_bill(customer, billed)

    assert charge_auto_renewals(today) == 1
    db.session.expire_all()
    paid = db.session.scalar(select(Bill).where(Bill.status == BillStatus.PAID))
    assert [line.contract_id for line in paid.lines] == [other.id]


def test_a_server_switched_on_is_charged_though_the_account_is_off(plans):
    today = today_in_japan()
    customer = _auto_renewing()
    customer.auto_renewal = False
    server = factories.server(customer, "a.jp", plans["standard"], today + timedelta(days=7))
    server.auto_renewal = True
    db.session.commit()

    assert charge_auto_renewals(today) == 1


def test_no_reminder_before_the_charge_day_for_auto_renewing_servers(plans):
    today = today_in_japan()
    customer = _auto_renewing()
    factories.server(customer, "auto.jp", plans["standard"], today + timedelta(days=10))
    manual = factories.customer("hanako")
    factories.server(manual, "manual.jp", plans["standard"], today + timedelta(days=10))

    assert send_renewal_reminders(today) == 1
    mail = db.session.scalar(select(OutboxMail))
    assert mail.customer_id == manual.id


def test_the_daily_job_reports_the_charges(plans):
    today = today_in_japan()
    customer = _auto_renewing()
    factories.server(customer, "a.jp", plans["standard"], today + timedelta(days=7))

    assert run_daily(today)["auto-renewals charged"] == 1


def test_two_runs_at_once_charge_once(app, plans):
    today = today_in_japan()
    customer = _auto_renewing()
    server = factories.server(customer, "a.jp", plans["standard"], today + timedelta(days=7))
    renewal_date = server.renewal_date
    db.session.remove()
    barrier = threading.Barrier(2)

    def run():
        barrier.wait(WAIT)
        return charge_auto_renewals(today)

    results = run_together([lambda: as_a_request(app, run) for _ in range(2)])

    assert sorted(results) == [0, 1]
    assert _charges() == 1
    assert _count(Bill) == 1
    assert db.session.get(Contract, server.id).renewal_date == add_months(renewal_date, 12)


def test_saving_a_card_keeps_no_number(app):
    customer = _auto_renewing()
    assert customer.saved_card_last4 == "4242"
    assert customer.saved_card_brand == "VISA"
    assert customer.saved_card_expiry == "12/30"
    assert VISA not in (customer.saved_card_token or "")


def test_a_charge_the_gateway_did_not_answer_is_settled_by_its_key_and_never_repeated(
    plans, monkeypatch
):
    today = today_in_japan()
    renewal_date = today + timedelta(days=7)
    customer = _auto_renewing()
    server = factories.server(customer, "a.jp", plans["standard"], renewal_date)
    gateway = payment_gateway()
    charge = gateway.charge_saved_card

    def answer_lost(*args):
        charge(*args)  # the money is taken, but the answer never arrives
        raise GatewayUnavailable("timed out")

    with monkeypatch.context() as patched:
        patched.setattr(gateway, "charge_saved_card", answer_lost)
        assert charge_auto_renewals(today) == 0
    attempt = db.session.scalar(select(PaymentAttempt))
    assert attempt.state == AttemptState.PENDING
    assert attempt.idempotency_key == f"auto-{customer.id}-{renewal_date.isoformat()}"
    assert charge_auto_renewals(today) == 0  # claimed: not charged again

    assert reconcile_attempts(utc_now() + IN_FLIGHT) == {"applied": 1, "closed": 0}
    db.session.expire_all()
    assert _charges() == 1
    assert db.session.get(Contract, server.id).renewal_date == add_months(renewal_date, 12)


def test_a_card_expiring_before_the_next_charge_is_warned_of_by_e_mail_once(plans):
    day = date(2026, 11, 20)  # the card below expires at the end of this month
    customer = factories.customer()
    owner = factories.owner(customer)
    register_card(customer, _card(month=11, year=2026), day, owner, CLIENT)
    customer.auto_renewal = True
    db.session.commit()
    renewal_date = date(2026, 12, 10)  # charged on 12/3, 13 days on, when the card has expired
    factories.server(customer, "a.jp", plans["standard"], renewal_date)
    later = _auto_renewing("hanako")  # a card valid until 2030: no warning
    factories.server(later, "b.jp", plans["standard"], renewal_date)

    assert run_daily(day)["expiring cards warned of"] == 1
    assert run_daily(day)["expiring cards warned of"] == 0  # once
    db.session.expire_all()
    (mail,) = db.session.scalars(select(OutboxMail).where(OutboxMail.kind == "card_expiry_warning"))
    assert mail.customer_id == customer.id
    assert mail.subject == "【自動更新】ご登録のクレジットカードの有効期限が近づいています"
    assert "/auto-renewal" in mail.body and "末尾4242" in mail.body
    assert "2026年12月3日" in mail.body

    # A new card that also expires first is warned of again; one that lasts is not.
    register_card(customer, _card("5555555555554444", 11, 2026), day, owner, CLIENT)
    db.session.commit()
    assert run_daily(day)["expiring cards warned of"] == 1
    register_card(customer, _card(), day, owner, CLIENT)
    db.session.commit()
    assert run_daily(day + timedelta(days=1))["expiring cards warned of"] == 0


def test_charges_go_out_at_once_not_one_after_the_other(plans, monkeypatch):
    """The gateway's latency is waited for in parallel (a bounded pool): charges overlap, and
    each customer is still charged exactly once."""
    renewal_date = today_in_japan() + timedelta(days=7)
    for number in range(12):
        customer = _auto_renewing(f"c{number}")
        factories.server(customer, f"s{number}.jp", plans["standard"], renewal_date)
    gateway = payment_gateway()
    charge_saved_card = gateway.charge_saved_card
    in_flight, most_at_once, lock = [0], [0], threading.Lock()

    def slow_charge(*args):
        with lock:
            in_flight[0] += 1
            most_at_once[0] = max(most_at_once[0], in_flight[0])
        try:
            time.sleep(0.05)  # as a real provider answers
            return charge_saved_card(*args)
        finally:
            with lock:
                in_flight[0] -= 1

    monkeypatch.setattr(gateway, "charge_saved_card", slow_charge)
    assert charge_auto_renewals(renewal_date - timedelta(days=7)) == 12
    assert 1 < most_at_once[0] <= CHARGES_AT_ONCE
    db.session.expire_all()
    assert _charges() == 12
    assert _count(Bill, Bill.status == BillStatus.PAID) == 12
