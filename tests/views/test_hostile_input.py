"""Hostile requests: each gets a clear Japanese answer or a clean 4xx, never a 500, and no body
is read past the size limit. Several of these were 500s only on PostgreSQL (NUL in a string,
integer overflow), so the suite runs them on both databases."""

import io
import json
import re
import socket
import urllib.parse
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from panel.dates import today_in_japan
from panel.extensions import db
from panel.gateways.sandbox import SIGNATURE_HEADER, sign
from panel.models import AuditEvent, Payment, User
from panel.services.auth import TOO_MANY_ATTEMPTS, failure_throttle
from panel.services.billing import transfer_reference
from tests import factories
from tests.conftest import csrf_token

MIB = 1024 * 1024
HIDDEN_CHARACTER = "使用できない文字(制御文字や文字の向きを変える記号)が含まれています。"
#: What an outside review sent: NUL, other C0 and C1 controls, and the bidi controls (an RLO
#: turned デモ into モデ on an invoice).
HIDDEN_CHARACTERS = ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\u202e", "\u2066", "\u200f"]


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


class UnreadableBody(io.RawIOBase):
    """A request body that fails the test if anyone reads it."""

    def readable(self):
        return True

    def readinto(self, buffer):
        raise AssertionError("the body was read")


class EndlessBody(io.RawIOBase):
    """A chunked body that never ends; counts what was read of it, and fails the test (rather
    than fill the memory) when reading goes on past 8 MiB."""

    def __init__(self):
        self.read_so_far = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        if self.read_so_far > 8 * MIB:
            raise AssertionError("the body is read without end")
        buffer[:] = b"a" * len(buffer)
        self.read_so_far += len(buffer)
        return len(buffer)


