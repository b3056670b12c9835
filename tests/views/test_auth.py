import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from panel.extensions import db
from panel.models import AllowedNetwork, AuditEvent
from tests import factories
from tests.conftest import csrf_token

WRONG = "会員IDまたはパスワードが正しくありません。"


def _post_login(client, login_id, password, **extra):
    data = {"login_id": login_id, "password": password, "csrf_token": csrf_token(client)}
    return client.post("/login", data=data | extra, **({} if "headers" not in extra else {}))


def test_the_login_page_is_in_japanese(client):
    page = client.get("/login").get_data(as_text=True)
    assert "ユーザーズパネルにログイン" in page
    assert 'lang="ja"' in page


def test_logging_in_opens_the_dashboard(client):
    factories.customer()
    response = _post_login(client, "taro", factories.PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    dashboard = client.get("/")
    assert dashboard.status_code == 200
    assert "会員ID: <strong>taro</strong>" in dashboard.get_data(as_text=True)
    assert dashboard.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(("login_id", "password"), [("taro", "wrong-password"), ("nobody", "x")])
def test_a_wrong_id_or_password_gets_one_message_and_no_session(client, login_id, password):
    factories.customer()
    response = _post_login(client, login_id, password)
    assert response.status_code == 200
    assert WRONG in response.get_data(as_text=True)
    assert client.get("/").status_code == 302  # still not logged in


def _answer_page(app, login_id, password) -> tuple[int, str]:
    """The status and the page a browser from outside the allowed addresses gets, without what
    differs in any case: its own CSRF token and the login ID it typed."""
    browser = app.test_client()
    browser.environ_base["REMOTE_ADDR"] = "198.51.100.1"
    response = _post_login(browser, login_id, password)
    page = response.get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    page = page.replace(token, "csrf-token").replace(f'value="{login_id}"', 'value="…"')
    return response.status_code, page


def test_an_unknown_id_and_a_wrong_password_get_the_same_page_from_a_refused_address(app):
    customer = factories.customer()
    db.session.add(AllowedNetwork(customer=customer, network="203.0.113.0/24", label=""))
    customer.login_ip_restricted = True
    db.session.commit()
    unknown = _answer_page(app, "nobody", "wrong-password")
    known = _answer_page(app, "taro", "wrong-password")
    assert unknown == known
    assert unknown[0] == 200 and WRONG in unknown[1]
    assert "許可されていません" not in known[1]
    # Only the right password learns that the address is the reason.
    status, page = _answer_page(app, "taro", factories.PASSWORD)
    assert "このIPアドレス(198.51.100.1)からのログインは許可されていません。" in page


def test_empty_fields_are_named_in_japanese(client):
    page = _post_login(client, "", "").get_data(as_text=True)
    assert "会員IDを入力してください。" in page
    assert "パスワードを入力してください。" in page


def test_a_sub_user_logs_in_with_their_own_login_id(client):
    customer = factories.customer()
    factories.sub_user(customer, "taro-billing", "billing")
    assert _post_login(client, "taro-billing", factories.PASSWORD).status_code == 302
    assert "taro-billing" in client.get("/").get_data(as_text=True)


def test_logins_are_throttled_with_a_japanese_message(client):
    factories.customer()
    for _ in range(10):
        _post_login(client, "taro", "wrong-password")
    page = _post_login(client, "taro", factories.PASSWORD).get_data(as_text=True)
    assert "ログインの試行回数が上限を超えました" in page
    assert client.get("/").status_code == 302


def test_login_and_failure_are_audited(client):
    factories.customer()
    _post_login(client, "taro", "wrong-password")
    _post_login(client, "taro", factories.PASSWORD)
    actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions == ["login_failed", "login"]


def test_the_session_after_login_is_a_new_one(app, client):
    factories.customer()
    csrf_token(client)  # an anonymous session, as an attacker could plant it
    planted = client.get_cookie("session").value
    _post_login(client, "taro", factories.PASSWORD)
    assert client.get_cookie("session").value != planted
    attacker = app.test_client()
    attacker.set_cookie("session", planted)
    assert attacker.get("/").status_code == 302


def test_logout_ends_the_session_on_the_server(app, client, login_as):
    login_as(factories.owner(factories.customer()))
    stolen = client.get_cookie("session").value
    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"

    replay = app.test_client()
    replay.set_cookie("session", stolen)
    response = replay.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_logout_deletes_and_ends_the_remembered_login(app, client, login_as):
    login_as(factories.owner(factories.customer()), remember=True)
    remembered = client.get_cookie("remember_token").value
    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    deletion = [
        header
        for header in response.headers.getlist("Set-Cookie")
        if header.startswith("remember_token=")
    ]
    assert len(deletion) == 1 and "Max-Age=0" in deletion[0]
    assert client.get_cookie("remember_token") is None  # the browser forgets it
    # A copy kept from before the logout logs nobody in: the session ended on the server.
    replay = app.test_client()
    replay.set_cookie("remember_token", remembered)
    assert replay.get("/").status_code == 302


def test_a_remembered_login_outlives_the_browser_session(app, client, login_as):
    login_as(factories.owner(factories.customer()), remember=True)
    browser_reopened = app.test_client()
    browser_reopened.set_cookie("remember_token", client.get_cookie("remember_token").value)
    assert browser_reopened.get("/").status_code == 200


def test_logout_is_a_post_with_a_csrf_token(client, login_as):
    login_as(factories.owner(factories.customer()))
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200  # still logged in


def test_a_login_without_remember_me_lasts_twelve_hours(client, login_as):
    with time_machine.travel(datetime(2026, 11, 21, 1, 0, tzinfo=UTC), tick=False) as clock:
        login_as(factories.owner(factories.customer()))
        clock.shift(timedelta(hours=11, minutes=59))
        assert client.get("/").status_code == 200
        clock.shift(timedelta(minutes=2))
        assert client.get("/").status_code == 302


def test_next_takes_the_user_back_but_never_off_the_site(client):
    factories.customer()
    assert client.get("/settings/profile").headers["Location"] == "/login?next=/settings/profile"
    data = {"login_id": "taro", "password": factories.PASSWORD, "csrf_token": csrf_token(client)}
    assert client.post("/login?next=/settings/profile", data=data).headers["Location"] == (
        "/settings/profile"
    )
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    data["csrf_token"] = csrf_token(client)
    assert client.post("/login?next=//evil.example/", data=data).headers["Location"] == "/"


def test_an_htmx_request_without_a_session_goes_to_the_login_page(client):
    response = client.get("/settings/profile", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/login")
