"""Writing the audit log. Every security-relevant service records its event through here."""

from dataclasses import dataclass
from datetime import datetime

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from panel.extensions import db
from panel.models import AuditEvent, Customer, User
from panel.models.types import utc_now

#: What each event is called in the customer's audit log (操作履歴).
EVENT_LABELS = {
    "login": "ログイン",
    "login_failed": "ログイン失敗",
    "login_refused_address": "許可されていないIPアドレスからのログイン",
    "session_ended_address": "IPアドレスの制限によるログアウト",
    "logout": "ログアウト",
    "password_refused": "パスワードの確認に失敗",
    "password_changed": "パスワードの変更",
    "code_failed": "確認コードの誤り",
    "totp_replayed": "使用済みの確認コードを拒否",
    "recovery_code_used": "リカバリーコードでログイン・確認",
    "recovery_code_replayed": "使用済みのリカバリーコードを拒否",
    "two_factor_enabled": "二要素認証を有効化",
    "two_factor_disabled": "二要素認証を無効化",
    "recovery_codes_replaced": "リカバリーコードの再発行",
    "ip_rule_added": "許可するIPアドレスの追加",
    "ip_rule_removed": "許可するIPアドレスの削除",
    "ip_restriction_on": "ログインのIP制限を有効化",
    "ip_restriction_off": "ログインのIP制限を無効化",
    "user_added": "ユーザーの追加",
    "role_changed": "役割の変更",
    "user_disabled": "ユーザーの無効化",
    "user_enabled": "ユーザーの再開",
    "profile_changed": "会員登録情報の変更",
    "payment_applied": "お支払の反映",
    "payment_flagged": "お支払の確認待ち(サポートで確認)",
    "bill_cancelled": "お申込の取消",
}
EVENTS_PER_PAGE = 30


@dataclass(frozen=True)
class Client:
    """Where a request came from, as recorded in the audit log."""

    ip_address: str | None
    user_agent: str | None


def record_event(
    action: str,
    client: Client,
    *,
    customer: Customer | None = None,
    user: User | None = None,
    detail: str = "",
    at: datetime | None = None,
) -> AuditEvent:
    """Add one audit event to the current transaction: it is kept only if the change is.
    `at` is when it happened (default: now)."""
    event = AuditEvent(
        occurred_at=at or utc_now(),
        action=action,
        customer_id=customer.id if customer else (user.customer_id if user else None),
        user_id=user.id if user else None,
        detail=detail,
        ip_address=client.ip_address,
        user_agent=(client.user_agent or "")[:400] or None,
    )
    db.session.add(event)
    return event


def customer_events(customer: Customer, page: int) -> Pagination:
    """The account's audit log, newest first, a page at a time."""
    return db.paginate(
        select(AuditEvent)
        .options(selectinload(AuditEvent.user))
        .where(AuditEvent.customer_id == customer.id)
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc()),
        page=page,
        per_page=EVENTS_PER_PAGE,
        error_out=False,
    )
