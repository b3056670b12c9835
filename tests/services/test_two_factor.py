from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from sqlalchemy import select

from panel.extensions import db
from panel.models import AuditEvent, RecoveryCode
from panel.refusals import DomainError
from panel.services import auth, two_factor
from panel.services.audit import Client
from tests import factories

CLIENT = Client(ip_address="192.0.2.10", user_agent="pytest")
NOW = datetime(2026, 11, 21, 3, 0, 10, tzinfo=UTC)
STEP = timedelta(seconds=30)


def _actions() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


@pytest.fixture
def user():
    """A logged-in owner, before two-factor login."""
    user = factories.owner(factories.customer())
    auth.start_session(user, CLIENT, remember=False, now=NOW)
    db.session.commit()
    return user


def _enrol(user, at=NOW) -> tuple[pyotp.TOTP, list[str]]:
    totp = pyotp.TOTP(two_factor.start_enrolment(user))
    codes = two_factor.enable_two_factor(user, totp.at(at), CLIENT, at)
    db.session.commit()
    return totp, codes


def test_enrolment_keeps_one_secret_until_a_code_confirms_it(user):
    secret = two_factor.start_enrolment(user)
    assert two_factor.start_enrolment(user) == secret  # a reload shows the same QR code
    assert user.totp_secret is None
    uri = two_factor.provisioning_uri(user, secret)
    assert uri.startswith("otpauth://totp/") and f"secret={secret}" in uri and "taro" in uri
    assert two_factor.grouped_secret("ABCDEFGHIJKLMNOP") == "ABCD EFGH IJKL MNOP"
    assert '<svg class="qr-code" role="img"' in two_factor.qr_code_svg(uri)

    with pytest.raises(DomainError) as refusal:
        two_factor.enable_two_factor(
            user, "123456" if pyotp.TOTP(secret).at(NOW) != "123456" else "654321", CLIENT, NOW
        )
    assert refusal.value.field == "code"
    assert user.totp_secret is None

    codes = two_factor.enable_two_factor(user, pyotp.TOTP(secret).at(NOW), CLIENT, NOW)
    assert user.totp_secret == secret and user.login_session.pending_totp_secret is None
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(len(code) == 19 and code.count("-") == 3 for code in codes)  # xxxx-xxxx-xxxx-xxxx
    assert "two_factor_enabled" in _actions()


def test_recovery_codes_are_stored_only_as_hashes(user):
    _, codes = _enrol(user)
    stored = list(db.session.scalars(select(RecoveryCode.code_hash)))
    assert len(stored) == 10
    assert not any(code.replace("-", "") in hashed for code in codes for hashed in stored)


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [(-2 * STEP, False), (-STEP, True), (timedelta(0), True), (STEP, True), (2 * STEP, False)],
)
def test_a_code_is_accepted_within_one_step_of_drift(user, offset, accepted):
    totp, _ = _enrol(user, at=NOW - 10 * STEP)
    code = totp.at(NOW + offset)
    if accepted:
        two_factor.check_code(user, code, CLIENT, NOW)
    else:
        with pytest.raises(DomainError, match="確認コードが正しくありません"):
            two_factor.check_code(user, code, CLIENT, NOW)


@pytest.mark.parametrize("typed", ["{code}", " {code} ", "{half} {rest}", "{wide}"])
def test_a_code_may_be_typed_with_spaces_or_in_full_width(user, typed):
    totp, _ = _enrol(user, at=NOW - 10 * STEP)
    code = totp.at(NOW)
    wide = code.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    two_factor.check_code(
        user, typed.format(code=code, half=code[:3], rest=code[3:], wide=wide), CLIENT, NOW
    )


def test_a_code_used_once_is_refused_and_logged(user):
    totp, _ = _enrol(user, at=NOW - 10 * STEP)
    two_factor.check_code(user, totp.at(NOW), CLIENT, NOW)
    db.session.commit()
    with pytest.raises(DomainError, match="既に使われています"):
        two_factor.check_code(user, totp.at(NOW), CLIENT, NOW + timedelta(seconds=5))
    # nor is an older code still inside the drift window
    with pytest.raises(DomainError, match="既に使われています"):
        two_factor.check_code(user, totp.at(NOW - STEP), CLIENT, NOW)
    assert _actions().count("totp_replayed") == 2
    two_factor.check_code(user, totp.at(NOW + STEP), CLIENT, NOW + STEP)  # the next one is fine


