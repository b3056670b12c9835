"""E-mail: written to the outbox in the caller's transaction, delivered over SMTP later."""

import smtplib
from contextlib import suppress
from datetime import datetime, timedelta
from email import policy
from email.errors import HeaderParseError, NonASCIILocalPartDefect
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import NamedTuple

from flask import current_app, render_template
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from panel.dates import JAPAN
from panel.extensions import db
from panel.models import Bill, Customer, OutboxMail, OutboxRecipient
from panel.models.mail import RecipientStatus
from panel.services.addressing import recipient_context

#: After the n-th failure a mail waits 2**n minutes, at most this long, before the next try.
MAX_BACKOFF = timedelta(hours=1)
#: Mails delivered in one run of `flask mail send`.
BATCH_SIZE = 100

#: Why an internationalised address is refused without asking the server (for staff).
NO_SMTPUTF8 = "メールサーバーが SMTPUTF8 に対応していないため、この宛先には送れません。"
#: Why an address the panel cannot even parse is refused (for staff).
UNREADABLE_ADDRESS = "メールアドレスの形式が正しくないため、送れません。"


class DeliveryReport(NamedTuple):
    """What one run of the outbox did, counted in mails."""

    #: done: accepted by the server for at least one recipient, nobody left to try
    sent: int
    #: failed for now: tried again after a back-off
    retrying: int
    #: given up: kept as failed, never tried again
    given_up: int


def queue_mail(customer: Customer, kind: str, subject: str, body: str, bill: Bill | None = None):
    """Put a mail to the customer's contract and sub e-mail into the outbox."""
    # The same address twice (sub e-mail = contract e-mail) is one recipient.
    addresses = list(dict.fromkeys(customer.notice_addresses))
    mail = OutboxMail(
        customer_id=customer.id,
        bill_id=bill.id if bill else None,
        kind=kind,
        recipients=", ".join(addresses),
        subject=subject,
        body=body,
        addressees=[OutboxRecipient(address=address) for address in addresses],
    )
    db.session.add(mail)
    return mail


def queue_templated_mail(
    customer: Customer,
    kind: str,
    subject: str,
    template: str,
    *,
    bill: Bill | None = None,
    **context,
) -> OutboxMail:
    """Write `template` for the customer, with what every mail's greeting, footer and links
    need (the addressee, the panel's address, the issuer's name), and put it in the outbox."""
    config = current_app.config
    body = render_template(
        template,
        customer=customer,
        bill=bill,
        **recipient_context(customer),
        base_url=config["PANEL_BASE_URL"].rstrip("/"),
        issuer_name=config["ISSUER_NAME"],
        **context,
    )
    return queue_mail(customer, kind, subject, body, bill=bill)


def _message_id_domain(sender: Address) -> str:
    """The right-hand side of our Message-IDs: the operator's mail domain."""
    domain = current_app.config.get("MAIL_MESSAGE_ID_DOMAIN") or sender.domain
    if not domain:
        raise ValueError("MAIL_FROM has no domain: set MAIL_MESSAGE_ID_DOMAIN")
    return _ascii_domain(domain)


def _message_id(mail: OutboxMail, domain: str) -> str:
    """The mail's Message-ID, the same on every attempt: a retry after a lost reply is
    recognisably the same mail. The creation time keeps it unique across databases (a test
    copy, a restored backup) whose outbox IDs start again from 1."""
    stamp = mail.created_at.strftime("%Y%m%d%H%M%S.%f")
    return f"<{stamp}.outbox-{mail.id}@{domain}>"


def _parse_address(text: str) -> Address:
    """One address from a header-style string (`名前 <a@b.jp>` or `a@b.jp`)."""
    message = EmailMessage()
    try:
        message["To"] = text
        header = message["To"]
    except (ValueError, LookupError, HeaderParseError) as error:
        # The stdlib parser raises IndexError on some malformed input ("a@").
        raise ValueError(f"not an e-mail address: {text!r}") from error
    # A non-ASCII local part is a defect to the parser, but fine over SMTPUTF8 (RFC 6531).
    defects = [d for d in header.defects if not isinstance(d, NonASCIILocalPartDefect)]
    if len(header.addresses) != 1 or defects or not header.addresses[0].domain:
        raise ValueError(f"not one e-mail address: {text!r}")
    return header.addresses[0]


