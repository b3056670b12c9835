"""Two-factor login (二要素認証): TOTP codes (RFC 6238) from an authenticator app, single-use
recovery codes, and the confirmation a user gives before changing what guards the account."""

import hashlib
import hmac
import secrets
import unicodedata
from datetime import datetime

import pyotp
import qrcode
import qrcode.image.svg
from flask import current_app
from markupsafe import Markup
from sqlalchemy import delete, func, select, update

from panel.database import rows_matched
from panel.extensions import db
from panel.models import RecoveryCode, StaffMember, User
from panel.refusals import DomainError
from panel.services.audit import Client, record_event
from panel.services.auth import (
    check_password,
    failure_throttle,
    mark_confirmed,
    signed_in_session,
)

#: Codes one time step (30 s) either side of the server's clock are accepted, for a phone
#: whose clock is a little off and a code typed as it changes.
ALLOWED_DRIFT_STEPS = 1
RECOVERY_CODE_COUNT = 10
#: 16 characters of this 31-letter alphabet (no 0/o, 1/l/i): 79 random bits a code, too many
#: to guess even offline, so a fast hash stores them safely.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
RECOVERY_CODE_LENGTH = 16

WRONG_CODE = "確認コードが正しくありません。"
USED_CODE = "この確認コードは既に使われています。次のコードが表示されるまでお待ちください。"
TOO_MANY_CODES = (
    "確認コードの試行回数が上限を超えました。しばらく時間をおいてから、もう一度お試しください。"
)


def normalised_code(code: str) -> str:
    """The code as typed, without spaces or hyphens, half-width and lower case."""
    code = unicodedata.normalize("NFKC", code or "").lower()
    return "".join(character for character in code if character.isalnum())


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(user: User | StaffMember, secret: str, issuer_suffix: str = "") -> str:
    """The otpauth:// URI that Google Authenticator and FreeOTP read from the QR code; the
    issuer is `TOTP_ISSUER` and `issuer_suffix` (staff logins are told apart from customers')."""
    issuer = current_app.config["TOTP_ISSUER"] + issuer_suffix
    return pyotp.TOTP(secret).provisioning_uri(name=user.login_id, issuer_name=issuer)


def qr_code_svg(uri: str) -> Markup:
    """The URI as a QR code, an inline SVG element (no image request, no script)."""
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, border=2)
    svg = image.to_string(encoding="unicode")
    # The SVG is qrcode's own output for our URI: markup we made, not text from a user.
    labelled = svg.replace("<svg ", '<svg class="qr-code" role="img" aria-label="QRコード" ', 1)
    return Markup(labelled)  # noqa: S704


def _in_fours(text: str, separator: str) -> str:
    return separator.join(text[i : i + 4] for i in range(0, len(text), 4))


