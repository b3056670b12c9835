"""Passwords, login with throttling, server-side login sessions and their step-up."""

import hashlib
import ipaddress
import secrets
import unicodedata
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import TypeGuard, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import select, update

from panel.extensions import db
from panel.models import LoginSession, StaffMember, User
from panel.refusals import DomainError
from panel.services.audit import Client, record_event
from panel.services.login_addresses import address_allowed, client_address

WRONG_CREDENTIALS = "会員IDまたはパスワードが正しくありません。"
TOO_MANY_ATTEMPTS = (
    "ログインの試行回数が上限を超えました。しばらく時間をおいてから、もう一度お試しください。"
)
ADDRESS_REFUSED = "このIPアドレス({})からのログインは許可されていません。"
#: How long a login lasts without "ログイン状態を保持する", and with it.
SESSION_LIFETIME = timedelta(hours=12)
REMEMBERED_SESSION_LIFETIME = timedelta(days=30)
#: How long a confirmation of the password (and code) lets the user change what guards the
#: account: the password, two-factor login, the login address list, users and roles.
STEP_UP_WINDOW = timedelta(minutes=10)

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 128
COMMON_PASSWORDS = Path(__file__).resolve().parent.parent / "data" / "common_passwords.txt"


def _hasher() -> PasswordHasher:
    config = current_app.config
    return PasswordHasher(
        time_cost=config["ARGON2_TIME_COST"], memory_cost=config["ARGON2_MEMORY_COST_KIB"]
    )


def hash_password(password: str) -> str:
    """An Argon2id hash (memory-hard) of `password`."""
    return _hasher().hash(password)


@lru_cache(maxsize=4)
def _hash_for_unknown_users(time_cost: int, memory_cost: int) -> str:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost).hash("no such user")


#: Who logs in with a password: a customer's user or a staff member.
PasswordHolder = TypeVar("PasswordHolder", User, StaffMember)


def password_matches(user: PasswordHolder | None, password: str) -> TypeGuard[PasswordHolder]:
    """Is `password` the user's? Costs one hash even for no user; upgrades an old hash."""
    hasher = _hasher()
    # An unknown login ID costs the same hash as a known one, so timing tells nothing.
    stored = (
        user.password_hash
        if user
        else _hash_for_unknown_users(hasher.time_cost, hasher.memory_cost)
    )
    try:
        hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False
    if user is not None and hasher.check_needs_rehash(stored):
        user.password_hash = hasher.hash(password)
    return user is not None


class FailureThrottle:
    """Counts failures per key in a moving window, in a storage that every worker process
    shares when it is Redis (`RATELIMIT_STORAGE_URI`). Each kind of key has its own limit:
    `account` (a login ID), `address` (a client address), `code` (a user's second factor)."""

    def __init__(self, storage_uri: str, limits: dict[str, str]):
        self._storage = storage_from_string(storage_uri)
        self._limiter = MovingWindowRateLimiter(self._storage)
        self._limits = {kind: parse(limit) for kind, limit in limits.items()}

    def is_blocked(self, **keys: str) -> bool:
        return not all(
            self._limiter.test(self._limits[kind], kind, key) for kind, key in keys.items()
        )

    def record_failure(self, **keys: str) -> None:
        for kind, key in keys.items():
            self._limiter.hit(self._limits[kind], kind, key)

    def reset(self) -> None:
        """Forget every count (the storage's own reset; used between tests)."""
        self._storage.reset()


def failure_throttle() -> FailureThrottle:
    return current_app.extensions["failure_throttle"]


#: An IPv6 client is counted by its /64: one home or office line gets at least that much, and
#: a host picks new addresses inside it at will (privacy addresses), so one address alone
#: would let a single attacker multiply the per-address limit.
THROTTLED_IPV6_PREFIX = 64


def address_key(ip_address: str | None) -> str:
    """The key a client address is throttled by: itself, or its /64 for IPv6."""
    address = client_address(ip_address)
    if address is None:
        return ip_address or "unknown"
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/{THROTTLED_IPV6_PREFIX}", strict=False))
    return str(address)


def _login_keys(login_id: str, client: Client) -> dict[str, str]:
    return {"account": login_id.casefold(), "address": address_key(client.ip_address)}


def authenticate(login_id: str, password: str, client: Client) -> User:
    """The user with this login ID and password, or a DomainError that does not say which of
    the two was wrong. Only once the password is right does a login from outside the
    account's allowed addresses hear that its address is refused: before that, an unknown ID
    and a known one get the same answer from anywhere. Failures are throttled and audited."""
    login_id = login_id.strip()
    throttle = failure_throttle()
    if throttle.is_blocked(**_login_keys(login_id, client)):
        record_event("login_failed", client, detail=f"{login_id}(試行回数の上限)")
        raise DomainError(TOO_MANY_ATTEMPTS, keeps_record=True)
    user = db.session.scalar(select(User).where(User.login_id == login_id))
    if not password_matches(user, password) or not user.is_active:
        throttle.record_failure(**_login_keys(login_id, client))
        record_event("login_failed", client, user=user, detail=login_id)
        raise DomainError(WRONG_CREDENTIALS, keeps_record=True)
    if not address_allowed(user.customer, client.ip_address):
        throttle.record_failure(**_login_keys(login_id, client))
        record_event("login_refused_address", client, user=user, detail=login_id)
        raise DomainError(ADDRESS_REFUSED.format(client.ip_address), keeps_record=True)
    return user


