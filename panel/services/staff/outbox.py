"""The mail queue for staff: recent outbox mail with what became of it for each recipient;
mail that failed can be sent again or dropped with a reason."""

from datetime import datetime
from enum import StrEnum

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from panel.extensions import db
from panel.models import Customer, OutboxMail, OutboxRecipient, StaffMember
from panel.models.mail import RecipientStatus
from panel.refusals import DomainError
from panel.services.audit import Client, record_event

PER_PAGE = 30


class MailFilter(StrEnum):
    """The tabs of the mail queue."""

    ALL = "all"  #: every mail, newest first
    WAITING = "waiting"  #: not sent yet, still being tried
    FAILED = "failed"  #: given up, or refused for a recipient, and not dropped
    DROPPED = "dropped"  #: dropped by staff


def _refused_mail_ids():
    return select(OutboxRecipient.mail_id).where(OutboxRecipient.status == RecipientStatus.REFUSED)


def needs_attention(mail: OutboxMail) -> bool:
    """Given up, or refused for one of its recipients, and not dropped yet."""
    refused = any(r.status == RecipientStatus.REFUSED for r in mail.addressees)
    return mail.dropped_at is None and (mail.failed_at is not None or refused)


def recent_mail(mail_filter: MailFilter, page: int) -> Pagination:
    statement = (
        select(OutboxMail)
        .options(selectinload(OutboxMail.addressees))
        .order_by(OutboxMail.id.desc())
    )
    if mail_filter == MailFilter.WAITING:
        statement = statement.where(OutboxMail.sent_at.is_(None), OutboxMail.failed_at.is_(None))
    elif mail_filter == MailFilter.FAILED:
        statement = statement.where(
            OutboxMail.dropped_at.is_(None),
            OutboxMail.failed_at.is_not(None) | OutboxMail.id.in_(_refused_mail_ids()),
        )
    elif mail_filter == MailFilter.DROPPED:
        statement = statement.where(OutboxMail.dropped_at.is_not(None))
    return db.paginate(statement, page=page, per_page=PER_PAGE, error_out=False)


def _lock(mail: OutboxMail) -> None:
    db.session.refresh(mail, with_for_update=True)
    db.session.expire(mail, ["addressees"])


def retry_mail(mail: OutboxMail, *, staff: StaffMember, client: Client, now: datetime) -> int:
    """Send the mail again to the recipients it failed for (a mailbox fixed, an address
    corrected on the server's side): they are to try again, now, with a fresh count of attempts.
    How many recipients will be tried."""
    _lock(mail)
    if mail.dropped_at is not None:
        raise DomainError("送信を中止したメールは再送できません。")
    refused = [r for r in mail.addressees if r.status == RecipientStatus.REFUSED]
    if not refused:
        raise DomainError("このメールには、送信できなかった宛先はありません。")
    for recipient in refused:
        recipient.status = RecipientStatus.PENDING
        recipient.answered_at = now
    mail.failed_at = None
    mail.sent_at = None  # sent again when the server accepts it (the first time is kept)
    mail.attempts = 0
    mail.next_attempt_at = now
    record_event(
        "mail_retried",
        client,
        customer=_customer(mail),
        staff=staff,
        detail=f"{mail.subject}({', '.join(r.address for r in refused)})",
        at=now,
    )
    return len(refused)


def drop_mail(
    mail: OutboxMail, *, reason: str, staff: StaffMember, client: Client, now: datetime
) -> None:
    """Stop trying the mail (or stop listing its failure): kept, with the reason, and never
    sent again."""
    reason = reason.strip()
    if not reason:
        raise DomainError("送信を中止する理由を入力してください。", field="reason")
    _lock(mail)
    if mail.dropped_at is not None:
        raise DomainError("このメールの送信は既に中止されています。")
    if mail.sent_at is not None and not needs_attention(mail):
        raise DomainError("送信済みのメールの送信は中止できません。")
    mail.dropped_at = now
    mail.drop_reason = reason
    if mail.sent_at is None and mail.failed_at is None:
        mail.failed_at = now  # out of the sender's way
    record_event(
        "mail_dropped",
        client,
        customer=_customer(mail),
        staff=staff,
        detail=f"{mail.subject}: {reason}",
        at=now,
    )


def _customer(mail: OutboxMail) -> Customer | None:
    return db.session.get(Customer, mail.customer_id) if mail.customer_id else None
