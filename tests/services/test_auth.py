import os
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError

from panel.extensions import db
from panel.models import AllowedNetwork, AuditEvent, LoginSession
from panel.refusals import DomainError
from panel.services import auth
from panel.services.audit import Client
from tests import factories

CLIENT = Client(ip_address="192.0.2.10", user_agent="pytest")
NOW = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)


def test_passwords_are_hashed_with_argon2id():
    hashed = auth.hash_password("demo-pass-2026")
    assert hashed.startswith("$argon2id$")
    assert "demo-pass-2026" not in hashed


def test_right_password_authenticates():
    customer = factories.customer()
    assert auth.authenticate("taro", factories.PASSWORD, CLIENT).customer_id == customer.id


@pytest.mark.parametrize(("login_id", "password"), [("taro", "wrong"), ("nobody", "wrong")])
def test_wrong_id_and_wrong_password_are_refused_alike(login_id, password):
    factories.customer()
    with pytest.raises(DomainError) as refusal:
        auth.authenticate(login_id, password, CLIENT)
    assert refusal.value.message == "会員IDまたはパスワードが正しくありません。"
    failure = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "login_failed"))
    assert failure.detail == login_id
    assert failure.ip_address == "192.0.2.10"


def test_from_a_refused_address_only_the_right_password_hears_about_the_address():
    customer = factories.customer()
    db.session.add(AllowedNetwork(customer=customer, network="203.0.113.0/24", label=""))
    customer.login_ip_restricted = True
    db.session.commit()
    elsewhere = Client(ip_address="198.51.100.1", user_agent="pytest")
    answers = []
    for login_id, password in (
        ("nobody", "wrong"),
        ("taro", "wrong"),
        ("taro", factories.PASSWORD),
    ):
        with pytest.raises(DomainError) as refusal:
            auth.authenticate(login_id, password, elsewhere)
        answers.append(refusal.value.message)
    assert answers == [
        "会員IDまたはパスワードが正しくありません。",
        "会員IDまたはパスワードが正しくありません。",
        "このIPアドレス(198.51.100.1)からのログインは許可されていません。",
    ]
    events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [(event.action, event.detail) for event in events] == [
        ("login_failed", "nobody"),
        ("login_failed", "taro"),
        ("login_refused_address", "taro"),
    ]


def test_a_refused_address_counts_as_a_failure_like_a_wrong_password(app):
    customer = factories.customer()
    db.session.add(AllowedNetwork(customer=customer, network="203.0.113.0/24", label=""))
    customer.login_ip_restricted = True
    db.session.commit()
    elsewhere = Client(ip_address="198.51.100.1", user_agent="pytest")
    for password in ["wrong", factories.PASSWORD] * 5:  # 10: the account's limit
        with pytest.raises(DomainError):
            auth.authenticate("taro", password, elsewhere)
    with pytest.raises(DomainError) as refusal:
        auth.authenticate("taro", factories.PASSWORD, Client("203.0.113.7", "pytest"))
    assert "試行回数" in refusal.value.message


def test_a_disabled_user_cannot_log_in():
    customer = factories.customer()
    factories.owner(customer).disabled_at = NOW
    with pytest.raises(DomainError):
        auth.authenticate("taro", factories.PASSWORD, CLIENT)


def test_too_many_failures_block_even_the_right_password(app):
    factories.customer()
    for _ in range(10):  # the default: 10 failures per account per 15 minutes
        with pytest.raises(DomainError):
            auth.authenticate("taro", "wrong", CLIENT)
    with pytest.raises(DomainError) as refusal:
        auth.authenticate("TARO ", factories.PASSWORD, CLIENT)  # case and spaces don't help
    assert "試行回数" in refusal.value.message


def test_failures_from_one_address_are_limited_across_accounts(app):
    for number in range(50):  # the default: 50 failures per address per 15 minutes
        with pytest.raises(DomainError):
            auth.authenticate(f"guess{number}", "wrong", CLIENT)
    factories.customer()
    with pytest.raises(DomainError) as refusal:
        auth.authenticate("taro", factories.PASSWORD, CLIENT)
    assert "試行回数" in refusal.value.message
    other_address = Client(ip_address="192.0.2.99", user_agent="pytest")
    assert auth.authenticate("taro", factories.PASSWORD, other_address)


def _fail_from(addresses):
    for number, address in enumerate(addresses):
        with pytest.raises(DomainError):
            auth.authenticate(f"guess{number}", "wrong", Client(address, "pytest"))


def _blocked_from(address) -> bool:
    try:
        auth.authenticate("taro", factories.PASSWORD, Client(address, "pytest"))
    except DomainError as refusal:
        assert "試行回数" in refusal.message
        return True
    return False


def test_the_addresses_of_one_ipv6_64_share_one_failure_count(app):
    factories.customer()
    _fail_from(f"2001:db8:1:2::{number:x}" for number in range(1, 51))  # 50: the limit
    assert _blocked_from("2001:db8:1:2:abcd:ef01:2345:6789")  # another address, the same /64
    assert not _blocked_from("2001:db8:1:3::1")  # the next /64 is another line


