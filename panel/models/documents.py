"""Issued documents (invoices, receipts) kept as rendered, and paper-invoice requests."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from panel.extensions import Model
from panel.models.bills import Bill
from panel.models.types import UtcDateTime, one_of, utc_now


class DocumentKind(StrEnum):
    INVOICE = "invoice"  #: 請求書
    RECEIPT = "receipt"  #: 領収書


class IssuedDocument(Model):
    """A PDF as it was issued: rendered once, and the same bytes on every later download.

    A bill that changes in a way the document shows (cancelled, another payment method) gets a
    new document; the earlier one is kept."""

    __tablename__ = "issued_documents"
    __table_args__ = (
        UniqueConstraint("bill_id", "kind", "fingerprint"),
        one_of("kind", DocumentKind),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the bill the document is for
    bill_id: Mapped[int] = mapped_column(ForeignKey("bills.id"), index=True)
    #: invoice or receipt
    kind: Mapped[str] = mapped_column(String(16))
    #: SHA-256 of what the document shows of the bill; another state, another document
    fingerprint: Mapped[str] = mapped_column(String(64))
    #: 発行日: the Japan date it was first issued
    issued_on: Mapped[date]
    #: the PDF
    content: Mapped[bytes] = mapped_column(LargeBinary)
    #: when it was rendered
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)

    bill: Mapped[Bill] = relationship()


class PaperInvoiceRequest(Model):
    """A customer's request for the invoice on paper (紙面の請求書郵送): the staff's queue."""

    __tablename__ = "paper_invoice_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the bill whose invoice is mailed; asked for once
    bill_id: Mapped[int] = mapped_column(ForeignKey("bills.id"), unique=True)
    #: the user who asked
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: when they asked
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    #: when staff posted it; none while it is on the queue
    mailed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    bill: Mapped[Bill] = relationship()
