"""ユーザー管理 over HTTP: the owner adds a sub-user, who then works within their role."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from panel.dates import today_in_japan
from panel.extensions import db
from panel.models import Bill, Role, User
from panel.models.bills import BillStatus, PaymentMethod
from tests import factories
from tests.conftest import csrf_token

KEIRI_PASSWORD = "keiri-password-2026"


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


@pytest.fixture
def customer():
    plans = factories.plan_lineup()
    customer = factories.customer()
    server = factories.server(
        customer, "taro.jp", plans["standard"], today_in_japan() + timedelta(days=10)
    )
    factories.renewal_bill(customer, server, method=PaymentMethod.CARD)
    return customer


def _add_user(owner_client, **changes):
    form = {
        "login_id": "keiri",
        "email": "keiri@example.jp",
        "role": "billing",
        "password": KEIRI_PASSWORD,
        "csrf_token": csrf_token(owner_client, "/settings/users"),
    } | changes
    return owner_client.post("/settings/users", data=form)


def _log_in(app, login_id, password):
    browser = app.test_client()
    data = {"login_id": login_id, "password": password, "csrf_token": csrf_token(browser)}
    assert browser.post("/login", data=data).headers["Location"] == "/"
    return browser


def test_a_billing_sub_user_pays_bills_but_cannot_open_the_account_settings(
    app, client, login_as, customer
):
    owner = login_as(factories.owner(customer))
    added = _add_user(owner)
    assert added.headers["Location"] == "/settings/users"
    page = _text(owner.get("/settings/users"))
    assert "ユーザー taro+keiri を追加しました。" in page
    assert "taro+keiri keiri@example.jp" in page

    keiri = _log_in(app, "taro+keiri", KEIRI_PASSWORD)
    menu = _text(keiri.get("/"))
    assert "お支払・ご請求明細" in menu and "ログイン設定" in menu
    assert "セキュリティ設定" not in menu and "ユーザー管理" not in menu
    assert keiri.get("/settings/security").status_code == 403
    assert keiri.get("/settings/users").status_code == 403
    assert keiri.get("/settings/login").status_code == 200  # their own password and 2FA

    bill = db.session.scalar(select(Bill))
    bill_page = keiri.get(f"/bills/{bill.bill_no}").get_data(as_text=True)
    assert 'id="card-form"' in bill_page
    paid = keiri.post(
        f"/bills/{bill.bill_no}/pay/card",
        data={
            "number": "4242424242424242",
            "expiry": "12/30",
            "security_code": "123",
            "csrf_token": csrf_token(keiri, f"/bills/{bill.bill_no}"),
        },
    )
    assert paid.status_code == 302
    assert db.session.get(Bill, bill.id).status == BillStatus.PAID


def test_a_new_role_applies_on_the_sub_users_next_request(app, client, login_as, customer):
    owner = login_as(factories.owner(customer))
    _add_user(owner)
    keiri = _log_in(app, "taro+keiri", KEIRI_PASSWORD)
    assert keiri.get("/bills").status_code == 200
    user = db.session.scalar(select(User).where(User.login_id == "taro+keiri"))
    owner.post(
        f"/settings/users/{user.id}/role",
        data={f"user-{user.id}-role": "technical", "csrf_token": csrf_token(owner, "/")},
    )
    assert "役割の変更 taro+keiri: 請求担当 → 技術担当" in _text(owner.get("/settings/security"))
    assert keiri.get("/bills").status_code == 403

    owner.post(f"/settings/users/{user.id}/disable", data={"csrf_token": csrf_token(owner, "/")})
    assert keiri.get("/").headers["Location"].startswith("/login")  # logged out at once


def test_the_last_owner_is_kept_with_a_message(client, login_as, customer):
    owner_user = factories.owner(customer)
    owner = login_as(owner_user)
    token = csrf_token(owner, "/")
    demoted = owner.post(
        f"/settings/users/{owner_user.id}/role",
        data={f"user-{owner_user.id}-role": "read_only", "csrf_token": token},
    )
    assert "管理者が1人もいなくなるため" in _text(owner.get(demoted.headers["Location"]))
    owner.post(f"/settings/users/{owner_user.id}/disable", data={"csrf_token": token})
    assert db.session.get(User, owner_user.id).role == Role.OWNER
    assert db.session.get(User, owner_user.id).is_active


def test_the_form_asks_only_for_the_part_after_the_accounts_prefix(client, login_as, customer):
    owner = login_as(factories.owner(customer))
    page = owner.get("/settings/users").get_data(as_text=True)
    field = re.search(
        r'<span class="login-id-prefix" id="login_id-prefix">([^<]*)</span>\s*<input([^>]*)>', page
    )
    assert field.group(1) == "taro+"
    assert 'name="login_id"' in field.group(2)
    assert 'aria-describedby="login_id-prefix login_id-hint"' in field.group(2)
    assert "例: taro+keiri" in _text(owner.get("/settings/users"))


def test_a_refused_sub_user_keeps_what_was_typed_and_says_why(client, login_as, customer):
    owner = login_as(factories.owner(customer))
    _add_user(owner)
    taken = _add_user(owner, email="other@example.jp")
    assert "このログインIDは、このアカウントで既に使われています。" in _text(taken)
    assert 'value="other@example.jp"' in taken.get_data(as_text=True)
    assert 'aria-invalid="true"' in taken.get_data(as_text=True)
    malformed = _add_user(owner, login_id="経理")
    assert "ログインIDの「taro+」に続く部分は、半角英小文字" in _text(malformed)
    short = _add_user(owner, login_id="somu", password="short")
    assert "パスワードは12文字以上で入力してください。" in _text(short)
    assert db.session.scalars(select(User.login_id).order_by(User.id)).all() == [
        "taro",
        "taro+keiri",
    ]