def test_the_code_that_confirmed_enrolment_cannot_log_in(user):
    totp, _ = _enrol(user)
    with pytest.raises(DomainError, match="既に使われています"):
        two_factor.check_code(user, totp.at(NOW), CLIENT, NOW)


def test_a_recovery_code_works_once_in_any_spelling(user):
    _, codes = _enrol(user, at=NOW - 10 * STEP)
    first, second = codes[0], codes[1]
    two_factor.check_code(user, first, CLIENT, NOW)
    db.session.commit()
    assert two_factor.remaining_recovery_codes(user) == 9
    with pytest.raises(DomainError, match="このリカバリーコードは既に使われています"):
        two_factor.check_code(user, first, CLIENT, NOW)
    two_factor.check_code(user, second.replace("-", " ").upper(), CLIENT, NOW)
    actions = _actions()
    assert actions.count("recovery_code_used") == 2
    assert "recovery_code_replayed" in actions
    used = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == "recovery_code_used").limit(1)
    )
    assert used.detail == "残り9個"


def test_wrong_codes_are_throttled_per_user(user, app):
    totp, _ = _enrol(user, at=NOW - 10 * STEP)
    wrong = "000000" if totp.at(NOW + STEP) != "000000" else "111111"
    for _ in range(5):  # CODE_FAILURES_PER_USER: 5 per 15 minutes
        with pytest.raises(DomainError, match="確認コードが正しくありません"):
            two_factor.check_code(user, wrong, CLIENT, NOW)
    with pytest.raises(DomainError, match="試行回数が上限"):
        two_factor.check_code(user, totp.at(NOW + STEP), CLIENT, NOW)  # even the right one
    assert _actions().count("code_failed") == 5

    other = factories.owner(factories.customer("hanako"))
    auth.start_session(other, CLIENT, remember=False, now=NOW)
    other_totp, _ = _enrol(other, at=NOW - 10 * STEP)
    two_factor.check_code(other, other_totp.at(NOW), CLIENT, NOW)  # others are not affected


def test_disabling_needs_the_password_and_a_code(user):
    totp, _ = _enrol(user, at=NOW - 10 * STEP)
    with pytest.raises(DomainError) as refusal:
        two_factor.disable_two_factor(user, "wrong", totp.at(NOW), CLIENT, NOW)
    assert refusal.value.field == "password"
    with pytest.raises(DomainError) as refusal:
        two_factor.disable_two_factor(user, factories.PASSWORD, "", CLIENT, NOW)
    assert refusal.value.field == "code"
    assert user.has_two_factor

    two_factor.disable_two_factor(user, factories.PASSWORD, totp.at(NOW), CLIENT, NOW)
    db.session.commit()
    assert not user.has_two_factor
    assert db.session.scalar(select(RecoveryCode.id)) is None
    assert "two_factor_disabled" in _actions()


def test_new_recovery_codes_replace_the_old_ones(user):
    totp, old = _enrol(user, at=NOW - 10 * STEP)
    new = two_factor.replace_recovery_codes(user, factories.PASSWORD, totp.at(NOW), CLIENT, NOW)
    db.session.commit()
    assert set(new).isdisjoint(old)
    with pytest.raises(DomainError, match="確認コードが正しくありません"):
        two_factor.check_code(user, old[0], CLIENT, NOW)
    two_factor.check_code(user, new[0], CLIENT, NOW)
    assert "recovery_codes_replaced" in _actions()


def test_confirming_identity_renews_the_step_up(user):
    later = NOW + timedelta(minutes=11)
    assert auth.recently_confirmed(user, NOW + timedelta(minutes=9))
    assert not auth.recently_confirmed(user, later)
    with pytest.raises(DomainError):
        two_factor.confirm_identity(user, "wrong", None, CLIENT, later)
    assert not auth.recently_confirmed(user, later)
    two_factor.confirm_identity(user, factories.PASSWORD, None, CLIENT, later)
    assert auth.recently_confirmed(user, later + timedelta(minutes=9))

    totp, _ = _enrol(user, at=later)
    even_later = later + timedelta(minutes=30)
    with pytest.raises(DomainError) as refusal:  # with two-factor login, a code too
        two_factor.confirm_identity(user, factories.PASSWORD, None, CLIENT, even_later)
    assert refusal.value.field == "code"
    two_factor.confirm_identity(user, factories.PASSWORD, totp.at(even_later), CLIENT, even_later)
    assert auth.recently_confirmed(user, even_later)
