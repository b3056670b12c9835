"""The e-mail outbox: mail is written in the transaction that causes it, delivered later."""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from panel.extensions import db
from panel.models.types import UtcDateTime, utc_now


class OutboxMail(db.Model):
    """One message waiting for (or done with) SMTP delivery."""

    __tablename__ = "outbox_mails"
    __table_args__ = (CheckConstraint("attempts >= 0", name="attempts_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the account the mail concerns
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    #: the bill the mail concerns, if any (shown in the bill's history)
    bill_id: Mapped[int | None] = mapped_column(ForeignKey("bills.id"), index=True)
    #: a short code for what the mail is, e.g. "bill"
    kind: Mapped[str] = mapped_column(String(32))
    #: recipients, comma-separated: the contract e-mail, then the sub e-mail
    recipients: Mapped[str] = mapped_column(String(600))
    #: the subject line
    subject: Mapped[str] = mapped_column(String(200))
    #: the plain-text body
    body: Mapped[str] = mapped_column(Text)
    #: when it was written
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    #: not tried again before this moment (back-off after a failure)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now, index=True)
    #: failed delivery attempts so far
    attempts: Mapped[int] = mapped_column(default=0)
    #: the last delivery error, for the operator
    last_error: Mapped[str | None] = mapped_column(String(500))
    #: when the SMTP server accepted it; none while it waits
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
