"""Support staff (サポートスタッフ), who log in to the staff console separately, and their
server-side sessions (apart from customers' login sessions)."""

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from panel.extensions import Model
from panel.models.types import UtcDateTime, one_of, utc_now

if TYPE_CHECKING:
    from panel.models.customers import User


class StaffRole(StrEnum):
    """What a staff member may do in the staff console; each role may do what the one before
    it may, and more."""

    SUPPORT = "support"  #: サポート: search customers, impersonate, paper and mail queues
    ACCOUNTING = "accounting"  #: 経理: also confirm payments and settle flagged money
    ADMIN = "admin"  #: 管理者: also manage staff


class StaffMember(Model):
    __tablename__ = "staff_members"
    __table_args__ = (one_of("role", StaffRole),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: what is typed at the staff login page
    login_id: Mapped[str] = mapped_column(String(64), unique=True)
    #: shown on the impersonation banner and in audit logs
    name: Mapped[str] = mapped_column(String(100))
    #: Argon2id hash of the password
    password_hash: Mapped[str] = mapped_column(String(255))
    #: support, accounting or admin
    role: Mapped[str] = mapped_column(
        String(16), default=StaffRole.SUPPORT, server_default=StaffRole.SUPPORT.value
    )
    #: the TOTP secret (base32); none until enrolled at the first login (or after a reset)
    totp_secret: Mapped[str | None] = mapped_column(String(32))
    #: the last TOTP time step accepted; a code from this step or an earlier one is a replay
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    #: set when the staff member leaves; a disabled member cannot log in
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: when the staff login was created
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)

    @property
    def is_active(self) -> bool:
        return self.disabled_at is None

    @property
    def has_two_factor(self) -> bool:
        return self.totp_secret is not None


class StaffSession(Model):
    """One staff login, kept on the server; the staff cookie holds a random token whose SHA-256
    names the row. A session is a login in progress until its second factor is given, then a
    login that ends when the staff member logs out, after 30 idle minutes, or after 12 hours.
    While it impersonates a customer it names the customer's user it shows the panel of."""

    __tablename__ = "staff_sessions"
    __table_args__ = (
        CheckConstraint(
            "(impersonated_user_id IS NULL) = (impersonation_started_at IS NULL)",
            name="impersonation_started_with_user",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: SHA-256 of the random token kept in the staff cookie (the token itself is never stored)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: who logs in
    staff_member_id: Mapped[int] = mapped_column(ForeignKey("staff_members.id"), index=True)
    #: when the password was given
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    #: when the second factor was given (or enrolled); none while the login is in progress
    second_factor_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: the last request of the session (to the minute): 30 minutes after it, the session ends
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    #: a TOTP secret being enrolled at the first login, until one code from it confirms it
    pending_totp_secret: Mapped[str | None] = mapped_column(String(32))
    #: set by logout (or when the staff member is disabled); never accepted again
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: the customer's user whose panel the staff member is looking at (代理ログイン), if any
    impersonated_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    #: when that impersonation began
    impersonation_started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: the client address at login
    ip_address: Mapped[str | None] = mapped_column(String(45))
    #: the browser's User-Agent at login
    user_agent: Mapped[str | None] = mapped_column(String(400))

    staff_member: Mapped[StaffMember] = relationship()
    impersonated_user: Mapped["User | None"] = relationship()
