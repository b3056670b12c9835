import os
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from panel.extensions import db
from panel.models import AuditEvent, LoginSession
from panel.services import auth
from panel.services.audit import Client
from panel.services.errors import DomainError
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
