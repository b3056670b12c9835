"""The e-mail outbox: mail is written in the transaction that causes it, delivered later."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from panel.extensions import Model
from panel.models.types import UtcDateTime, one_of, utc_now

#: neither sent nor given up
UNDELIVERED = "sent_at IS NULL AND failed_at IS NULL"


class OutboxMail(Model):
    """One message waiting for (or done with) SMTP delivery."""

    __tablename__ = "outbox_mails"
    __table_args__ = (
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        CheckConstraint("sent_at IS NULL OR failed_at IS NULL", name="sent_or_failed"),
        # The mails still to deliver, in order: the sender's next mail is found among them,
        # however much mail has been sent before.
        Index(
            "ix_outbox_mails_undelivered",
            "id",
            sqlite_where=text(UNDELIVERED),
            postgresql_where=text(UNDELIVERED),
        ),
    )

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
    #: when it was written (also the mail's Date header)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    #: not tried again before this moment (back-off after a failure)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    #: failed delivery attempts so far
    attempts: Mapped[int] = mapped_column(default=0)
    #: the last delivery error, for the operator
    last_error: Mapped[str | None] = mapped_column(String(500))
    #: set when staff dropped the mail (it is then never tried again), and why
    dropped_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    drop_reason: Mapped[str | None] = mapped_column(String(200))
    #: set once no recipient is left to try and the server accepted it for at least one: when
    #: it first did; none while it waits
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: when delivery was given up without any recipient accepting it (refused, or too many
    #: failed attempts); such a mail is kept for staff and never tried again
    failed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    #: each recipient and what became of the mail for them, in the order of `recipients`
    addressees: Mapped[list["OutboxRecipient"]] = relationship(
        back_populates="mail", order_by="OutboxRecipient.id", cascade="all, delete-orphan"
    )


class RecipientStatus(StrEnum):
    PENDING = "pending"  #: still to try
    ACCEPTED = "accepted"  #: the SMTP server took the mail for this address
    REFUSED = "refused"  #: refused for good, or given up on; never tried again


class OutboxRecipient(Model):
    """One recipient of an outbox mail, with the SMTP server's last answer for them."""

    __tablename__ = "outbox_recipients"
    __table_args__ = (UniqueConstraint("mail_id", "address"), one_of("status", RecipientStatus))

    id: Mapped[int] = mapped_column(primary_key=True)
    mail_id: Mapped[int] = mapped_column(ForeignKey("outbox_mails.id"))
    #: the address as the customer gave it (it may be internationalised, e.g. 山田@例え.jp)
    address: Mapped[str] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(16), default=RecipientStatus.PENDING)
    #: the server's reply code to this address, e.g. 550; none when it did not answer for it
    #: (an address refused before asking the server, or one never tried)
    smtp_code: Mapped[int | None]
    #: the server's reply text, or why the panel did not send to this address
    smtp_reply: Mapped[str | None] = mapped_column(String(500))
    #: when the status or the reply last changed
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    mail: Mapped[OutboxMail] = relationship(back_populates="addressees")
