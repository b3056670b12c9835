"""Staff logins: password, then a TOTP code (enrolled at the first login), server-side staff
sessions apart from customers' login sessions, and staff management by 管理者."""

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from panel.extensions import db
from panel.models import StaffMember, StaffRole, StaffSession
from panel.refusals import DomainError
from panel.services.audit import Client, record_event
from panel.services.auth import (
    TOO_MANY_ATTEMPTS,
    address_key,
    failure_throttle,
    hash_password,
    password_matches,
    password_problem,
)
from panel.services.staff.impersonation import end_impersonation
from panel.services.two_factor import (
    TOO_MANY_CODES,
    USED_CODE,
    WRONG_CODE,
    claim_step,
    matching_step,
    new_secret,
    normalised_code,
)

WRONG_CREDENTIALS = "ログインIDまたはパスワードが正しくありません。"
#: A staff session ends after this long without a request...
IDLE_TIMEOUT = timedelta(minutes=30)
#: ...and after this long in any case.
SESSION_LIFETIME = timedelta(hours=12)
#: How long the code step (or the enrolment at the first login) waits after the password.
PENDING_LOGIN = timedelta(minutes=5)
#: A session's last request is written down at most this often (a write per request would
#: make every page of the console a writing transaction).
SEEN_RESOLUTION = timedelta(minutes=1)

#: What each role may do besides what every staff member may (search, impersonate, the paper
#: and mail queues); each role has the permissions of those before it.
CONFIRMS_PAYMENTS = (StaffRole.ACCOUNTING, StaffRole.ADMIN)
MANAGES_STAFF = (StaffRole.ADMIN,)

#: The throttle's keys for staff, apart from customers' (a staff login ID may equal a member ID).
_ACCOUNT_PREFIX = "staff:"


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _login_keys(login_id: str, client: Client) -> dict[str, str]:
    # The same per-address count as customers' logins: one client, one budget of failures.
    return {
        "account": _ACCOUNT_PREFIX + login_id.casefold(),
        "address": address_key(client.ip_address),
    }


def _code_key(member: StaffMember) -> str:
    return f"{_ACCOUNT_PREFIX}{member.id}"


def authenticate_staff(
    login_id: str, password: str, client: Client, now: datetime
) -> tuple[StaffSession, str]:
    """A login in progress for the staff member with this login ID and password, and the token
    for the staff cookie; the second factor comes next. Failures are throttled like customers'
    logins (per login ID and per address, in the same limiter) and audited."""
    login_id = login_id.strip()
    throttle = failure_throttle()
    keys = _login_keys(login_id, client)
    if throttle.is_blocked(**keys):
        record_event("staff_login_failed", client, detail=f"{login_id}(試行回数の上限)")
        raise DomainError(TOO_MANY_ATTEMPTS, keeps_record=True)
    member = db.session.scalar(select(StaffMember).where(StaffMember.login_id == login_id))
    if not password_matches(member, password) or not member.is_active:
        throttle.record_failure(**keys)
        record_event("staff_login_failed", client, staff=member, detail=login_id)
        raise DomainError(WRONG_CREDENTIALS, keeps_record=True)
    token = secrets.token_urlsafe(32)
    staff_session = StaffSession(
        token_hash=_token_hash(token),
        staff_member=member,
        created_at=now,
        last_seen_at=now,
        ip_address=client.ip_address,
        user_agent=(client.user_agent or "")[:400] or None,
    )
    db.session.add(staff_session)
    return staff_session, token


def _find(token: str) -> StaffSession | None:
    return db.session.scalar(
        select(StaffSession).where(
            StaffSession.token_hash == _token_hash(token), StaffSession.ended_at.is_(None)
        )
    )


def pending_login(token: str, now: datetime) -> StaffSession | None:
    """The login in progress with this token: the password given within the last minutes, the
    second factor still to come."""
    staff_session = _find(token)
    if (
        staff_session is None
        or staff_session.second_factor_at is not None
        or now - staff_session.created_at > PENDING_LOGIN
        or not staff_session.staff_member.is_active
    ):
        return None
    return staff_session


def _idle_end(staff_session: StaffSession) -> datetime:
    """When the session ends if nothing more happens in it."""
    return min(
        staff_session.last_seen_at + IDLE_TIMEOUT, staff_session.created_at + SESSION_LIFETIME
    )


