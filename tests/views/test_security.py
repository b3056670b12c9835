"""Two-factor login, the step-up, the login address list and the security headers, over HTTP."""

import re
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
import time_machine
from sqlalchemy import select

from panel import create_app
from panel.config import from_environment
from panel.extensions import db
from panel.models import AllowedNetwork, AuditEvent
from tests import factories
from tests.conftest import csrf_token

HTMX = {"HX-Request": "true"}
START = datetime(2026, 11, 21, 1, 0, 5, tzinfo=UTC)


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def _login(client, login_id="taro", password=factories.PASSWORD, **extra):
    data = {"login_id": login_id, "password": password, "csrf_token": csrf_token(client)}
    return client.post("/login", data=data | extra)


def _enter_code(client, code):
    return client.post(
        "/login/code", data={"code": code, "csrf_token": csrf_token(client, "/login/code")}
    )


def _enrol(client) -> tuple[pyotp.TOTP, list[str]]:
    """Turn two-factor login on through the pages, as the user would with an app; returns the
    app's TOTP and the recovery codes shown once."""
    page = client.get("/settings/two-factor").get_data(as_text=True)
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    totp = pyotp.TOTP(secret)
    done = client.post(
        "/settings/two-factor",
        data={"code": totp.now(), "csrf_token": csrf_token(client, "/settings/two-factor")},
    )
    codes = re.findall(r"<li><code>([a-z0-9-]{19})</code></li>", done.get_data(as_text=True))
    assert done.status_code == 200 and len(codes) == 10
    return totp, codes


def _logout(client):
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def owner(client, login_as):
    return login_as(factories.owner(factories.customer()))


# Two-factor login


def test_enrolment_shows_a_qr_code_and_the_secret_then_asks_for_a_code_at_login(
    client, clock, owner
):
    page = client.get("/settings/two-factor").get_data(as_text=True)
    assert '<svg class="qr-code" role="img" aria-label="QRコード"' in page
    assert "Google Authenticator" in page and "FreeOTP" in page
    wrong = client.post(
        "/settings/two-factor",
        data={"code": "12345", "csrf_token": csrf_token(client, "/settings/two-factor")},
    )
    assert "確認コードが正しくありません。アプリに表示されている6桁" in _text(wrong)

    totp, _ = _enrol(client)
    assert "二要素認証 有効" in _text(client.get("/settings/security"))
    _logout(client)

    clock.shift(timedelta(seconds=30))
    first_step = _login(client, remember="y")
    assert first_step.headers["Location"] == "/login/code"
    assert "remember_token" not in first_step.headers.get("Set-Cookie", "")
    assert client.get("/").status_code == 302  # the password alone is not a login
    assert "確認コードの入力" in _text(client.get("/login/code"))

    refused = _enter_code(client, "000000" if totp.now() != "000000" else "111111")
    assert "確認コードが正しくありません。" in _text(refused)
    second_step = _enter_code(client, totp.now())
    assert second_step.headers["Location"] == "/"
    assert "remember_token=" in second_step.headers.get("Set-Cookie", "")
    assert client.get("/").status_code == 200


def test_a_code_cannot_be_used_twice_to_log_in(client, clock, owner):
    totp, _ = _enrol(client)
    _logout(client)
    clock.shift(timedelta(seconds=30))
    _login(client)
    code = totp.now()
    _enter_code(client, code)
    _logout(client)
    _login(client)
    assert "この確認コードは既に使われています" in _text(_enter_code(client, code))
    assert client.get("/").status_code == 302


def test_a_recovery_code_logs_in_once(client, owner):
    _, codes = _enrol(client)
    _logout(client)
    _login(client)
    assert _enter_code(client, codes[0]).headers["Location"] == "/"
    _logout(client)
    _login(client)
    assert "このリカバリーコードは既に使われています" in _text(_enter_code(client, codes[0]))
    assert _enter_code(client, codes[1]).headers["Location"] == "/"
    log = _text(client.get("/settings/security"))
    assert "リカバリーコードでログイン・確認 残り8個" in log


