"""Invoices (請求書), receipts (領収書) and quotes (見積書) that meet the qualified-invoice rules
(適格請求書), and the paper-invoice queue.

An invoice or receipt, once issued, is stored: a later download returns the same bytes. A bill
that changes in a way the document shows (cancelled, another payment method and total) gets a
new document, and the earlier one stays as it was."""

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date, datetime

from flask import current_app
from sqlalchemy import select

from panel.database import dialect_insert
from panel.extensions import db
from panel.models import Bill, Customer, IssuedDocument, PaperInvoiceRequest, Payment, User
from panel.models.bills import BillStatus
from panel.models.documents import DocumentKind
from panel.models.types import utc_now
from panel.pdf import render_pdf
from panel.refusals import DomainError
from panel.services.addressing import recipient_context
from panel.services.addressing import recipient_name as recipient_name  # where it used to be
from panel.services.billing import lock_bill, transfer_reference
from panel.services.renewal.pricing import RenewalQuote

REGISTRATION_NUMBER = re.compile(r"^T(\d)(\d{12})$")


def corporate_number_check_digit(base: str) -> int:
    """The check digit of a corporate number (法人番号) for its other 12 digits: 9 minus the sum
    of each digit times 1 or 2 (alternating from the right, starting with 1), modulo 9."""
    weighted = sum(
        int(digit) * (1 if position % 2 else 2)
        for position, digit in enumerate(reversed(base), start=1)
    )
    return 9 - weighted % 9


def registration_number_error(value: str) -> str | None:
    """Why `value` is not a qualified-invoice registration number (T + 13 digits whose first
    is the corporate number's check digit), or None."""
    match = REGISTRATION_NUMBER.match(value)
    if match is None:
        return f"{value!r} is not T followed by 13 digits"
    check, base = match.groups()
    if int(check) != corporate_number_check_digit(base):
        return f"{value!r} has a wrong check digit (expected {corporate_number_check_digit(base)})"
    return None


@dataclass(frozen=True)
class Issuer:
    """The company named on every document."""

    name: str
    address: str
    registration_number: str


def issuer() -> Issuer:
    config = current_app.config
    return Issuer(
        config["ISSUER_NAME"], config["ISSUER_ADDRESS"], config["ISSUER_REGISTRATION_NUMBER"]
    )


def _line_facts(lines) -> list:
    """What a document shows of its lines (bill lines or a quote's drafts)."""
    return [
        (line.description, line.amount, line.tax_rate, line.period_start, line.period_end)
        for line in lines
    ]


def _fingerprint(facts) -> str:
    return hashlib.sha256(json.dumps(facts, default=str, sort_keys=True).encode()).hexdigest()


def _issued(bill: Bill, kind: str, facts, render, today: date) -> IssuedDocument:
    """The document of `kind` showing `facts`: the stored one, or rendered now and stored.
    Two first downloads at once store one (the other's insert does nothing)."""
    fingerprint = _fingerprint(facts)
    lookup = select(IssuedDocument).where(
        IssuedDocument.bill_id == bill.id,
        IssuedDocument.kind == kind,
        IssuedDocument.fingerprint == fingerprint,
    )
    document = db.session.scalar(lookup)
    if document is not None:
        return document
    table = IssuedDocument.__table__
    db.session.execute(
        dialect_insert(table)
        .values(
            bill_id=bill.id,
            kind=kind,
            fingerprint=fingerprint,
            issued_on=today,
            content=render(today),
            created_at=utc_now(),
        )
        .on_conflict_do_nothing(index_elements=[table.c.bill_id, table.c.kind, table.c.fingerprint])
    )
    return db.session.scalars(lookup).one()


def _document_context(bill: Bill, issued_on: date) -> dict:
    config = current_app.config
    return {
        "bill": bill,
        "issuer": issuer(),
        **recipient_context(bill.customer),
        "issued_on": issued_on,
        "transfer_reference": transfer_reference(bill),
        "bank_account": config["BANK_TRANSFER_ACCOUNT"],
    }