def load_staff_session(token: str, client: Client, now: datetime) -> StaffSession | None:
    """The staff session with this token while it is open: its second factor given, its staff
    member active, and neither idle for 30 minutes nor older than 12 hours. One found idle or
    too old is ended here, at the moment it ran out, with the impersonation it held."""
    staff_session = _find(token)
    if staff_session is None or staff_session.second_factor_at is None:
        return None
    if not staff_session.staff_member.is_active:
        end_staff_session(staff_session, client, now, action=None)
        return None
    if now >= _idle_end(staff_session):
        end_staff_session(staff_session, client, _idle_end(staff_session), action=None)
        return None
    if now - staff_session.last_seen_at >= SEEN_RESOLUTION:
        staff_session.last_seen_at = now
    return staff_session


def _open(staff_session: StaffSession, client: Client, now: datetime, detail: str) -> None:
    """The login is complete. Each login also ends the sessions that ran out unseen, so that
    their impersonations are closed in the customers' audit logs."""
    staff_session.second_factor_at = staff_session.last_seen_at = now
    staff_session.pending_totp_secret = None
    record_event("staff_login", client, staff=staff_session.staff_member, detail=detail)
    end_idle_sessions(now)


def _code_refused(
    member: StaffMember, message: str, client: Client, action: str | None
) -> DomainError:
    failure_throttle().record_failure(code=_code_key(member))
    if action:
        record_event(action, client, staff=member)
    return DomainError(message, field="code", keeps_record=True)


def _refuse_unless_allowed_to_try(member: StaffMember) -> None:
    if failure_throttle().is_blocked(code=_code_key(member)):
        raise DomainError(TOO_MANY_CODES, field="code")


def give_second_factor(
    staff_session: StaffSession, code: str, client: Client, now: datetime
) -> None:
    """The login's code from the staff member's authenticator app: the session opens. A code
    already used (a replay) is refused and audited; wrong codes are throttled per member.
    Staff have no recovery codes: a 管理者 resets a lost authenticator instead."""
    member = staff_session.staff_member
    if member.totp_secret is None:
        raise DomainError("二要素認証の設定がまだです。もう一度ログインしてください。")
    _refuse_unless_allowed_to_try(member)
    step = matching_step(member.totp_secret, normalised_code(code), now)
    if step is None:
        raise _code_refused(member, WRONG_CODE, client, "staff_code_failed")
    if not claim_step(member, step):
        raise _code_refused(member, USED_CODE, client, "staff_totp_replayed")
    _open(staff_session, client, now, "二要素認証")


def enrolment_secret(staff_session: StaffSession) -> str:
    """The secret being enrolled at the first login, kept on the server-side session (never
    in the cookie) until a code confirms it; the same one however often the page loads."""
    if staff_session.pending_totp_secret is None:
        staff_session.pending_totp_secret = new_secret()
    return staff_session.pending_totp_secret


def enrol_two_factor(staff_session: StaffSession, code: str, client: Client, now: datetime) -> None:
    """Two-factor login set up at the first login: a code from the app shows it has the secret,
    the secret becomes the staff member's, and the session opens."""
    member = staff_session.staff_member
    if member.totp_secret is not None:
        raise DomainError("二要素認証は設定済みです。確認コードでログインしてください。")
    secret = staff_session.pending_totp_secret
    if secret is None:
        raise DomainError("設定の有効期限が切れました。もう一度QRコードを読み取ってください。")
    _refuse_unless_allowed_to_try(member)
    step = matching_step(secret, normalised_code(code), now)
    if step is None:
        raise _code_refused(
            member,
            "確認コードが正しくありません。アプリに表示されている6桁の数字を入力してください。",
            client,
            action=None,
        )
    member.totp_secret = secret
    member.totp_last_step = step  # the code that confirmed the app cannot also log in again
    record_event("staff_two_factor_enabled", client, staff=member)
    _open(staff_session, client, now, "二要素認証の設定")


def end_staff_session(
    staff_session: StaffSession, client: Client, now: datetime, action: str | None = "staff_logout"
) -> None:
    """End the staff session (logout: `action` audited) and the impersonation it held; no copy
    of its cookie is accepted again."""
    if staff_session.impersonated_user_id is not None:
        end_impersonation(staff_session, client, now)
    staff_session.ended_at = now
    if action:
        record_event(action, client, staff=staff_session.staff_member, at=now)