def test_an_ipv4_mapped_address_counts_as_the_ipv4_address(app):
    factories.customer()
    _fail_from(["192.0.2.10", "::ffff:192.0.2.10"] * 25)
    assert _blocked_from("192.0.2.10")
    assert _blocked_from("::ffff:192.0.2.10")
    assert not _blocked_from("192.0.2.11")


def test_worker_processes_share_failure_counts_through_redis():
    # Two throttles on one Redis stand for two worker processes of the panel.
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    limits = {"account": "3 per 15 minutes", "address": "100 per 15 minutes"}
    first = auth.FailureThrottle(url, limits)
    second = auth.FailureThrottle(url, limits)
    first.reset()
    try:
        for _ in range(3):
            assert not second.is_blocked(account="taro", address="192.0.2.1")
            first.record_failure(account="taro", address="192.0.2.1")
        assert second.is_blocked(account="taro", address="192.0.2.1")
        assert not second.is_blocked(account="hanako", address="192.0.2.2")
    finally:
        first.reset()


def test_a_session_is_found_by_its_token_until_it_ends():
    user = factories.owner(factories.customer())
    token = auth.start_session(user, CLIENT, remember=False, now=NOW)
    db.session.commit()

    stored = db.session.scalar(select(LoginSession))
    assert token not in stored.token_hash  # only a hash of the token is kept
    assert auth.load_session_user(token, CLIENT, NOW + timedelta(hours=1)) == user

    auth.end_session(user, CLIENT, NOW + timedelta(hours=1))
    db.session.commit()
    assert auth.load_session_user(token, CLIENT, NOW + timedelta(hours=1)) is None


@pytest.mark.parametrize(
    ("remember", "still_open", "expired"),
    [
        (False, timedelta(hours=11), timedelta(hours=12)),
        (True, timedelta(days=29), timedelta(days=30)),
    ],
)
def test_a_session_expires(remember, still_open, expired):
    user = factories.owner(factories.customer())
    token = auth.start_session(user, CLIENT, remember=remember, now=NOW)
    db.session.commit()
    assert auth.load_session_user(token, CLIENT, NOW + still_open) == user
    assert auth.load_session_user(token, CLIENT, NOW + expired) is None


def test_an_unknown_token_loads_nobody():
    assert auth.load_session_user("made-up", CLIENT, NOW) is None


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short-pass1", "12文字以上"),
        ("x" * 129, "128文字以内"),
        ("my-TARO-password", "含めないでください"),  # the login ID, in any case
        ("qwertyuiopasdfghjkl", "よく使われていて"),
        ("ＰＡＳＳＷＯＲＤＰＡＳＳＷＯＲＤ", "よく使われていて"),  # full-width is no disguise
        (" " * 12, "空白だけ"),
        ("\u3000" * 12, "空白だけ"),  # full-width spaces are spaces too
        ("   ", "空白だけ"),
        ("correct horse battery", None),
        ("パスワードは十二文字以上です", None),  # any characters
    ],
)
def test_a_new_password_follows_the_policy(password, problem):
    found = auth.password_problem(password, "taro", "taro")
    assert (problem in found) if problem else found is None


def test_changing_the_password_ends_the_other_sessions_but_this_one():
    user = factories.owner(factories.customer())
    elsewhere = auth.start_session(user, CLIENT, remember=True, now=NOW)
    here = auth.start_session(user, CLIENT, remember=False, now=NOW)
    db.session.commit()
    with pytest.raises(DomainError) as refusal:
        auth.change_password(user, "wrong", "a-new-password-2026", CLIENT, NOW)
    # The form's field: the password-change form has no field named "password".
    assert refusal.value.field == "current_password"
    with pytest.raises(DomainError) as refusal:
        auth.change_password(user, factories.PASSWORD, "taro-2026-password", CLIENT, NOW)
    assert refusal.value.field == "new_password"
    db.session.rollback()

    auth.change_password(user, factories.PASSWORD, "a-new-password-2026", CLIENT, NOW)
    db.session.commit()
    assert auth.load_session_user(here, CLIENT, NOW) == user
    assert auth.load_session_user(elsewhere, CLIENT, NOW) is None
    assert auth.authenticate("taro", "a-new-password-2026", CLIENT) == user
    assert "password_changed" in db.session.scalars(select(AuditEvent.action)).all()


def test_a_session_whose_address_leaves_the_list_is_ended():
    customer = factories.customer()
    user = factories.owner(customer)
    token = auth.start_session(user, CLIENT, remember=True, now=NOW)
    db.session.add(AllowedNetwork(customer=customer, network="192.0.2.0/24", label=""))
    customer.login_ip_restricted = True
    db.session.commit()
    assert auth.load_session_user(token, CLIENT, NOW) == user
    roaming = Client(ip_address="198.51.100.1", user_agent="pytest")
    assert auth.load_session_user(token, roaming, NOW) is None
    db.session.commit()
    assert auth.load_session_user(token, CLIENT, NOW) is None  # ended, not just refused once
    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == "session_ended_address")
    )
    assert event.ip_address == "198.51.100.1"


def test_the_audit_log_refuses_changes():
    auth.start_session(factories.owner(factories.customer()), CLIENT, False, NOW)
    db.session.commit()
    with pytest.raises(DBAPIError, match="append-only"):
        db.session.execute(update(AuditEvent).values(detail="rewritten"))
        db.session.flush()
    db.session.rollback()