def _ascii_domain(domain: str) -> str:
    # IDNA gives an internationalised domain an ASCII form every server takes (xn--...).
    return domain if domain.isascii() else domain.encode("idna").decode("ascii")


def _transportable(address: Address, smtputf8: bool) -> Address | None:
    """The address as this server can carry it: as given when it offers SMTPUTF8, else in
    ASCII (the domain as IDNA); none when the local part is not ASCII and the server does not
    offer SMTPUTF8."""
    if smtputf8:
        return address
    if not address.username.isascii():
        return None
    try:
        domain = _ascii_domain(address.domain)
    except UnicodeError:
        return None
    return Address(address.display_name, address.username, domain)


def _message(mail: OutboxMail, sender: Address, to: list[Address], id_domain: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = mail.subject
    # RFC 5322: when the mail was ready to send, i.e. written to the outbox, in Japan time.
    message["Date"] = format_datetime(mail.created_at.astimezone(JAPAN))
    message["Message-ID"] = _message_id(mail, id_domain)
    # RFC 3834: out-of-office and other auto-responders must not answer it.
    message["Auto-Submitted"] = "auto-generated"
    # Base64 keeps the Japanese body 7-bit clean, so no server needs 8BITMIME for it.
    message.set_content(mail.body, cte="base64")
    return message


def _open_session() -> smtplib.SMTP:
    config = current_app.config
    smtp = smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=30)
    try:
        if config["MAIL_USE_STARTTLS"]:
            smtp.starttls()
        if config["MAIL_USERNAME"]:
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
        smtp.ehlo_or_helo_if_needed()
    except BaseException:
        smtp.close()
        raise
    return smtp


class _Connection:
    """The SMTP session a batch of mails shares: opened for the first mail that needs it,
    kept for the next ones (no connection, greeting and QUIT per mail), and opened afresh
    after an attempt that failed or that the server ended (a 421 closes it)."""

    def __init__(self) -> None:
        self._smtp: smtplib.SMTP | None = None

    def session(self) -> smtplib.SMTP:
        if self._smtp is None or self._smtp.sock is None:
            self._smtp = _open_session()
        return self._smtp

    def drop(self) -> None:
        """Forget the session after an error: in what state the server left it is unknown."""
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None

    def close(self) -> None:
        if self._smtp is not None and self._smtp.sock is not None:
            # What the server accepted stays accepted whatever it answers to QUIT.
            with suppress(OSError, smtplib.SMTPException):
                self._smtp.quit()
        self.drop()


def _answer(
    recipient: OutboxRecipient,
    status: RecipientStatus,
    now: datetime,
    code: int | None = None,
    reply: str | None = None,
) -> None:
    recipient.status = status
    recipient.smtp_code = code
    recipient.smtp_reply = reply[:500] if reply else None
    recipient.answered_at = now


def _reply_text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)


def _send(mail: OutboxMail, now: datetime, connection: _Connection, sender: Address) -> None:
    """One SMTP transaction for the mail's recipients still to try; each one's answer is
    recorded on it. Errors that concern the whole attempt are raised."""
    refusals = []
    smtp = connection.session()
    smtputf8 = smtp.has_extn("smtputf8")
    envelope_sender = _transportable(sender, smtputf8)
    if envelope_sender is None:
        raise ValueError(f"MAIL_FROM needs SMTPUTF8, which the server does not offer: {sender}")
    header_to, envelope = [], {}
    for recipient in mail.addressees:
        if recipient.status == RecipientStatus.REFUSED:
            continue
        try:
            address = _transportable(_parse_address(recipient.address), smtputf8)
        except ValueError:
            address, reason = None, UNREADABLE_ADDRESS
        else:
            reason = NO_SMTPUTF8
        if address is None:
            _answer(recipient, RecipientStatus.REFUSED, now, reply=reason)
            refusals.append(f"{recipient.address}: {reason}")
            continue
        # To names everyone the mail is for, also those who have it from an earlier try.
        header_to.append(address)
        if recipient.status == RecipientStatus.PENDING:
            envelope[address.addr_spec] = recipient
    refused, delivered = {}, False
    if envelope:
        message = _message(mail, envelope_sender, header_to, _message_id_domain(sender))
        if all(a.addr_spec.isascii() for a in (envelope_sender, *header_to)):
            content, options = message.as_bytes(policy=policy.SMTP), []
        else:
            content = message.as_bytes(policy=policy.SMTPUTF8)
            options = ["SMTPUTF8", "BODY=8BITMIME"]
        try:
            refused = smtp.sendmail(
                envelope_sender.addr_spec, list(envelope), content, mail_options=options
            )
            delivered = True
        except smtplib.SMTPRecipientsRefused as error:
            # Nobody got it; after a 421 the later recipients were not even asked.
            refused = error.recipients
    for addr_spec, recipient in envelope.items():
        if addr_spec not in refused:
            if delivered:
                _answer(recipient, RecipientStatus.ACCEPTED, now)
            continue
        code, reply = refused[addr_spec][0], _reply_text(refused[addr_spec][1])
        # 5xx is the server's final word on this address; 4xx (a full mailbox, greylisting,
        # a lookup that timed out) may go through later.
        status = RecipientStatus.REFUSED if code >= 500 else RecipientStatus.PENDING
        _answer(recipient, status, now, code, reply)
        refusals.append(f"{recipient.address}: {code} {reply}")
    if refusals:
        mail.last_error = "; ".join(refusals)[:500]


