"""Settings, read from environment variables with safe defaults."""

import contextlib
import hashlib
import hmac
import os
import secrets
from pathlib import Path


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return default if value in (None, "") else int(value)


def _float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return default if value in (None, "") else float(value)


def from_environment() -> dict:
    """The app's configuration as a plain dict, read once when the app is created."""
    # Served over HTTPS (behind a TLS-terminating proxy, say): cookies only over HTTPS, and HSTS.
    https = _bool("HTTPS", False)
    return {
        # Empty: use the key kept in the instance folder (see `instance_secret_key`).
        "SECRET_KEY": os.environ.get("SECRET_KEY", ""),
        # Relative SQLite paths land in the instance folder (Flask-SQLAlchemy 3).
        "SQLALCHEMY_DATABASE_URI": os.environ.get("DATABASE_URL", "sqlite:///panel.sqlite3"),
        # Login throttling counters; must be shared (redis://...) when several processes serve.
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        "LOGIN_FAILURES_PER_ACCOUNT": os.environ.get(
            "LOGIN_FAILURES_PER_ACCOUNT", "10 per 15 minutes"
        ),
        "LOGIN_FAILURES_PER_ADDRESS": os.environ.get(
            "LOGIN_FAILURES_PER_ADDRESS", "50 per 15 minutes"
        ),
        # Wrong two-factor codes (TOTP or recovery) a user may enter before being made to wait.
        "CODE_FAILURES_PER_USER": os.environ.get("CODE_FAILURES_PER_USER", "5 per 15 minutes"),
        # The name authenticator apps show beside the account.
        "TOTP_ISSUER": os.environ.get("TOTP_ISSUER", "サンプルホスティング"),
        # Argon2id cost; the defaults follow RFC 9106's second recommended option.
        "ARGON2_TIME_COST": _int("ARGON2_TIME_COST", 3),
        "ARGON2_MEMORY_COST_KIB": _int("ARGON2_MEMORY_COST_KIB", 64 * 1024),
        # The largest request body read (werkzeug answers 413 beyond it, chunked bodies too).
        # The panel's forms are a few kilobytes; nothing it takes is uploaded.
        "MAX_CONTENT_LENGTH": _int("MAX_CONTENT_LENGTH", 1024 * 1024),
        "HTTPS": https,
        "SESSION_COOKIE_SECURE": https,
        "REMEMBER_COOKIE_SECURE": https,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        # How many reverse proxies in front of the panel may set X-Forwarded-For (0: ignore it).
        "TRUSTED_PROXY_COUNT": _int("TRUSTED_PROXY_COUNT", 0),
        "PANEL_BASE_URL": os.environ.get("PANEL_BASE_URL", "http://127.0.0.1:5000"),
        "MAIL_SERVER": os.environ.get("MAIL_SERVER", "127.0.0.1"),
        "MAIL_PORT": _int("MAIL_PORT", 25),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME", ""),
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD", ""),
        "MAIL_USE_STARTTLS": _bool("MAIL_USE_STARTTLS", False),
        "MAIL_FROM": os.environ.get("MAIL_FROM", "ユーザーズパネル <panel@example.jp>"),
        # Failed attempts after which a mail is kept as failed and no longer tried: with the
        # back-off (2, 4, ... minutes, then hourly) 30 spans about a day of mail server outage.
        "MAIL_MAX_ATTEMPTS": _int("MAIL_MAX_ATTEMPTS", 30),
        # The domain of our Message-IDs; empty: the domain of MAIL_FROM's address.
        "MAIL_MESSAGE_ID_DOMAIN": os.environ.get("MAIL_MESSAGE_ID_DOMAIN", ""),
        # Where customers send bank transfers (銀行振込), shown on bills and in bill e-mails.
        "BANK_TRANSFER_ACCOUNT": os.environ.get(
            "BANK_TRANSFER_ACCOUNT",
            "サンプル銀行 本店営業部 普通預金 1234567 カ)サンプルホスティング",
        ),
        # The payment gateway: "sandbox" (the embedded default) is the only one built in.
        "PAYMENT_GATEWAY": os.environ.get("PAYMENT_GATEWAY", "sandbox"),
        # The sandbox answers charges after this many seconds, as a slow provider would.
        "SANDBOX_ANSWER_DELAY_SECONDS": _float("SANDBOX_ANSWER_DELAY_SECONDS", 0),
        # The sandbox ends the process right after a charge, before the panel records it (a
        # crash, to try `flask payments reconcile`). Never on in production: sandbox only.
        "SANDBOX_STOP_AFTER_CHARGE": _bool("SANDBOX_STOP_AFTER_CHARGE", False),
        # The key the gateway signs its notifications with. Empty: derived from SECRET_KEY,
        # which is what the sandbox (and `flask sandbox notify`) use.
        "PAYMENT_WEBHOOK_SECRET": os.environ.get("PAYMENT_WEBHOOK_SECRET", ""),
        # The issuer printed on qualified invoices (適格請求書).
        "ISSUER_NAME": os.environ.get("ISSUER_NAME", "株式会社サンプルホスティング"),
        "ISSUER_ADDRESS": os.environ.get("ISSUER_ADDRESS", "〒100-0001 東京都千代田区千代田1-1-1"),
        "ISSUER_REGISTRATION_NUMBER": os.environ.get(
            "ISSUER_REGISTRATION_NUMBER", "T9234567890123"
        ),
    }


def derived_secret(secret_key: str, purpose: str) -> str:
    """A key for one purpose, derived from the app's secret key."""
    return hmac.new(secret_key.encode(), purpose.encode(), hashlib.sha256).hexdigest()


def instance_secret_key(instance_path: Path) -> str:
    """The signing key kept in the instance folder, made on first use.

    Every worker process started from the same folder reads the same key, so their cookies
    agree; a per-process random key would log users out whenever another worker answered.
    """
    key_file = instance_path / "secret_key"
    if not key_file.exists():
        draft = instance_path / f"secret_key.{os.getpid()}"
        draft.write_text(secrets.token_hex(32))
        draft.chmod(0o600)
        # link() never overwrites: when several workers start at once, the first key wins.
        with contextlib.suppress(FileExistsError):
            os.link(draft, key_file)
        draft.unlink()
    return key_file.read_text().strip()
