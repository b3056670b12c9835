import json
from datetime import UTC, date, datetime, timedelta

import pytest

from panel.gateways import CardDetails, ChargeStatus, InvalidNotification
from panel.gateways.sandbox import (
    DECLINED_CARD,
    SIGNATURE_HEADER,
    TEST_CARDS,
    SandboxGateway,
    card_brand,
    passes_luhn,
    sign,
)

NOW = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
SECRET = "webhook-secret"


@pytest.mark.parametrize(
    ("number", "brand"),
    [
        ("4242424242424242", "VISA"),
        ("5105105105105100", "Master"),
        ("2221000000000009", "Master"),  # the 2-series
        ("2720990000000000", "Master"),
        ("3528000000000000", "JCB"),
        ("3589000000000000", "JCB"),
        ("340000000000000", "American Express"),
        ("370000000000000", "American Express"),
        ("6011111111111117", None),  # Discover
        ("36227206271667", None),  # Diners Club
        ("3527000000000000", None),
        ("2720999999999999", "Master"),
        ("2721000000000000", None),
    ],
)
def test_card_brands_by_prefix_and_length(number, brand):
    assert card_brand(number) == brand


def test_every_published_test_number_passes_luhn_and_a_changed_digit_does_not():
    for number in [*TEST_CARDS.values(), DECLINED_CARD]:
        assert passes_luhn(number)
        assert not passes_luhn(number[:-1] + str((int(number[-1]) + 1) % 10))


def _body(**changes):
    fields = {
        "id": "evt-1",
        "method": "bank_transfer",
        "reference": "202611210001",
        "amount": 12540,
        "received_at": "2026-11-21T12:00:00+09:00",
        "payer_name": "ヤマダタロウ",
    }
    return json.dumps(fields | changes).encode()


def _read(body, signature, now=NOW):
    return SandboxGateway(SECRET).read_notification(body, {SIGNATURE_HEADER: signature}, now)


def test_a_signed_notification_is_read():
    notification = _read(_body(), sign(SECRET, _body(), NOW))
    assert (notification.event_id, notification.reference, notification.amount) == (
        "evt-1",
        "202611210001",
        12540,
    )
    assert notification.received_at == datetime(2026, 11, 21, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("body", "signature"),
    [
        (_body(), ""),  # unsigned
        (_body(), "t=1,v1=00"),  # nonsense
        (_body(), sign("another-secret", _body(), NOW)),  # someone else's key
        (_body(amount=1), sign(SECRET, _body(), NOW)),  # the body changed after signing
        (_body(), sign(SECRET, _body(), NOW - timedelta(minutes=6))),  # stale: a replay
        (b"not json", sign(SECRET, b"not json", NOW)),
        (_body(method="card"), sign(SECRET, _body(method="card"), NOW)),
        (_body(amount=-5), sign(SECRET, _body(amount=-5), NOW)),
        (_body(received_at="yesterday"), sign(SECRET, _body(received_at="yesterday"), NOW)),
    ],
)
def test_unsigned_badly_signed_stale_or_malformed_notifications_are_refused(body, signature):
    with pytest.raises(InvalidNotification):
        _read(body, signature)


def test_a_saved_card_is_charged_without_the_cardholder_and_once_per_key(app):
    gateway = SandboxGateway(SECRET)
    saved = gateway.save_card(CardDetails(TEST_CARDS["JCB"], 4, 2029, "123"), date(2026, 11, 21))
    assert (saved.brand, saved.last4, saved.expiry) == ("JCB", "0000", "04/29")
    assert TEST_CARDS["JCB"] not in saved.token

    first = gateway.charge_saved_card(saved.token, 1_100, "B-1", "auto-1", date(2029, 4, 30))
    again = gateway.charge_saved_card(saved.token, 1_100, "B-1", "auto-1", date(2029, 4, 30))
    assert first.status == ChargeStatus.SUCCEEDED
    assert first.charge == again.charge


def test_a_saved_card_declines_when_declined_or_expired_on_the_charge_day(app):
    gateway = SandboxGateway(SECRET)
    today = date(2026, 11, 21)
    declined = gateway.save_card(CardDetails(DECLINED_CARD, 4, 2029, "123"), today)
    expiring = gateway.save_card(CardDetails(TEST_CARDS["VISA"], 11, 2026, "123"), today)

    outcome = gateway.charge_saved_card(declined.token, 1_100, "B-1", "auto-1", today)
    assert outcome.status == ChargeStatus.DECLINED and outcome.decline_reason

    expired = gateway.charge_saved_card(expiring.token, 1_100, "B-2", "auto-2", date(2026, 12, 1))
    assert expired.status == ChargeStatus.DECLINED
    assert "有効期限" in (expired.decline_reason or "")