def test_new_recovery_codes_need_the_password_and_a_code(client, clock, owner):
    totp, old = _enrol(client)
    clock.shift(timedelta(seconds=30))
    form = {"recovery-csrf_token": csrf_token(client, "/settings/security")}
    refused = client.post(
        "/settings/two-factor/recovery-codes",
        data=form | {"recovery-password": "wrong", "recovery-code": totp.now()},
    )
    assert "パスワードが正しくありません。" in _text(refused)
    page = client.post(
        "/settings/two-factor/recovery-codes",
        data=form | {"recovery-password": factories.PASSWORD, "recovery-code": totp.now()},
    )
    new = re.findall(r"<li><code>([a-z0-9-]{19})</code></li>", page.get_data(as_text=True))
    assert len(new) == 10 and set(new).isdisjoint(old)


def test_disabling_two_factor_login_needs_the_password_and_a_code(client, clock, owner):
    totp, _ = _enrol(client)
    clock.shift(timedelta(seconds=30))
    form = {"disable-csrf_token": csrf_token(client, "/settings/security")}
    refused = client.post(
        "/settings/two-factor/disable", data=form | {"disable-password": factories.PASSWORD}
    )
    assert "確認コードを入力してください。" in _text(refused)
    done = client.post(
        "/settings/two-factor/disable",
        data=form | {"disable-password": factories.PASSWORD, "disable-code": totp.now()},
    )
    assert done.headers["Location"] == "/settings/security"
    assert "二要素認証 無効" in _text(client.get("/settings/security"))
    _logout(client)
    assert _login(client).headers["Location"] == "/"  # the password is enough again


def test_the_code_step_expires_and_needs_the_password_again(client, clock, owner):
    _enrol(client)
    _logout(client)
    _login(client)
    clock.shift(timedelta(minutes=5, seconds=1))
    expired = client.get("/login/code")
    assert expired.headers["Location"] == "/login"
    assert client.get("/login/code").headers["Location"] == "/login"


def test_the_code_step_cannot_be_reached_without_the_password(client):
    factories.customer()
    assert client.get("/login/code").headers["Location"] == "/login"


# The step-up


def test_after_ten_minutes_the_security_pages_ask_for_the_password_again(client, clock, owner):
    assert client.get("/settings/security").status_code == 200
    clock.shift(timedelta(minutes=10, seconds=1))
    asked = client.get("/settings/security")
    assert asked.headers["Location"] == "/settings/confirm?next=/settings/security"
    assert client.get("/settings/users").headers["Location"].startswith("/settings/confirm")
    token = csrf_token(client, "/settings/confirm")
    stale = client.post(
        "/settings/password",
        data={"password-csrf_token": token},
        headers={"Referer": "http://localhost/settings/security"},
    )
    assert stale.headers["Location"] == "/settings/confirm?next=/settings/security"
    htmx = client.post("/settings/login-addresses", data={"csrf_token": token}, headers=HTMX)
    assert htmx.headers["HX-Redirect"].startswith("/settings/confirm")

    wrong = client.post(
        "/settings/confirm?next=/settings/security",
        data={"password": "wrong", "csrf_token": token},
    )
    assert "パスワードが正しくありません。" in _text(wrong)
    confirmed = client.post(
        "/settings/confirm?next=/settings/security",
        data={"password": factories.PASSWORD, "csrf_token": token},
    )
    assert confirmed.headers["Location"] == "/settings/security"
    assert client.get("/settings/security").status_code == 200


def test_with_two_factor_login_the_step_up_needs_a_code_too(client, clock, owner):
    totp, _ = _enrol(client)
    clock.shift(timedelta(minutes=11))
    page = client.get("/settings/confirm")
    assert "確認コード" in _text(page)
    token = csrf_token(client, "/settings/confirm")
    without_code = client.post(
        "/settings/confirm", data={"password": factories.PASSWORD, "csrf_token": token}
    )
    assert "確認コードを入力してください。" in _text(without_code)
    with_code = client.post(
        "/settings/confirm",
        data={"password": factories.PASSWORD, "code": totp.now(), "csrf_token": token},
    )
    assert with_code.headers["Location"] == "/settings/security"