def _settle(mail: OutboxMail, now: datetime, max_attempts: int) -> str:
    """After an attempt: done (sent or given up), or back off while a recipient is left."""
    pending = [r for r in mail.addressees if r.status == RecipientStatus.PENDING]
    accepted = [
        r.answered_at
        for r in mail.addressees
        if r.status == RecipientStatus.ACCEPTED and r.answered_at is not None
    ]
    if pending or not accepted:
        mail.attempts += 1
    if pending and mail.attempts < max_attempts:
        mail.next_attempt_at = now + min(timedelta(minutes=2**mail.attempts), MAX_BACKOFF)
        return "retrying"
    for recipient in pending:
        # Keep the server's last temporary answer for them, if it gave one.
        reply = recipient.smtp_reply or mail.last_error
        _answer(recipient, RecipientStatus.REFUSED, now, recipient.smtp_code, reply)
    if accepted:
        mail.sent_at = min(accepted)
        return "sent"
    mail.failed_at = now
    return "given_up"


def _next_due(now: datetime) -> OutboxMail | None:
    return db.session.scalar(
        select(OutboxMail)
        .where(
            OutboxMail.sent_at.is_(None),
            OutboxMail.failed_at.is_(None),
            OutboxMail.next_attempt_at <= now,
        )
        .order_by(OutboxMail.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )


def deliver_outbox(now: datetime) -> DeliveryReport:
    """Send what is due in the outbox, one mail per transaction, over one SMTP session.

    Each recipient's answer is kept: a mail accepted for some recipients is sent, and the
    others are refused (5xx) or tried again (4xx). A mail that fails for now is tried again
    after a back-off, so a mail server that is down delays mail; after MAIL_MAX_ATTEMPTS
    failed attempts, or when every recipient is refused for good, the mail is kept as failed
    and never picked up again. Several senders at once never take the same mail (SKIP LOCKED
    on PostgreSQL)."""
    config = current_app.config
    outcomes = {"sent": 0, "retrying": 0, "given_up": 0}
    connection = _Connection()
    try:
        for _ in range(BATCH_SIZE):
            mail = _next_due(now)
            if mail is None:
                break
            try:
                _send(mail, now, connection, _parse_address(config["MAIL_FROM"]))
            except (OSError, smtplib.SMTPException, ValueError) as error:
                # The attempt as a whole failed (server unreachable, sender or content
                # refused, a bad setting): every recipient still to try stays so.
                mail.last_error = f"{type(error).__name__}: {error}"[:500]
                connection.drop()
            outcomes[_settle(mail, now, config["MAIL_MAX_ATTEMPTS"])] += 1
            db.session.commit()
    finally:
        connection.close()
    return DeliveryReport(**outcomes)


def undelivered_mail(limit: int = 100) -> list[OutboxMail]:
    """Mail given up, or refused for a recipient, newest first, but what staff stopped: what the
    operator must look at (the staff console's mail queue lists the same)."""
    refused = select(OutboxRecipient.mail_id).where(
        OutboxRecipient.status == RecipientStatus.REFUSED
    )
    return list(
        db.session.scalars(
            select(OutboxMail)
            .options(selectinload(OutboxMail.addressees))
            .where(OutboxMail.failed_at.is_not(None) | OutboxMail.id.in_(refused))
            .where(OutboxMail.dropped_at.is_(None))
            .order_by(OutboxMail.id.desc())
            .limit(limit)
        )
    )
