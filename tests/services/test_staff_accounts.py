"""Staff logins: password then code (enrolled at the first login), sessions that end after 30
idle minutes or 12 hours, throttling, and staff management by 管理者."""

from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from sqlalchemy import select

from panel.extensions import db
from panel.models import AuditEvent, StaffRole, StaffSession
from panel.refusals import DomainError
from panel.services.audit import Client
from panel.services.staff.accounts import (
    IDLE_TIMEOUT,
    SESSION_LIFETIME,
    add_staff_member,
    authenticate_staff,
    disable_staff_member,
    enrol_two_factor,
    enrolment_secret,
    give_second_factor,
    load_staff_session,
    pending_login,
    reset_staff_two_factor,
)
from tests import factories

CLIENT = Client(ip_address="203.0.113.9", user_agent="pytest")
NOW = datetime(2026, 11, 21, 1, 0, tzinfo=UTC)


def _actions() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def _wrong_code(secret: str, now: datetime) -> str:
    totp = pyotp.TOTP(secret)
    accepted = {totp.at(now + timedelta(seconds=s)) for s in (-30, 0, 30)}
    return next(code for code in ("000000", "111111", "222222") if code not in accepted)


def _logged_in(member, now=NOW) -> tuple[StaffSession, str]:
    staff_session, token = authenticate_staff(member.login_id, factories.PASSWORD, CLIENT, now)
    code = pyotp.TOTP(member.totp_secret).at(now)
    give_second_factor(staff_session, code, CLIENT, now)
    db.session.commit()
    return staff_session, token


def test_a_password_alone_opens_no_session():
    member = factories.staff_member()
    staff_session, token = authenticate_staff("sato", factories.PASSWORD, CLIENT, NOW)
    db.session.commit()

    assert load_staff_session(token, CLIENT, NOW) is None
    assert pending_login(token, NOW) is staff_session
    assert pending_login(token, NOW + timedelta(minutes=6)) is None  # the code step waits 5
    assert member.has_two_factor


def test_the_code_opens_the_session_and_a_replayed_code_is_refused():
    member = factories.staff_member()
    _, token = _logged_in(member)
    assert load_staff_session(token, CLIENT, NOW) is not None

    again, _ = authenticate_staff("sato", factories.PASSWORD, CLIENT, NOW)
    with pytest.raises(DomainError, match="既に使われています"):
        give_second_factor(again, pyotp.TOTP(member.totp_secret).at(NOW), CLIENT, NOW)
    assert "staff_totp_replayed" in _actions()


def test_a_wrong_code_is_refused_and_audited():
    member = factories.staff_member()
    staff_session, _ = authenticate_staff("sato", factories.PASSWORD, CLIENT, NOW)

    with pytest.raises(DomainError, match="確認コードが正しくありません"):
        give_second_factor(staff_session, _wrong_code(member.totp_secret, NOW), CLIENT, NOW)
    assert staff_session.second_factor_at is None
    assert "staff_code_failed" in _actions()


@pytest.mark.parametrize(
    ("login_id", "password"), [("sato", "wrong-password-123"), ("nobody", factories.PASSWORD)]
)
def test_a_wrong_id_or_password_gets_one_message(login_id, password):
    factories.staff_member()
    with pytest.raises(DomainError) as refused:
        authenticate_staff(login_id, password, CLIENT, NOW)
    assert refused.value.message == "ログインIDまたはパスワードが正しくありません。"
    assert refused.value.keeps_record
    assert _actions() == ["staff_login_failed"]


def test_staff_logins_are_throttled_like_customers(app):
    factories.staff_member()
    for _ in range(10):
        with pytest.raises(DomainError):
            authenticate_staff("sato", "wrong-password-123", CLIENT, NOW)
    with pytest.raises(DomainError, match="試行回数が上限"):
        authenticate_staff("sato", factories.PASSWORD, CLIENT, NOW)


def test_a_disabled_member_cannot_log_in():
    member = factories.staff_member()
    member.disabled_at = NOW
    db.session.commit()
    with pytest.raises(DomainError, match="正しくありません"):
        authenticate_staff("sato", factories.PASSWORD, CLIENT, NOW)