def _end_sessions_of(member: StaffMember, client: Client, now: datetime) -> None:
    for staff_session in db.session.scalars(
        select(StaffSession).where(
            StaffSession.staff_member_id == member.id, StaffSession.ended_at.is_(None)
        )
    ):
        end_staff_session(staff_session, client, now, action=None)


# Staff management (管理者)


def staff_members() -> list[StaffMember]:
    return list(
        db.session.scalars(
            select(StaffMember).order_by(StaffMember.disabled_at.is_not(None), StaffMember.id)
        )
    )


def add_staff_member(
    *, login_id: str, name: str, role: str, password: str, by: StaffMember, client: Client
) -> StaffMember:
    """A new staff login; its two-factor login is set up at its first login."""
    login_id = login_id.strip()
    if role not in set(StaffRole):
        raise DomainError("役割を選んでください。", field="role")
    if db.session.scalar(select(StaffMember.id).where(StaffMember.login_id == login_id)):
        raise DomainError("このログインIDは既に使われています。", field="login_id")
    problem = password_problem(password, login_id)
    if problem:
        raise DomainError(problem, field="password")
    member = StaffMember(
        login_id=login_id, name=name.strip(), role=role, password_hash=hash_password(password)
    )
    db.session.add(member)
    db.session.flush()
    record_event("staff_added", client, staff=by, detail=f"{member.name}({login_id}・{role})")
    return member


def _lock_staff() -> None:
    """Serialise changes to who is an active 管理者, so two admins disabling each other at once
    cannot leave the console without one."""
    db.session.execute(
        select(StaffMember.id).where(StaffMember.role == StaffRole.ADMIN).with_for_update()
    ).all()


def disable_staff_member(
    member: StaffMember, *, by: StaffMember, client: Client, now: datetime
) -> None:
    """The staff member can no longer log in; their open sessions (and impersonations) end."""
    _lock_staff()
    db.session.refresh(member)
    if member.id == by.id:
        raise DomainError("ご自身のログインは無効にできません。")
    if not member.is_active:
        raise DomainError(f"{member.name}さんのログインは既に無効です。")
    if member.role == StaffRole.ADMIN:
        admins = db.session.scalar(
            select(func.count())
            .select_from(StaffMember)
            .where(StaffMember.role == StaffRole.ADMIN, StaffMember.disabled_at.is_(None))
        )
        if (admins or 0) <= 1:
            raise DomainError("有効な管理者が1人もいなくなるため、無効にできません。")
    member.disabled_at = now
    _end_sessions_of(member, client, now)
    record_event("staff_disabled", client, staff=by, detail=f"{member.name}({member.login_id})")


def reset_staff_two_factor(
    member: StaffMember, *, by: StaffMember, client: Client, now: datetime
) -> None:
    """A lost authenticator: the secret is removed and the member's sessions end, so the next
    login sets two-factor login up again (with the password, which the member still has)."""
    if member.totp_secret is None:
        raise DomainError(f"{member.name}さんの二要素認証はまだ設定されていません。")
    member.totp_secret = None
    member.totp_last_step = None
    _end_sessions_of(member, client, now)
    record_event(
        "staff_two_factor_reset", client, staff=by, detail=f"{member.name}({member.login_id})"
    )


def end_idle_sessions(now: datetime) -> int:
    """End the staff sessions that ran out without a later request (their impersonations are
    ended in the customers' audit logs at the moment they ran out); how many."""
    idle = list(
        db.session.scalars(
            select(StaffSession).where(
                StaffSession.ended_at.is_(None),
                StaffSession.second_factor_at.is_not(None),
                (StaffSession.last_seen_at <= now - IDLE_TIMEOUT)
                | (StaffSession.created_at <= now - SESSION_LIFETIME),
            )
        )
    )
    client = Client(ip_address=None, user_agent=None)
    for staff_session in idle:
        end_staff_session(staff_session, client, _idle_end(staff_session), action=None)
    # Logins left halfway (password given, no code) are simply closed.
    db.session.execute(
        update(StaffSession)
        .where(
            StaffSession.ended_at.is_(None),
            StaffSession.second_factor_at.is_(None),
            StaffSession.created_at <= now - PENDING_LOGIN,
        )
        .values(ended_at=now)
    )
    return len(idle)