def grouped_secret(secret: str) -> str:
    """The secret in groups of four, as it is easiest to type into an app by hand."""
    return _in_fours(secret, " ")


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose TOTP code `code` is, within the allowed drift, or None."""
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in range(current - ALLOWED_DRIFT_STEPS, current + ALLOWED_DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def claim_step(user: User | StaffMember, step: int) -> bool:
    """Record `step` as the user's (or staff member's) last accepted one, unless it or a later
    one already is: one conditional UPDATE, so two requests racing with the same code cannot
    both succeed."""
    # `user` may be Flask-Login's proxy of the user: its type is the proxy's.
    model: type[User] | type[StaffMember] = StaffMember if isinstance(user, StaffMember) else User
    claimed = db.session.execute(
        update(model)
        .where(
            model.id == user.id,
            (model.totp_last_step.is_(None)) | (model.totp_last_step < step),
        )
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    if rows_matched(claimed) != 1:
        return False
    user.totp_last_step = step
    return True


def _recovery_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def _use_recovery_code(user: User, code: str, now: datetime) -> bool | None:
    """True when `code` is an unused recovery code of the user (now used), False when it is
    one already used, None when it is none of theirs."""
    code_hash = _recovery_hash(code)
    used = db.session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == code_hash,
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=now)
    )
    if rows_matched(used) == 1:
        return True
    spent = db.session.scalar(
        select(RecoveryCode.id).where(
            RecoveryCode.user_id == user.id, RecoveryCode.code_hash == code_hash
        )
    )
    return False if spent is not None else None


def remaining_recovery_codes(user: User) -> int:
    return db.session.scalars(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    ).one()


def _refuse_unless_allowed_to_try(user: User) -> None:
    if failure_throttle().is_blocked(code=str(user.id)):
        raise DomainError(TOO_MANY_CODES, field="code")


def _code_refused(user: User, message: str, client: Client, action: str | None) -> DomainError:
    """Count a wrong code against the user's limit, audit it as `action` (if any), and give
    the refusal to raise (which keeps that record)."""
    failure_throttle().record_failure(code=str(user.id))
    if action:
        record_event(action, client, user=user)
    return DomainError(message, field="code", keeps_record=True)


def check_code(user: User, code: str, client: Client, now: datetime) -> None:
    """Accept a current TOTP code of the user, or one of their unused recovery codes; refuse
    anything else with a DomainError on the `code` field. A code already used (a replay) is
    refused and audited; failures are throttled per user."""
    _refuse_unless_allowed_to_try(user)
    code = normalised_code(code)
    assert user.totp_secret is not None, "a code is asked for only when two-factor login is on"
    step = matching_step(user.totp_secret, code, now)
    if step is not None:
        if claim_step(user, step):
            return
        raise _code_refused(user, USED_CODE, client, "totp_replayed")
    if len(code) == RECOVERY_CODE_LENGTH:
        recovered = _use_recovery_code(user, code, now)
        if recovered:
            remaining = remaining_recovery_codes(user)
            record_event("recovery_code_used", client, user=user, detail=f"残り{remaining}個")
            return
        if recovered is False:
            raise _code_refused(
                user, "このリカバリーコードは既に使われています。", client, "recovery_code_replayed"
            )
    raise _code_refused(user, WRONG_CODE, client, "code_failed")


def confirm_identity(
    user: User, password: str, code: str | None, client: Client, now: datetime
) -> None:
    """The step-up: the user's password, and a code when two-factor login is on, make the
    current session confirmed for the next few minutes."""
    check_password(user, password, client)
    if user.has_two_factor:
        check_code(user, code or "", client, now)
    mark_confirmed(user, now)


def _new_recovery_codes(user: User, now: datetime) -> list[str]:
    """Replace the user's recovery codes with ten new ones, returned once as text."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [
        "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
        for _ in range(RECOVERY_CODE_COUNT)
    ]
    db.session.add_all(
        RecoveryCode(user_id=user.id, code_hash=_recovery_hash(code), created_at=now)
        for code in codes
    )
    return [formatted_recovery_code(code) for code in codes]


def formatted_recovery_code(code: str) -> str:
    return _in_fours(code, "-")


def enable_two_factor(user: User, code: str, client: Client, now: datetime) -> list[str]:
    """Turn two-factor login on with the secret being enrolled, once a code from it shows the
    app has it; returns the new recovery codes (shown to the user once, stored only hashed)."""
    if user.has_two_factor:
        raise DomainError("二要素認証は既に有効です。")
    login_session = signed_in_session(user)
    secret = login_session.pending_totp_secret
    if secret is None:
        raise DomainError("設定の有効期限が切れました。もう一度QRコードを読み取ってください。")
    _refuse_unless_allowed_to_try(user)
    step = matching_step(secret, normalised_code(code), now)
    if step is None:
        raise _code_refused(
            user,
            "確認コードが正しくありません。アプリに表示されている6桁の数字を入力してください。",
            client,
            action=None,  # nothing is protected yet: a typo while setting up is not an event
        )
    user.totp_secret = secret
    user.totp_last_step = step  # the code that confirmed the app cannot also log in
    login_session.pending_totp_secret = None
    record_event("two_factor_enabled", client, user=user)
    return _new_recovery_codes(user, now)


def disable_two_factor(
    user: User, password: str, code: str | None, client: Client, now: datetime
) -> None:
    if not user.has_two_factor:
        raise DomainError("二要素認証は有効になっていません。")
    confirm_identity(user, password, code, client, now)
    user.totp_secret = None
    user.totp_last_step = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    record_event("two_factor_disabled", client, user=user)


def replace_recovery_codes(
    user: User, password: str, code: str | None, client: Client, now: datetime
) -> list[str]:
    if not user.has_two_factor:
        raise DomainError("二要素認証は有効になっていません。")
    confirm_identity(user, password, code, client, now)
    record_event("recovery_codes_replaced", client, user=user)
    return _new_recovery_codes(user, now)


def start_enrolment(user: User) -> str:
    """The secret being enrolled in this login session: kept on the server-side session row
    (never in the cookie) until a code confirms it, the same one however often the page loads."""
    login_session = signed_in_session(user)
    if login_session.pending_totp_secret is None:
        login_session.pending_totp_secret = new_secret()
    return login_session.pending_totp_secret