def test_the_password_is_changed_with_the_current_one_and_the_policy(client, owner):
    form = {
        "password-csrf_token": csrf_token(client, "/settings/security"),
        "password-current_password": factories.PASSWORD,
    }
    short = client.post(
        "/settings/password",
        data=form | {"password-new_password": "short", "password-new_password_again": "short"},
    )
    assert "パスワードは12文字以上で入力してください。" in _text(short)
    mismatch = client.post(
        "/settings/password",
        data=form
        | {"password-new_password": "a-new-password-26", "password-new_password_again": "x"},
    )
    assert "新しいパスワードが一致しません。" in _text(mismatch)
    new = "a-new-password-2026"
    done = client.post(
        "/settings/password",
        data=form | {"password-new_password": new, "password-new_password_again": new},
    )
    assert done.headers["Location"] == "/settings/security"
    _logout(client)
    assert _login(client, password=new).headers["Location"] == "/"


# Login IP restriction over HTTP


def _from(client, address):
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _restrict(customer, *networks):
    for network in networks:
        db.session.add(AllowedNetwork(customer=customer, network=network, label=""))
    customer.login_ip_restricted = True
    db.session.commit()


def test_the_owner_restricts_logins_through_the_page(client):
    customer = factories.customer()
    _from(client, "203.0.113.7")
    _login(client)
    token = csrf_token(client, "/settings/security")
    turn_on = {"restricted": "on", "csrf_token": token}
    refused = client.post("/settings/login-addresses/restriction", data=turn_on)
    assert "現在ご利用中のIPアドレス(203.0.113.7)からログインできなくなる" in _text(
        client.get(refused.headers["Location"])
    )
    invalid = client.post(
        "/settings/login-addresses",
        data={"network-address": "203.0.113.7/24", "network-csrf_token": token},
    )
    assert "範囲は先頭のアドレスで入力してください(例: 203.0.113.0/24)。" in _text(invalid)
    assert customer.allowed_networks == []
    client.post(
        "/settings/login-addresses",
        data={
            "network-address": "203.0.113.0/24",
            "network-label": "本社",
            "network-csrf_token": token,
        },
    )
    client.post("/settings/login-addresses/restriction", data=turn_on)
    page = _text(client.get("/settings/security"))
    assert "ログインのIP制限 有効" in page and "203.0.113.0/24 本社" in page
    assert "許可するIPアドレスの追加" in page and "ログインのIP制限を有効化" in page

    rule = db.session.scalar(select(AllowedNetwork))
    removing = client.post(
        f"/settings/login-addresses/{rule.id}/delete", data={"csrf_token": token}
    )
    assert "ログインできなくなるため" in _text(client.get(removing.headers["Location"]))
    assert db.session.scalar(select(AllowedNetwork)) is not None


@pytest.mark.parametrize(
    ("socket_address", "allowed"),
    [
        ("203.0.113.7", True),
        ("::ffff:203.0.113.7", True),
        ("2001:db8:1:2::99", True),
        ("198.51.100.1", False),
        ("2001:db8:1:3::1", False),
    ],
)
def test_a_login_comes_only_from_the_allowed_networks(client, socket_address, allowed):
    _restrict(factories.customer(), "203.0.113.0/24", "2001:db8:1:2::/64")
    response = _login(_from(client, socket_address))
    if allowed:
        assert response.headers["Location"] == "/"
    else:
        assert f"このIPアドレス({socket_address})からのログインは許可されていません。" in _text(
            response
        )
        assert client.get("/").status_code == 302


def test_a_forwarded_for_header_is_ignored_without_a_trusted_proxy(client):
    _restrict(factories.customer(), "203.0.113.0/24")
    spoofed = {"X-Forwarded-For": "203.0.113.7"}
    data = {"login_id": "taro", "password": factories.PASSWORD, "csrf_token": csrf_token(client)}
    response = _from(client, "198.51.100.1").post("/login", data=data, headers=spoofed)
    assert "(198.51.100.1)からのログインは許可されていません" in _text(response)
    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == "login_refused_address")
    )
    assert event.ip_address == "198.51.100.1"


@pytest.fixture
def behind_one_proxy(app):
    """The panel as an operator runs it behind one reverse proxy (TRUSTED_PROXY_COUNT=1)."""
    proxied = create_app(
        {
            key: app.config[key]
            for key in (
                "TESTING",
                "SECRET_KEY",
                "SQLALCHEMY_DATABASE_URI",
                "ARGON2_TIME_COST",
                "ARGON2_MEMORY_COST_KIB",
                "RATELIMIT_STORAGE_URI",
            )
        }
        | {"TRUSTED_PROXY_COUNT": 1}
    )
    proxied.test_client_class = app.test_client_class
    yield _from(proxied.test_client(), "10.0.0.2")  # requests arrive from the proxy
    with proxied.app_context():
        db.engine.dispose()