def check_password(user: User, password: str, client: Client, *, field: str = "password") -> None:
    """Refuse, throttled as a failed login of the user's ID, a password that is not theirs;
    the refusal names the form's `field` the password was typed into."""
    throttle = failure_throttle()
    keys = _login_keys(user.login_id, client)
    if throttle.is_blocked(**keys):
        raise DomainError(TOO_MANY_ATTEMPTS, field=field)
    if not password_matches(user, password):
        throttle.record_failure(**keys)
        record_event("password_refused", client, user=user)
        raise DomainError("パスワードが正しくありません。", field=field, keeps_record=True)


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


def password_problem(password: str, *identifiers: str) -> str | None:
    """Why `password` may not be a new password of the login with these IDs (its login ID and
    the account's member ID), or None when it may."""
    if not password.strip():
        return "空白だけのパスワードは使えません。文字や数字を含めてください。"
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"パスワードは{MIN_PASSWORD_LENGTH}文字以上で入力してください。"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"パスワードは{MAX_PASSWORD_LENGTH}文字以内で入力してください。"
    folded = password.casefold()
    if any(identifier.casefold() in folded for identifier in identifiers):
        return "パスワードに会員IDやログインIDを含めないでください。"
    if unicodedata.normalize("NFKC", password).lower() in _common_passwords():
        return "よく使われていて推測されやすいパスワードです。別のパスワードにしてください。"
    return None


def change_password(
    user: User, current_password: str, new_password: str, client: Client, now: datetime
) -> None:
    """Set a new password; every other session of the user ends (this one stays)."""
    check_password(user, current_password, client, field="current_password")
    problem = password_problem(new_password, user.login_id, user.customer.member_id)
    if problem:
        raise DomainError(problem, field="new_password")
    user.password_hash = hash_password(new_password)
    end_sessions(user, now, keep=user.login_session)
    record_event("password_changed", client, user=user)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(user: User, client: Client, remember: bool, now: datetime) -> str:
    """Open a login session for `user` and return its token, the only copy of which goes into
    the user's cookie. Logging in counts as a confirmation for the step-up."""
    token = secrets.token_urlsafe(32)
    lifetime = REMEMBERED_SESSION_LIFETIME if remember else SESSION_LIFETIME
    login_session = LoginSession(
        token_hash=_token_hash(token),
        user=user,
        created_at=now,
        confirmed_at=now,
        expires_at=now + lifetime,
        ip_address=client.ip_address,
        user_agent=(client.user_agent or "")[:400] or None,
    )
    db.session.add(login_session)
    record_event("login", client, user=user, detail="二要素認証" if user.has_two_factor else "")
    user.session_token = token
    user.login_session = login_session
    return token


def _open_session(token: str, now: datetime) -> LoginSession | None:
    return db.session.scalar(
        select(LoginSession).where(
            LoginSession.token_hash == _token_hash(token),
            LoginSession.ended_at.is_(None),
            LoginSession.expires_at > now,
        )
    )


def load_session_user(token: str, client: Client, now: datetime) -> User | None:
    """The user of an open, unexpired session with this token; None once it has ended. A
    session whose client has left the account's allowed addresses is ended here."""
    login_session = _open_session(token, now)
    if login_session is None or not login_session.user.is_active:
        return None
    user = login_session.user
    if not address_allowed(user.customer, client.ip_address):
        login_session.ended_at = now
        record_event("session_ended_address", client, user=user)
        return None
    user.session_token = token
    user.login_session = login_session
    return user


def end_session(user: User, client: Client, now: datetime) -> None:
    """End the user's current session on the server, so no copy of its cookie works again."""
    if user.login_session is not None:
        user.login_session.ended_at = now
        record_event("logout", client, user=user)


def end_sessions(user: User, now: datetime, *, keep: LoginSession | None = None) -> None:
    """End every open session of `user`, but `keep`."""
    sessions = update(LoginSession).where(
        LoginSession.user_id == user.id, LoginSession.ended_at.is_(None)
    )
    if keep is not None:
        sessions = sessions.where(LoginSession.id != keep.id)
    db.session.execute(sessions.values(ended_at=now))


def recently_confirmed(user: User, now: datetime) -> bool:
    """Has the user proved who they are within the step-up window?"""
    login_session = user.login_session
    return login_session is not None and now - login_session.confirmed_at < STEP_UP_WINDOW


def signed_in_session(user: User) -> LoginSession:
    """The login session a signed-in user was loaded for (see `load_session_user`)."""
    if user.login_session is None:
        raise RuntimeError(f"user {user.id} was not loaded for a login session")
    return user.login_session


def mark_confirmed(user: User, now: datetime) -> None:
    signed_in_session(user).confirmed_at = now
