"""The audit log: security-relevant events, append-only."""

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from panel.extensions import Model
from panel.models.types import UtcDateTime, utc_now

if TYPE_CHECKING:
    from panel.models.customers import User
    from panel.models.staff import StaffMember


class AuditEvent(Model):
    """One security-relevant event. Rows are only ever inserted."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: when it happened
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now, index=True)
    #: the account concerned; none for a failed login with an unknown ID
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    #: the customer user who acted, if any
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: the staff member who acted, if any
    staff_member_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id"))
    #: what happened, a short code such as "login" or "login_failed"
    action: Mapped[str] = mapped_column(String(64))
    #: details for the reader, e.g. the login ID that was tried
    detail: Mapped[str] = mapped_column(Text, default="")
    #: the client address
    ip_address: Mapped[str | None] = mapped_column(String(45))
    #: the browser's User-Agent
    user_agent: Mapped[str | None] = mapped_column(String(400))

    user: Mapped["User | None"] = relationship()
    staff_member: Mapped["StaffMember | None"] = relationship()
