"""The paper-invoice queue (紙面の請求書郵送): invoices customers asked to have mailed, with
the postal address; staff print the PDF, post it and mark it mailed, and the customer's bill
then says 発送済み with the date."""

from datetime import datetime

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from panel.extensions import db
from panel.models import Bill, PaperInvoiceRequest, StaffMember
from panel.models.bills import BillStatus
from panel.refusals import DomainError
from panel.services.audit import Client, record_event

PER_PAGE = 20


def paper_queue(mailed: bool, page: int) -> Pagination:
    """Requests still to post, the oldest first (a cancelled bill asks for no payment: its
    request is left out); or those posted, the latest first."""
    statement = (
        select(PaperInvoiceRequest)
        .join(Bill, PaperInvoiceRequest.bill_id == Bill.id)
        .options(
            selectinload(PaperInvoiceRequest.bill).selectinload(Bill.customer),
            selectinload(PaperInvoiceRequest.bill).selectinload(Bill.lines),
        )
    )
    if mailed:
        statement = statement.where(PaperInvoiceRequest.mailed_at.is_not(None)).order_by(
            PaperInvoiceRequest.mailed_at.desc(), PaperInvoiceRequest.id.desc()
        )
    else:
        statement = statement.where(
            PaperInvoiceRequest.mailed_at.is_(None), Bill.status != BillStatus.CANCELLED
        ).order_by(PaperInvoiceRequest.requested_at, PaperInvoiceRequest.id)
    return db.paginate(statement, page=page, per_page=PER_PAGE, error_out=False)


def mark_mailed(
    request: PaperInvoiceRequest, *, staff: StaffMember, client: Client, now: datetime
) -> None:
    """The invoice was posted: the request leaves the queue and the bill shows the date."""
    db.session.refresh(request, with_for_update=True)
    if request.mailed_at is not None:
        raise DomainError("この請求書は既に発送済みです。")
    bill = request.bill
    if bill.status == BillStatus.CANCELLED:
        raise DomainError("ご請求が取り消されているため、郵送は不要です。")
    customer = bill.customer
    if not (customer.postal_code and customer.postal_address):
        raise DomainError(
            "郵送先の住所が登録されていません。お客様に会員登録情報の住所の登録をご依頼ください。"
        )
    request.mailed_at = now
    record_event(
        "paper_invoice_mailed",
        client,
        customer=customer,
        staff=staff,
        detail=f"請求No.{bill.bill_no}",
        at=now,
    )
