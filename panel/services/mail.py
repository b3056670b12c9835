"""E-mail: written to the outbox in the caller's transaction, delivered over SMTP later."""

import smtplib
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid

from flask import current_app
from sqlalchemy import select

from panel.extensions import db
from panel.models import Bill, Customer, OutboxMail

#: After the n-th failure a mail waits 2**n minutes, at most this long, before the next try.
MAX_BACKOFF = timedelta(hours=1)
#: Mails delivered in one run of `flask mail send`.
BATCH_SIZE = 100


def queue_mail(customer: Customer, kind: str, subject: str, body: str, bill: Bill | None = None):
    """Put a mail to the customer's contract and sub e-mail into the outbox."""
    mail = OutboxMail(
        customer_id=customer.id,
        bill_id=bill.id if bill else None,
        kind=kind,
        recipients=", ".join(customer.notice_addresses),
        subject=subject,
        body=body,
    )
    db.session.add(mail)
    return mail


def _message(mail: OutboxMail, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.recipients
    message["Subject"] = mail.subject
    # One Message-ID per outbox row: a retry after a lost reply is recognisably the same mail.
    message["Message-ID"] = make_msgid(idstring=f"outbox-{mail.id}", domain="panel.invalid")
    message.set_content(mail.body)
    return message


def _smtp_send(message: EmailMessage) -> None:
    config = current_app.config
    with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=30) as smtp:
        if config["MAIL_USE_STARTTLS"]:
            smtp.starttls()
        if config["MAIL_USERNAME"]:
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
        smtp.send_message(message)


def _next_due(now: datetime) -> OutboxMail | None:
    return db.session.scalar(
        select(OutboxMail)
        .where(OutboxMail.sent_at.is_(None), OutboxMail.next_attempt_at <= now)
        .order_by(OutboxMail.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )


def deliver_outbox(now: datetime) -> tuple[int, int]:
    """Send what is due in the outbox, one mail per transaction; returns (sent, failed).

    A mail that fails stays in the outbox and is tried again after a back-off; a mail server
    that is down delays mail and loses none. Several senders at once never take the same mail
    (SKIP LOCKED on PostgreSQL)."""
    sent = failed = 0
    sender = current_app.config["MAIL_FROM"]
    for _ in range(BATCH_SIZE):
        mail = _next_due(now)
        if mail is None:
            break
        try:
            _smtp_send(_message(mail, sender))
        except (OSError, smtplib.SMTPException) as error:
            mail.attempts += 1
            mail.last_error = f"{type(error).__name__}: {error}"[:500]
            mail.next_attempt_at = now + min(timedelta(minutes=2**mail.attempts), MAX_BACKOFF)
            failed += 1
        else:
            mail.sent_at = now
            sent += 1
        db.session.commit()
    return sent, failed
