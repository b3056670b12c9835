"""Support staff (サポートスタッフ), who log in to the staff console separately."""

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from panel.extensions import Model
from panel.models.types import UtcDateTime, utc_now


class StaffMember(Model):
    __tablename__ = "staff_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: what is typed at the staff login page
    login_id: Mapped[str] = mapped_column(String(64), unique=True)
    #: shown on the impersonation banner and in audit logs
    name: Mapped[str] = mapped_column(String(100))
    #: Argon2id hash of the password
    password_hash: Mapped[str] = mapped_column(String(255))
    #: set when the staff member leaves; a disabled member cannot log in
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: when the staff login was created
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