def test_the_first_login_enrols_two_factor_with_a_code_from_the_secret_shown():
    member = factories.staff_member(two_factor=False)
    staff_session, token = authenticate_staff("sato", factories.PASSWORD, CLIENT, NOW)
    secret = enrolment_secret(staff_session)
    assert enrolment_secret(staff_session) == secret  # the same on every load
    with pytest.raises(DomainError, match="確認コードが正しくありません"):
        enrol_two_factor(staff_session, _wrong_code(secret, NOW), CLIENT, NOW)

    enrol_two_factor(staff_session, pyotp.TOTP(secret).at(NOW), CLIENT, NOW)
    db.session.commit()

    assert member.totp_secret == secret and staff_session.pending_totp_secret is None
    assert load_staff_session(token, CLIENT, NOW) is staff_session
    assert _actions()[-2:] == ["staff_two_factor_enabled", "staff_login"]


def test_a_session_ends_after_30_idle_minutes_and_each_request_keeps_it_open():
    member = factories.staff_member()
    _, token = _logged_in(member)

    later = NOW + IDLE_TIMEOUT - timedelta(minutes=1)
    assert load_staff_session(token, CLIENT, later) is not None  # noted as its last request
    db.session.commit()
    assert load_staff_session(token, CLIENT, later + IDLE_TIMEOUT - timedelta(minutes=1))
    db.session.commit()
    assert load_staff_session(token, CLIENT, later + 2 * IDLE_TIMEOUT) is None
    db.session.commit()
    # Ended for good: it does not come back.
    assert load_staff_session(token, CLIENT, later + IDLE_TIMEOUT - timedelta(minutes=2)) is None


def test_a_session_ends_after_12_hours_however_busy():
    member = factories.staff_member()
    _, token = _logged_in(member)
    moment = NOW
    while moment < NOW + SESSION_LIFETIME - timedelta(minutes=20):
        moment += timedelta(minutes=20)
        assert load_staff_session(token, CLIENT, moment) is not None
        db.session.commit()
    assert load_staff_session(token, CLIENT, NOW + SESSION_LIFETIME) is None


def test_a_management_change_needs_a_valid_form_and_is_audited():
    admin = factories.staff_member("admin", StaffRole.ADMIN)
    with pytest.raises(DomainError, match="12文字以上"):
        add_staff_member(
            login_id="kato", name="加藤", role="support", password="short", by=admin, client=CLIENT
        )
    with pytest.raises(DomainError, match="既に使われています"):
        add_staff_member(
            login_id="admin",
            name="加藤",
            role="support",
            password="a-long-enough-password",
            by=admin,
            client=CLIENT,
        )
    added = add_staff_member(
        login_id="kato",
        name="加藤 次郎",
        role="accounting",
        password="a-long-enough-password",
        by=admin,
        client=CLIENT,
    )
    db.session.commit()
    assert (added.role, added.has_two_factor) == ("accounting", False)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "staff_added"))
    assert event.staff_member_id == admin.id and "加藤 次郎" in event.detail


def test_disabling_a_member_ends_their_sessions_and_never_the_last_admin():
    admin = factories.staff_member("admin", StaffRole.ADMIN)
    member = factories.staff_member()
    _, token = _logged_in(member)

    disable_staff_member(member, by=admin, client=CLIENT, now=NOW)
    db.session.commit()

    assert load_staff_session(token, CLIENT, NOW) is None
    with pytest.raises(DomainError, match="ご自身"):
        disable_staff_member(admin, by=admin, client=CLIENT, now=NOW)
    other = factories.staff_member("admin2", StaffRole.ADMIN)
    disable_staff_member(admin, by=other, client=CLIENT, now=NOW)
    db.session.commit()
    third = factories.staff_member("admin3", StaffRole.ADMIN)
    third.disabled_at = NOW
    db.session.commit()
    with pytest.raises(DomainError, match="管理者が1人もいなくなる"):
        disable_staff_member(other, by=third, client=CLIENT, now=NOW)


def test_resetting_two_factor_ends_the_sessions_and_the_next_login_enrols_again():
    admin = factories.staff_member("admin", StaffRole.ADMIN)
    member = factories.staff_member()
    _, token = _logged_in(member)

    reset_staff_two_factor(member, by=admin, client=CLIENT, now=NOW)
    db.session.commit()

    assert member.totp_secret is None and load_staff_session(token, CLIENT, NOW) is None
    staff_session, _ = authenticate_staff("sato", factories.PASSWORD, CLIENT, NOW)
    with pytest.raises(DomainError, match="二要素認証の設定がまだ"):
        give_second_factor(staff_session, "123456", CLIENT, NOW)
    assert "staff_two_factor_reset" in _actions()
