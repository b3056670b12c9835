"""ご契約自動更新の設定: the page, the card on file, each server's setting, and who may change
them."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from panel.dates import add_months, today_in_japan
from panel.extensions import db
from panel.models import AuditEvent, Contract, Role
from panel.models.sandbox import SandboxCharge
from tests import factories
from tests.conftest import csrf_token

PAGE = "/auto-renewal"
HTMX = {"HX-Request": "true"}
VISA = "4242424242424242"
#: A VISA number the sandbox approves that its list of test cards does not show.
UNLISTED_VISA = "4012888888881881"


@pytest.fixture
def plans():
    return factories.plan_lineup()


@pytest.fixture
def customer():
    return factories.customer()


@pytest.fixture
def owner_client(client, login_as, customer):
    return login_as(factories.owner(customer))


def _post(client, path, data, htmx=False):
    return client.post(
        path, data=data | {"csrf_token": csrf_token(client, PAGE)}, headers=HTMX if htmx else {}
    )


def _register(client, number=VISA, expiry="12/30", htmx=False):
    return _post(
        client,
        f"{PAGE}/card",
        {"number": number, "expiry": expiry, "security_code": "123"},
        htmx=htmx,
    )


def test_the_page_is_in_the_navigation_and_shows_the_setting(owner_client):
    page = owner_client.get(PAGE).get_data(as_text=True)
    assert "<h1>ご契約自動更新の設定</h1>" in page
    assert 'href="/auto-renewal"' in owner_client.get("/").get_data(as_text=True)
    assert "クレジットカードは登録されていません" in page
    for period in ("1ヶ月", "3ヶ月", "6ヶ月", "1年"):
        assert period in page
    assert "2年" not in page


@pytest.mark.parametrize("htmx", [False, True])
def test_registering_a_card_keeps_only_brand_last4_and_expiry(owner_client, customer, htmx):
    response = _register(owner_client, number=UNLISTED_VISA, htmx=htmx)
    if htmx:
        assert response.headers["HX-Redirect"] == PAGE
    else:
        assert response.status_code == 302
    db.session.refresh(customer)
    assert (customer.saved_card_brand, customer.saved_card_last4) == ("VISA", "1881")
    assert customer.saved_card_expiry == "12/30"
    assert UNLISTED_VISA not in (customer.saved_card_token or "")
    page = owner_client.get(PAGE).get_data(as_text=True)
    assert "VISA 末尾 1881" in page
    assert UNLISTED_VISA not in page
    assert db.session.scalar(select(SandboxCharge)) is None  # saving a card takes no money


@pytest.mark.parametrize("htmx", [False, True])
def test_a_bad_card_is_shown_on_the_form(owner_client, customer, htmx):
    response = _register(owner_client, number="4242424242424241", htmx=htmx)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "カード番号が正しくありません" in body
    assert ('id="auto-renewal"' in body) and (("<h1>" in body) != htmx)
    db.session.refresh(customer)
    assert customer.saved_card_token is None


def test_an_expired_card_is_refused(owner_client, customer):
    body = _register(owner_client, expiry="01/20").get_data(as_text=True)
    assert "カードの有効期限が切れています" in body


def test_turning_on_needs_a_card_then_saves_the_period(owner_client, customer):
    body = _post(owner_client, f"{PAGE}/settings", {"enabled": "on", "months": "3"}).get_data(
        as_text=True
    )
    assert "先にクレジットカードを登録してください" in body
    db.session.refresh(customer)
    assert not customer.auto_renewal

    _register(owner_client)
    response = _post(owner_client, f"{PAGE}/settings", {"enabled": "on", "months": "3"})
    assert response.status_code == 302
    db.session.refresh(customer)
    assert (customer.auto_renewal, customer.auto_renewal_months) == (True, 3)
    actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"auto_renewal_card_registered", "auto_renewal_changed"} <= actions


@pytest.mark.parametrize("months", ["24", "0", "abc", "", "１２"])
def test_a_period_auto_renewal_does_not_offer_is_refused(owner_client, customer, months):
    _register(owner_client)
    response = _post(owner_client, f"{PAGE}/settings", {"enabled": "on", "months": months})
    assert response.status_code == 200
    assert "延長期間" in response.get_data(as_text=True)
    db.session.refresh(customer)
    assert customer.auto_renewal_months == 12 and not customer.auto_renewal


def test_removing_the_card_turns_auto_renewal_off(owner_client, customer):
    _register(owner_client)
    _post(owner_client, f"{PAGE}/settings", {"enabled": "on", "months": "12"})
    response = _post(owner_client, f"{PAGE}/card/delete", {})
    assert response.status_code == 302
    db.session.refresh(customer)
    assert customer.saved_card_token is None and not customer.auto_renewal


def test_each_server_says_whether_auto_renewal_applies_and_why_not(owner_client, customer, plans):
    today = today_in_japan()
    factories.server(customer, "trial.jp", plans["standard"], today + timedelta(20), is_trial=True)
    factories.server(customer, "lite.jp", plans["lite"], today + timedelta(30))
    applies = factories.server(customer, "std.jp", plans["standard"], today + timedelta(40))
    _register(owner_client)
    _post(owner_client, f"{PAGE}/settings", {"enabled": "on", "months": "1"})

    page = owner_client.get(PAGE).get_data(as_text=True)
    assert "お試し期間中のサーバーには自動更新は適用されません" in page
    assert "Liteプランでは1ヶ月の自動更新は選択できません" in page
    assert "自動更新できる期間: 3ヶ月・1年" in page
    charge_on = applies.renewal_date - timedelta(days=7)
    assert f"{charge_on.year}年{charge_on.month}月{charge_on.day}日に決済" in page

    response = _post(owner_client, f"{PAGE}/servers/{applies.id}", {"setting": "off"})
    assert response.status_code == 302
    assert "このサーバーは自動更新をOFFにしています" in owner_client.get(PAGE).get_data(
        as_text=True
    )
    db.session.refresh(applies)
    assert applies.auto_renewal is False


@pytest.mark.parametrize("setting", ["maybe", ""])
def test_a_bad_server_setting_is_shown_next_to_the_server(owner_client, customer, plans, setting):
    server = factories.server(customer, "a.jp", plans["standard"], today_in_japan() + timedelta(9))
    response = _post(owner_client, f"{PAGE}/servers/{server.id}", {"setting": setting}, htmx=True)
    assert response.status_code == 200
    assert "自動更新の設定を選んでください" in response.get_data(as_text=True)
    db.session.refresh(server)
    assert server.auto_renewal is None


def test_another_customers_server_is_a_404(owner_client, plans):
    theirs = factories.customer("hanako")
    server = factories.server(theirs, "hanako.jp", plans["standard"], today_in_japan())
    domain = factories.domain(theirs, "hanako.com", today_in_japan())
    for contract in (server, domain):
        response = _post(owner_client, f"{PAGE}/servers/{contract.id}", {"setting": "off"})
        assert response.status_code == 404
    assert db.session.get(Contract, server.id).auto_renewal is None
    response = _post(owner_client, f"{PAGE}/servers/999999", {"setting": "off"})
    assert response.status_code == 404


def test_a_card_expiring_before_the_next_charge_is_warned_about(owner_client, customer, plans):
    today = today_in_japan()
    renewal_date = add_months(today.replace(day=1), 3)
    factories.server(customer, "a.jp", plans["standard"], renewal_date)
    _register(owner_client, expiry=f"{today.month:02d}/{today.year % 100:02d}")
    _post(owner_client, f"{PAGE}/settings", {"enabled": "on", "months": "12"})

    page = owner_client.get(PAGE).get_data(as_text=True)
    assert 'id="card-expiry-warning"' in page


@pytest.mark.parametrize("role", [Role.TECHNICAL, Role.READ_ONLY])
def test_technical_and_read_only_see_the_page_but_change_nothing(client, login_as, customer, role):
    user = factories.sub_user(customer, f"taro-{role}", role)
    login_as(user)
    page = client.get(PAGE).get_data(as_text=True)
    assert "<h1>ご契約自動更新の設定</h1>" in page
    assert 'id="settings-form"' not in page and 'id="card-form"' not in page
    token = csrf_token(client, PAGE)
    response = client.post(f"{PAGE}/settings", data={"csrf_token": token, "enabled": "off"})
    assert response.status_code == 403


def test_billing_may_register_the_card(client, login_as, customer):
    login_as(factories.sub_user(customer, "taro-billing", Role.BILLING))
    assert _register(client).status_code == 302
    db.session.refresh(customer)
    assert customer.saved_card_last4 == "4242"