def invoice(bill: Bill, today: date) -> IssuedDocument:
    """The bill's invoice, issued `today` unless it was before; a cancelled bill's invoice is
    marked 取消."""
    cancelled = bill.status == BillStatus.CANCELLED
    facts = [bill.bill_no, cancelled, bill.payment_method, bill.due_date, _line_facts(bill.lines)]
    return _issued(
        bill,
        DocumentKind.INVOICE,
        facts,
        lambda issued_on: render_pdf(
            "pdf/invoice.html", cancelled=cancelled, **_document_context(bill, issued_on)
        ),
        today,
    )


def receipt(bill: Bill, today: date) -> IssuedDocument:
    """The bill's receipt, once it is paid: the amount received, when, and for what."""
    if bill.status != BillStatus.PAID:
        raise DomainError(
            "領収書は、お支払の確認後に発行できます。このご請求はまだお支払済みではありません。"
        )
    received = db.session.scalar(
        select(Payment).where(Payment.bill_id == bill.id, Payment.applied_to_bill)
    )
    assert received is not None, "a paid bill has the payment applied to it"
    facts = [
        bill.bill_no,
        bill.paid_at,
        bill.payment_method,
        received.amount,
        _line_facts(bill.lines),
    ]
    return _issued(
        bill,
        DocumentKind.RECEIPT,
        facts,
        lambda issued_on: render_pdf(
            "pdf/receipt.html",
            received=received,
            **_document_context(bill, issued_on),
        ),
        today,
    )


def render_quote(customer: Customer, quote: RenewalQuote, today: date) -> bytes:
    """見積書 for a renewal selection, before anything is applied (not stored: no bill yet)."""
    if not customer.is_corporate:
        raise DomainError("見積書は法人のお客様がご利用いただけます。")
    if not quote.renewals or quote.refusals:
        raise DomainError(
            "見積書を作成するご契約を選択してください(お申込できないご契約を除いてください)。"
        )
    number = f"Q{today:%Y%m%d}-{_fingerprint([customer.id, _line_facts(quote.lines)])[:6].upper()}"
    return render_pdf(
        "pdf/quote.html",
        quote=quote,
        quote_no=number,
        issuer=issuer(),
        **recipient_context(customer),
        customer=customer,
        issued_on=today,
    )


PAPER_INVOICES_FOR_INVOICE_TERMS = (
    "紙面の請求書の郵送は、請求書払い(法人のお客様向けドメイン管理サービス)をご利用の"
    "お客様にご用意しています。請求書はPDFでダウンロードしてご利用ください。"
)


def offers_paper_invoices(customer: Customer) -> bool:
    """Paper invoices are for the companies on invoice terms, as the source document says of
    法人のお客様向けドメイン管理サービス; everyone else downloads the PDF."""
    return customer.is_corporate and customer.invoice_terms


def request_paper_invoice(bill: Bill, user: User, now: datetime) -> PaperInvoiceRequest:
    """紙面の請求書郵送: the invoice goes on the staff's paper queue, once per bill; a cancelled
    bill asks for nothing to be paid, so it gets no paper invoice. For customers on invoice
    terms only."""
    if not offers_paper_invoices(bill.customer):
        raise DomainError(PAPER_INVOICES_FOR_INVOICE_TERMS)
    lock_bill(bill)
    if bill.status == BillStatus.CANCELLED:
        raise DomainError("取り消されたご請求の紙面の請求書は郵送できません。")
    table = PaperInvoiceRequest.__table__
    added = db.session.execute(
        dialect_insert(table)
        .values(bill_id=bill.id, user_id=user.id, requested_at=now)
        .on_conflict_do_nothing(index_elements=[table.c.bill_id])
        .returning(table.c.id)
    ).scalar_one_or_none()
    if added is None:
        raise DomainError("このご請求の紙面の請求書は、すでにご依頼いただいています。")
    return db.session.get_one(PaperInvoiceRequest, added)


def paper_invoice_request(bill: Bill) -> PaperInvoiceRequest | None:
    return db.session.scalar(
        select(PaperInvoiceRequest).where(PaperInvoiceRequest.bill_id == bill.id)
    )
