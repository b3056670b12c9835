"""The provider's webhook, and `flask sandbox notify` delivering to it over real HTTP."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from panel.dates import add_months, today_in_japan
from panel.extensions import db
from panel.gateways.sandbox import SIGNATURE_HEADER, sign
from panel.models import Bill, Contract, Payment, StorePayment
from panel.models.bills import BillStatus, PaymentMethod
from panel.services.billing import transfer_reference
from panel.services.payments import issue_store_payment
from tests import factories


@pytest.fixture
def server():
    customer = factories.customer()
    plan = factories.plan()
    return factories.server(customer, "taro.jp", plan, today_in_japan() + timedelta(days=5))


def _body(bill, event_id="evt-1"):
    return json.dumps(
        {
            "id": event_id,
            "type": "payment.received",
            "method": "bank_transfer",
            "reference": transfer_reference(bill),
            "amount": bill.total,
            "received_at": datetime.now(UTC).isoformat(),
        }
    ).encode()


def _deliver(app, client, body, secret=None):
    signature = sign(secret or app.config["PAYMENT_WEBHOOK_SECRET"], body, datetime.now(UTC))
    return client.post(
        "/payments/notifications",
        data=body,
        headers={SIGNATURE_HEADER: signature, "Content-Type": "application/json"},
    )


def _payments():
    return db.session.scalar(select(func.count()).select_from(Payment))


def test_a_signed_notification_pays_the_bill_once_without_a_csrf_token(app, client, server):
    bill = factories.renewal_bill(server.customer, server)
    first = _deliver(app, client, _body(bill))
    assert (first.status_code, first.json) == (200, {"result": "applied"})
    again = _deliver(app, client, _body(bill))
    assert (again.status_code, again.json) == (200, {"result": "duplicate"})
    assert db.session.get(Bill, bill.id).status == BillStatus.PAID
    assert _payments() == 1


def test_unsigned_or_badly_signed_notifications_are_refused(app, client, server):
    bill = factories.renewal_bill(server.customer, server)
    unsigned = client.post("/payments/notifications", data=_body(bill))
    forged = _deliver(app, client, _body(bill), secret="guessed")
    assert (unsigned.status_code, forged.status_code) == (400, 400)
    assert _payments() == 0
    assert db.session.get(Bill, bill.id).status == BillStatus.AWAITING_PAYMENT


def _notify(app, *args):
    result = app.test_cli_runner().invoke(args=["sandbox", "notify", *args])
    db.session.rollback()  # see what the live server committed
    return result


def test_sandbox_notify_delivers_a_bank_transfer_twice_and_it_pays_once(app, live_server, server):
    bill = factories.renewal_bill(server.customer, server)
    new_date = add_months(server.renewal_date, 12)
    url = f"{live_server}/payments/notifications"
    result = _notify(app, bill.bill_no, "--times", "2", "--url", url)

    assert result.exit_code == 0, result.output
    first, second = result.output.strip().splitlines()
    assert first.endswith('HTTP 200 {"result":"applied"}')
    assert second.endswith('HTTP 200 {"result":"duplicate"}')
    assert db.session.get(Bill, bill.id).status == BillStatus.PAID
    assert db.session.get(Contract, server.id).renewal_date == new_date
    assert _payments() == 1


def test_sandbox_notify_pays_a_store_payment_by_its_number(app, live_server, server):
    bill = factories.renewal_bill(server.customer, server, method=PaymentMethod.CONVENIENCE_STORE)
    refused = _notify(app, bill.bill_no, "--url", f"{live_server}/payments/notifications")
    assert refused.exit_code == 1
    assert "お支払番号が発行されていません" in refused.output

    issue_store_payment(bill, today_in_japan())
    db.session.commit()
    result = _notify(app, bill.bill_no, "--url", f"{live_server}/payments/notifications")
    assert result.output.strip().endswith('{"result":"applied"}'), result.output
    number = db.session.scalar(select(StorePayment.payment_number))
    assert db.session.scalar(select(Payment.reference)) == number
    assert db.session.get(Bill, bill.id).status == BillStatus.PAID


def test_sandbox_notify_refuses_an_unknown_bill_or_a_card_bill(app, server):
    assert "請求No. 20990101-0001 はありません。" in _notify(app, "20990101-0001").output
    bill = factories.renewal_bill(server.customer, server, method=PaymentMethod.CARD)
    assert "銀行振込かコンビニ決済のご請求を指定してください。" in _notify(app, bill.bill_no).output