def _post_body(client, path, body, *, length=None, content_type="", headers=None):
    """POST `body` as a server hands it over: with its declared Content-Length, or chunked
    (no length; the server de-chunks it and says the stream ends by itself)."""
    environ = {"wsgi.input": body, "CONTENT_TYPE": content_type}
    if length is None:
        environ |= {"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True}
    else:
        environ["CONTENT_LENGTH"] = str(length)
    return client.post(path, headers=headers, environ_overrides=environ)


@pytest.fixture
def customer():
    return factories.customer()


@pytest.fixture
def owner(client, login_as, customer):
    return login_as(factories.owner(customer))


# 1. Request size


def test_a_post_declaring_300_mb_is_refused_in_japanese_without_reading_it(client):
    response = _post_body(
        client,
        "/login",
        UnreadableBody(),
        length=300 * MIB,
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 413
    assert "送信された内容が大きすぎます" in _text(response)


def test_a_chunked_post_without_content_length_is_read_no_further_than_one_mebibyte(client):
    body = EndlessBody()
    response = _post_body(client, "/login", body, content_type="application/x-www-form-urlencoded")
    # werkzeug stops at the limit; what was read is no login form (it has no CSRF token).
    assert response.status_code == 400
    assert body.read_so_far == MIB


def test_a_form_just_under_the_limit_is_still_read(client):
    padding = "x" * (MIB - 2000)
    response = client.post("/login", data={"login_id": "taro", "password": "p", "pad": padding})
    # Read, and refused for its missing CSRF token, not for its size.
    assert response.status_code == 400
    assert "ページの有効期限が切れました" in _text(response)


def test_the_running_server_refuses_a_300_mb_login_post_on_its_content_length(live_server):
    host, port = urllib.parse.urlsplit(live_server).netloc.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(
            b"POST /login HTTP/1.1\r\nHost: panel\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            + f"Content-Length: {300 * MIB}\r\nConnection: close\r\n\r\n".encode()
            + b"login_id=taro&password="
        )
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413")
    assert "送信された内容が大きすぎます" in answer.decode()


# 2. The payment webhook


def _awaiting_bill(customer):
    plan = factories.plan()
    server = factories.server(customer, "taro.jp", plan, today_in_japan() + timedelta(days=5))
    return factories.renewal_bill(customer, server)


def _notification(bill) -> bytes:
    return json.dumps(
        {
            "id": "evt-1",
            "method": "bank_transfer",
            "reference": transfer_reference(bill),
            "amount": bill.total,
            "received_at": datetime.now(UTC).isoformat(),
        }
    ).encode()


def test_an_unsigned_notification_is_refused_before_its_body_is_read(client):
    response = _post_body(
        client,
        "/payments/notifications",
        UnreadableBody(),
        length=1000,
        content_type="application/json",
    )
    assert response.status_code == 400


def test_an_oversized_notification_is_refused_before_its_body_is_read(app, client):
    signature = sign(app.config["PAYMENT_WEBHOOK_SECRET"], b"{}", datetime.now(UTC))
    response = _post_body(
        client,
        "/payments/notifications",
        UnreadableBody(),
        length=200 * 1024,
        content_type="application/json",
        headers={SIGNATURE_HEADER: signature},
    )
    assert response.status_code == 413


def test_a_chunked_notification_is_read_no_further_than_its_limit(app, client):
    signature = sign(app.config["PAYMENT_WEBHOOK_SECRET"], b"{}", datetime.now(UTC))
    body = EndlessBody()
    response = _post_body(
        client,
        "/payments/notifications",
        body,
        content_type="application/json",
        headers={SIGNATURE_HEADER: signature},
    )
    # Cut at the limit, the body no longer matches its signature.
    assert response.status_code == 400
    assert body.read_so_far == 64 * 1024


@pytest.mark.parametrize(
    "timestamp",
    ["99999999999999999999", "-1", "١٢", "²", "1e9", "", "0x10", "１７００００００００"],
)
def test_a_malformed_signature_timestamp_is_a_400(client, customer, timestamp):
    bill = _awaiting_bill(customer)
    response = client.post(
        "/payments/notifications",
        data=_notification(bill),
        content_type="application/json",
        headers={SIGNATURE_HEADER: f"t={timestamp},v1={'0' * 64}"},
    )
    assert response.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 0


def test_a_superscript_timestamp_sent_over_http_is_a_400(live_server):
    """A real server decodes header bytes as Latin-1, where ² (0xB2) is a digit to isdigit()."""
    host, port = urllib.parse.urlsplit(live_server).netloc.split(":")
    body = b"{}"
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(
            b"POST /payments/notifications HTTP/1.1\r\nHost: panel\r\n"
            b"Content-Type: application/json\r\nConnection: close\r\n"
            + f"Content-Length: {len(body)}\r\n".encode()
            + SIGNATURE_HEADER.encode()
            + b": t=\xb2,v1="
            + b"0" * 64
            + b"\r\n\r\n"
            + body
        )
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400")


# 3. A wrong current password on the password-change form


def _change_password(client, current, new="a-new-long-password-2026", again=None):
    return client.post(
        "/settings/password",
        data={
            "password-current_password": current,
            "password-new_password": new,
            "password-new_password_again": again or new,
            "csrf_token": csrf_token(client, "/settings/security"),
        },
    )


def _field_error(response, field_id: str) -> str:
    match = re.search(rf'<p class="field-error" id="{field_id}-error">([^<]*)</p>', response.text)
    return match.group(1) if match else ""


def test_a_wrong_current_password_is_shown_next_to_that_field(owner, customer):
    response = _change_password(owner, "not-my-password")
    assert response.status_code == 200
    assert _field_error(response, "password-current_password") == "パスワードが正しくありません。"
    # The refused attempt is audited, and the password is unchanged.
    events = db.session.scalars(select(AuditEvent.action)).all()
    assert "password_refused" in events and "password_changed" not in events


def test_a_throttled_password_change_says_so_next_to_the_current_password(owner, customer):
    user = db.session.scalar(select(User).where(User.customer_id == customer.id))
    throttle = failure_throttle()
    while not throttle.is_blocked(account=user.login_id.casefold()):
        throttle.record_failure(account=user.login_id.casefold())
    response = _change_password(owner, factories.PASSWORD)
    assert response.status_code == 200
    assert _field_error(response, "password-current_password") == TOO_MANY_ATTEMPTS


@pytest.mark.parametrize("new", [" " * 12, "\u3000" * 12, " \u3000" * 8])
def test_a_new_password_of_only_spaces_is_refused(owner, new):
    response = _change_password(owner, factories.PASSWORD, new)
    assert response.status_code == 200
    assert "空白" in _field_error(response, "password-new_password")


def test_a_sub_users_initial_password_of_only_spaces_is_refused(owner):
    response = owner.post(
        "/settings/users",
        data={
            "login_id": "taro-keiri",
            "email": "keiri@example.jp",
            "role": "billing",
            "password": " " * 16,
            "csrf_token": csrf_token(owner, "/settings/users"),
        },
    )
    assert response.status_code == 200
    assert "空白" in _field_error(response, "password")
    assert db.session.scalar(select(User).where(User.login_id == "taro-keiri")) is None


# 4. Control and bidi characters in form fields


@pytest.mark.parametrize("character", HIDDEN_CHARACTERS)
def test_the_login_form_refuses_hidden_characters_in_japanese(client, customer, character):
    factories.owner(customer)
    response = client.post(
        "/login",
        data={
            "login_id": f"taro{character}",
            "password": factories.PASSWORD,
            "csrf_token": csrf_token(client),
        },
    )
    assert response.status_code == 200
    assert _field_error(response, "login_id") == HIDDEN_CHARACTER


def test_a_name_with_a_right_to_left_override_is_refused_on_the_profile(owner, customer):
    response = owner.post(
        "/settings/profile",
        data={
            "name": "株式会社\u202eモデ",
            "contract_email": "taro@example.jp",
            "sub_email": "",
            "notify_40_days_before": "no",
            "csrf_token": csrf_token(owner, "/settings/profile"),
        },
    )
    assert response.status_code == 200
    assert _field_error(response, "name") == HIDDEN_CHARACTER
    db.session.refresh(customer)
    assert "\u202e" not in customer.name


def test_a_nul_in_a_transfer_notice_is_refused_next_to_the_field(owner, customer):
    bill = _awaiting_bill(customer)
    response = owner.post(
        f"/bills/{bill.bill_no}/transfer-notice",
        data={
            "transferred_on": today_in_japan().isoformat(),
            "payer_name": "ヤマダ\x00タロウ",
            "amount": str(bill.total),
            "bank_name": "サンプル銀行",
            "csrf_token": csrf_token(owner, f"/bills/{bill.bill_no}"),
        },
    )
    assert response.status_code == 200
    assert HIDDEN_CHARACTER in _text(response)


@pytest.mark.parametrize("field", ["application_token", "payment_method", "renew", "x"])
def test_the_renewal_form_refuses_hidden_characters_with_a_japanese_400(owner, field):
    data = {field: "abc\x00", "csrf_token": csrf_token(owner, "/renewal")}
    for path in ("/renewal", "/renewal/confirm", "/renewal/apply"):
        response = owner.post(path, data=data)
        assert response.status_code == 400
        assert HIDDEN_CHARACTER in _text(response)


# 5. Control characters in the URL


@pytest.mark.parametrize("path", ["/bills/2026%00", "/login%00", "/bills/%1b[31m", "/%E2%80%AE"])
def test_a_control_character_in_the_path_is_a_404(owner, path):
    response = owner.get(path)
    assert response.status_code == 404
    assert "ページが見つかりません" in _text(response)


@pytest.mark.parametrize(
    "path", ["/login?next=%00", "/bills?status=%00", "/bills?%00=1", "/renewal?x=%E2%80%AE"]
)
def test_a_control_character_in_the_query_string_is_a_japanese_400(owner, path):
    response = owner.get(path)
    assert response.status_code == 400
    assert HIDDEN_CHARACTER in _text(response)


def test_a_control_character_in_the_next_parameter_of_the_login_page_is_a_400(client):
    response = client.get("/login?next=/bills%00")
    assert response.status_code == 400


@pytest.mark.parametrize("user_agent", ["Mozilla\x00", "Mozilla\x1b[2J"])
def test_a_control_character_in_a_header_is_a_400_before_it_reaches_the_audit_log(
    client, customer, user_agent
):
    factories.owner(customer)
    token = csrf_token(client)
    response = client.post(
        "/login",
        data={"login_id": "taro", "password": "wrong", "csrf_token": token},
        headers={"User-Agent": user_agent},
    )
    assert response.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_utf8_in_a_header_is_no_control_character(client):
    # A server hands header bytes over as Latin-1: 日本 arrives as "æ\x97¥æ\x9c¬".
    response = client.get("/login", headers={"User-Agent": "日本".encode().decode("latin-1")})
    assert response.status_code == 200


# 6. Numbers


@pytest.mark.parametrize("page", ["99999999999999999999", "0", "-1", "abc", "1e3", "²", "１"])
@pytest.mark.parametrize("path", ["/bills", "/balance", "/settings/security"])
def test_a_page_number_that_is_not_one_is_a_404(owner, path, page):
    response = owner.get(f"{path}?page={urllib.parse.quote(page)}")
    assert response.status_code == 404


@pytest.mark.parametrize("path", ["/bills", "/balance", "/settings/security"])
def test_a_page_past_the_end_is_still_answered(owner, path):
    assert owner.get(f"{path}?page=999999").status_code == 200


@pytest.mark.parametrize("number", ["²", "①", "١٢", "99999999999999999999", "-1", "1.5"])
def test_unicode_digits_in_the_renewal_form_are_not_chosen(owner, customer, number):
    plan = factories.plan()
    server = factories.server(customer, "taro.jp", plan, today_in_japan() + timedelta(days=5))
    for data in (
        {"renew": number},
        {"renew": str(server.id), f"months-{server.id}": number},
        {"renew": str(server.id), f"plan-{server.id}": number},
        {"renew": str(server.id), f"months-{number}": "12", f"plan-{number}": str(plan.id)},
    ):
        data["csrf_token"] = csrf_token(owner, "/renewal")
        assert owner.post("/renewal", data=data).status_code == 200
        assert owner.post("/renewal/confirm", data=data).status_code == 200


def test_a_huge_id_in_the_url_is_a_404(owner):
    token = csrf_token(owner, "/settings/users")
    for path in (
        "/settings/users/99999999999999999999/disable",
        "/settings/login-addresses/99999999999999999999/delete",
    ):
        assert owner.post(path, data={"csrf_token": token}).status_code == 404
    assert owner.get("/balance/statements/99999999999999999999.pdf").status_code == 404
