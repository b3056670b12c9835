"""What guards an account besides the password: recovery codes and the login address list."""

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from panel.extensions import Model
from panel.models.customers import Customer
from panel.models.types import UtcDateTime, utc_now


class RecoveryCode(Model):
    """One of a user's single-use recovery codes (リカバリーコード) for two-factor login."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: whose code it is
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: SHA-256 of the normalised code (80 random bits); the code itself is shown once only
    code_hash: Mapped[str] = mapped_column(String(64))
    #: when the code was used; a used code is never accepted again
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: when the code was made
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class AllowedNetwork(Model):
    """An address or CIDR range that logins to the account may come from (ログインのIP制限)."""

    __tablename__ = "allowed_networks"
    __table_args__ = (UniqueConstraint("customer_id", "network"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the account the rule belongs to
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    #: the network in CIDR form, e.g. 203.0.113.0/24 or 2001:db8:1:2::/64 (a single address
    #: is a /32 or /128)
    network: Mapped[str] = mapped_column(String(49))
    #: the owner's name for it, e.g. 本社
    label: Mapped[str] = mapped_column(String(50), default="")
    #: when it was added
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)

    customer: Mapped[Customer] = relationship(back_populates="allowed_networks")
