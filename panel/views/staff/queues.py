"""The paper-invoice queue and the mail queue."""

from flask import abort, flash, redirect, render_template, request, url_for

from panel.database import writes_on_get
from panel.dates import today_in_japan
from panel.extensions import db
from panel.forms.staff import DropMailForm
from panel.models import OutboxMail, PaperInvoiceRequest, StaffRole
from panel.models.types import utc_now
from panel.services.documents import invoice
from panel.services.staff.outbox import (
    MailFilter,
    drop_mail,
    needs_attention,
    recent_mail,
    retry_mail,
)
from panel.services.staff.paper import mark_mailed, paper_queue
from panel.views.requests import current_client
from panel.views.responses import change_and_go_back, pdf_response, submit_form
from panel.views.staff.blueprint import bp
from panel.views.staff.session import current_staff, staff_required

PAPER_TABS = ((None, "発送待ち"), ("mailed", "発送済み"))
MAIL_TABS = (
    (MailFilter.FAILED, "送信できなかったメール"),
    (MailFilter.WAITING, "送信待ち"),
    (MailFilter.ALL, "すべて"),
    (MailFilter.DROPPED, "送信を中止したメール"),
)


@bp.get("/paper-invoices")
@staff_required(*StaffRole)
def paper_invoices():
    tab = request.args.get("tab") or None
    if tab not in ("mailed", None):
        abort(404)
    pagination = paper_queue(tab == "mailed", request.args.get("page", 1, type=int))
    return render_template(
        "staff/paper_invoices.html", pagination=pagination, tab=tab, tabs=PAPER_TABS
    )


def _load_request(request_id: int) -> PaperInvoiceRequest:
    found = db.session.get(PaperInvoiceRequest, request_id)
    if found is None:
        abort(404)
    return found


@bp.get("/paper-invoices/<int:request_id>/invoice.pdf")
@staff_required(*StaffRole)
@writes_on_get  # the invoice is stored when first issued, the same one the customer downloads
def paper_invoice_pdf(request_id: int):
    bill = _load_request(request_id).bill
    document = invoice(bill, today_in_japan())
    return pdf_response(
        document.content, f"invoice-{bill.bill_no}.pdf", f"請求書_{bill.bill_no}.pdf"
    )


@bp.post("/paper-invoices/<int:request_id>/mailed", endpoint="mark_mailed")
@staff_required(*StaffRole)
def mark_paper_invoice_mailed(request_id: int):
    found = _load_request(request_id)
    return change_and_go_back(
        lambda: mark_mailed(found, staff=current_staff(), client=current_client(), now=utc_now()),
        f"請求No.{found.bill.bill_no} の請求書を発送済みにしました。",
        url_for("staff.paper_invoices"),
    )


def _mail_filter() -> MailFilter:
    value = request.args.get("filter") or MailFilter.FAILED.value
    if value not in set(MailFilter):
        abort(404)
    return MailFilter(value)


def _render_mail(failed: tuple[str, DropMailForm] | None = None):
    mail_filter = _mail_filter()
    pagination = recent_mail(mail_filter, request.args.get("page", 1, type=int))
    forms = {
        mail.id: failed[1]
        if failed is not None and failed[0] == f"mail-{mail.id}"
        else DropMailForm(prefix=f"mail-{mail.id}", formdata=None)
        for mail in pagination.items
    }
    return render_template(
        "staff/mail.html",
        pagination=pagination,
        mail_filter=mail_filter,
        tabs=MAIL_TABS,
        forms=forms,
        needs_attention=needs_attention,
    ), (200 if failed is None else 422)


@bp.get("/mail")
@staff_required(*StaffRole)
def mail():
    """Recent outbox mail with its status per recipient; failed mail first."""
    return _render_mail()


def _load_mail(mail_id: int) -> OutboxMail:
    found = db.session.get(OutboxMail, mail_id)
    if found is None:
        abort(404)
    return found


def _back_to_mail() -> str:
    return url_for("staff.mail", filter=request.args.get("filter") or None)


@bp.post("/mail/<int:mail_id>/retry", endpoint="retry_mail")
@staff_required(*StaffRole)
def retry_mail_view(mail_id: int):
    found = _load_mail(mail_id)
    return change_and_go_back(
        lambda: retry_mail(found, staff=current_staff(), client=current_client(), now=utc_now()),
        f"メール #{found.id} を送信待ちに戻しました。次の送信で宛先に送ります。",
        _back_to_mail(),
    )


@bp.post("/mail/<int:mail_id>/drop", endpoint="drop_mail")
@staff_required(*StaffRole)
def drop_mail_view(mail_id: int):
    found = _load_mail(mail_id)
    prefix = f"mail-{found.id}"
    form = DropMailForm(prefix=prefix)
    dropped = submit_form(
        form,
        lambda: drop_mail(
            found,
            reason=form.reason.data,
            staff=current_staff(),
            client=current_client(),
            now=utc_now(),
        ),
    )
    if dropped is None:
        if form.form_errors:  # about the mail itself (dropped or sent meanwhile)
            flash(" ".join(form.form_errors), "error")
            return redirect(_back_to_mail())
        return _render_mail((prefix, form))
    flash(f"メール #{found.id} の送信を中止しました。", "success")
    return redirect(_back_to_mail())