@pytest.mark.parametrize(
    ("forwarded_for", "allowed"),
    [
        ("203.0.113.7", True),
        # A client may send its own header; the proxy appends the address it saw, and only
        # that last entry is believed.
        ("203.0.113.7, 198.51.100.1", False),
        ("198.51.100.1, 203.0.113.7", True),
    ],
)
def test_behind_a_trusted_proxy_its_forwarded_for_is_the_client(
    behind_one_proxy, forwarded_for, allowed
):
    _restrict(factories.customer(), "203.0.113.0/24")
    client = behind_one_proxy
    headers = {"X-Forwarded-For": forwarded_for}
    login_page = client.get("/login", headers=headers).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page).group(1)
    data = {"login_id": "taro", "password": factories.PASSWORD, "csrf_token": token}
    response = client.post("/login", data=data, headers=headers)
    assert (response.status_code == 302) is allowed


def test_a_session_that_moves_outside_the_list_is_ended(client):
    _restrict(factories.customer(), "203.0.113.0/24")
    _login(_from(client, "203.0.113.7"))
    assert client.get("/").status_code == 200
    assert _from(client, "198.51.100.1").get("/").headers["Location"].startswith("/login")
    assert _from(client, "203.0.113.7").get("/").status_code == 302  # it stays ended
    actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions[-1] == "session_ended_address"


# The audit log


def test_the_owner_reads_the_accounts_audit_log(client):
    customer = factories.customer()
    factories.sub_user(customer, "taro-keiri", "billing")
    _from(client, "203.0.113.7")
    _login(client, "taro-keiri", "wrong")
    _login(client, "taro-keiri")
    _logout(client)
    _login(client, headers={"User-Agent": "Mozilla/5.0 (Test) Chrome/156"})
    log = _text(client.get("/settings/security"))
    for entry in (
        "taro-keiri ログイン失敗 taro-keiri 203.0.113.7",
        "taro-keiri ログイン 203.0.113.7",
        "taro-keiri ログアウト",
        "taro ログイン 203.0.113.7",
    ):
        assert entry in log, entry
    assert "年" in log and "月" in log


# Headers and cookies


def test_every_page_sends_the_security_headers(client, owner):
    for path in ("/login", "/", "/settings/security", "/static/css/panel.css"):
        response = client.get(path)
        response.close()
        headers = response.headers
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"
        assert "Strict-Transport-Security" not in headers  # plain HTTP: HTTPS is not set
    assert client.get("/settings/security").headers["Cache-Control"] == "no-store"


def test_the_pages_carry_no_inline_script(client, owner):
    for path in ("/login", "/", "/settings/security", "/settings/two-factor", "/settings/users"):
        page = client.get(path).get_data(as_text=True)
        for script in re.findall(r"<script[^>]*>", page):
            assert "src=" in script, (path, script)
        assert not re.search(r"\son[a-z]+=", page), path  # no onclick= and the like
        assert "hx-on" not in page


def test_the_cookies_are_httponly_and_samesite(client):
    factories.customer()
    response = _login(client, remember="y")
    cookies = response.headers.getlist("Set-Cookie")
    assert len(cookies) == 2  # the session and "remember me"
    for cookie in cookies:
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert "Secure" not in cookie


def test_over_https_cookies_are_secure_and_hsts_is_sent(client, app, monkeypatch):
    monkeypatch.setenv("HTTPS", "1")
    settings = from_environment()
    for key in ("HTTPS", "SESSION_COOKIE_SECURE", "REMEMBER_COOKIE_SECURE"):
        assert settings[key] is True
        monkeypatch.setitem(app.config, key, True)
    factories.customer()
    response = _login(client, remember="y")
    assert all("Secure" in cookie for cookie in response.headers.getlist("Set-Cookie"))
    assert response.headers["Strict-Transport-Security"].startswith("max-age=63072000")
