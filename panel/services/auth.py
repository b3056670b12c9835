"""Passwords, login with throttling, and server-side login sessions."""

import hashlib
import secrets
from datetime import datetime, timedelta
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import select

from panel.extensions import db
from panel.models import LoginSession, User
from panel.services.audit import Client, record_event
from panel.services.errors import DomainError

WRONG_CREDENTIALS = "会員IDまたはパスワードが正しくありません。"
TOO_MANY_ATTEMPTS = (
    "ログインの試行回数が上限を超えました。しばらく時間をおいてから、もう一度お試しください。"
)
#: How long a login lasts without "ログイン状態を保持する", and with it.
SESSION_LIFETIME = timedelta(hours=12)
REMEMBERED_SESSION_LIFETIME = timedelta(days=30)


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


def _password_matches(user: User | None, password: str) -> bool:
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


class LoginThrottle:
    """Counts failed logins per login ID and per client address, in a storage that every
    worker process shares when it is Redis (`RATELIMIT_STORAGE_URI`)."""

    def __init__(self, storage_uri: str, per_account: str, per_address: str):
        self._storage = storage_from_string(storage_uri)
        self._limiter = MovingWindowRateLimiter(self._storage)
        self._per_account = parse(per_account)
        self._per_address = parse(per_address)

    def _keys(self, login_id: str, ip_address: str | None):
        yield self._per_account, "login-account", login_id.strip().casefold()
        yield self._per_address, "login-address", ip_address or "unknown"

    def is_blocked(self, login_id: str, ip_address: str | None) -> bool:
        return not all(
            self._limiter.test(limit, *key) for limit, *key in self._keys(login_id, ip_address)
        )

    def record_failure(self, login_id: str, ip_address: str | None) -> None:
        for limit, *key in self._keys(login_id, ip_address):
            self._limiter.hit(limit, *key)

    def reset(self) -> None:
        """Forget every count (the storage's own reset; used between tests)."""
        self._storage.reset()


def _throttle() -> LoginThrottle:
    return current_app.extensions["login_throttle"]


def authenticate(login_id: str, password: str, client: Client) -> User:
    """The user with this login ID and password, or a DomainError that does not say which of
    the two was wrong. Failures are throttled and audited."""
    login_id = login_id.strip()
    throttle = _throttle()
    if throttle.is_blocked(login_id, client.ip_address):
        record_event("login_failed", client, detail=f"{login_id}(試行回数の上限)")
        raise DomainError(TOO_MANY_ATTEMPTS)
    user = db.session.scalar(select(User).where(User.login_id == login_id))
    if not _password_matches(user, password) or not user.is_active:
        throttle.record_failure(login_id, client.ip_address)
        record_event("login_failed", client, user=user, detail=login_id)
        raise DomainError(WRONG_CREDENTIALS)
    return user


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(user: User, client: Client, remember: bool, now: datetime) -> str:
    """Open a login session for `user` and return its token, the only copy of which goes into
    the user's cookie."""
    token = secrets.token_urlsafe(32)
    lifetime = REMEMBERED_SESSION_LIFETIME if remember else SESSION_LIFETIME
    db.session.add(
        LoginSession(
            token_hash=_token_hash(token),
            user=user,
            created_at=now,
            expires_at=now + lifetime,
            ip_address=client.ip_address,
            user_agent=(client.user_agent or "")[:400] or None,
        )
    )
    record_event("login", client, user=user)
    user.session_token = token
    return token


def _open_session(token: str, now: datetime) -> LoginSession | None:
    return db.session.scalar(
        select(LoginSession).where(
            LoginSession.token_hash == _token_hash(token),
            LoginSession.ended_at.is_(None),
            LoginSession.expires_at > now,
        )
    )


def load_session_user(token: str, now: datetime) -> User | None:
    """The user of an open, unexpired session with this token; None once it has ended."""
    login_session = _open_session(token, now)
    if login_session is None or not login_session.user.is_active:
        return None
    user = login_session.user
    user.session_token = token
    return user


def end_session(user: User, client: Client, now: datetime) -> None:
    """End the user's current session on the server, so no copy of its cookie works again."""
    login_session = _open_session(user.session_token or "", now)
    if login_session is not None:
        login_session.ended_at = now
        record_event("logout", client, user=user)
