"""ご契約更新・プラン変更: pick, see the price live, confirm, apply."""

import secrets

from flask import Blueprint, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from panel.errors import refusal_page
from panel.extensions import db
from panel.forms.renewal import RenewalForm
from panel.htmx import redirect_to, render_page_or_partial
from panel.models import Bill, Role
from panel.models.bills import PAYMENT_METHOD_LABELS
from panel.services.billing import CONVENIENCE_STORE_FEE, CUSTOMER_PAYMENT_METHODS
from panel.services.calendar import today_in_japan
from panel.services.documents import render_quote
from panel.services.errors import DomainError
from panel.services.renewal import (
    Selection,
    apply_renewal,
    period_label,
    plan_renewal_page,
    quote_renewal,
)
from panel.views import pdf_response, roles_required

bp = Blueprint("renewal", __name__, url_prefix="/renewal")

#: Who may apply; every role may look at the prices.
APPLYING_ROLES = (Role.OWNER, Role.BILLING)


@bp.app_template_filter("period")
def _period_filter(months: int) -> str:
    return period_label(months)


def _selections(form: RenewalForm) -> list[Selection]:
    return [
        Selection(contract_id, form.months.get(contract_id, 0), form.plans.get(contract_id))
        for contract_id in sorted(form.ticked)
    ]


def _selection_page(form: RenewalForm, error: str | None = None):
    page = plan_renewal_page(
        current_user.customer,
        form.ticked,
        form.months,
        form.plans,
        form.month_end,
        today_in_japan(),
    )
    return render_page_or_partial(
        "renewal/index.html",
        "renewal/_selection.html",
        rows=page.rows,
        quote=page.quote,
        expired=page.expired,
        plans=page.plans,
        month_end=form.month_end,
        error=error,
        may_apply=current_user.role in APPLYING_ROLES,
        may_quote=current_user.customer.is_corporate,
    )


@bp.route("", methods=["GET", "POST"])
@roles_required(*Role)
def index():
    """The pickers and the live price (a POST here only recalculates; nothing is saved)."""
    return _selection_page(RenewalForm.read(request.form))


def _confirm_page(form: RenewalForm, error: str | None = None):
    quote = quote_renewal(
        current_user.customer,
        _selections(form),
        form.month_end,
        today_in_japan(),
        form.payment_method,
    )
    if not quote.renewals or quote.refusals:
        return _selection_page(
            form,
            error="更新するご契約を選択してください。"
            if not quote.renewals and not quote.refusals
            else "お申込できないご契約があります。内容をご確認ください。",
        )
    return render_page_or_partial(
        "renewal/confirm.html",
        "renewal/_confirm_summary.html",
        quote=quote,
        form=form,
        payment_methods=[(m, PAYMENT_METHOD_LABELS[m]) for m in CUSTOMER_PAYMENT_METHODS],
        convenience_store_fee=CONVENIENCE_STORE_FEE,
        application_token=form.application_token or secrets.token_urlsafe(32),
        error=error,
    )


@bp.post("/confirm")
@roles_required(*APPLYING_ROLES)
def confirm():
    try:
        return _confirm_page(RenewalForm.read(request.form))
    except DomainError as refusal:
        return _selection_page(RenewalForm.read(request.form), error=refusal.message)


@bp.post("/quote.pdf")
@roles_required(*Role)
def quote_pdf():
    """見積書 of the current selection (corporate customers), before anything is applied."""
    form = RenewalForm.read(request.form)
    customer = current_user.customer
    if not customer.is_corporate:
        return refusal_page(
            "見積書はご利用いただけません", "見積書は法人のお客様がご利用いただけます。", 403
        )
    today = today_in_japan()
    try:
        quote = quote_renewal(customer, _selections(form), form.month_end, today)
        content = render_quote(customer, quote, today)
    except DomainError as refusal:
        return _selection_page(form, error=refusal.message)
    stamp = f"{today:%Y%m%d}"
    return pdf_response(content, f"quote-{stamp}.pdf", f"御見積書_{stamp}.pdf")


@bp.post("/apply")
@roles_required(*APPLYING_ROLES)
def apply():
    form = RenewalForm.read(request.form)
    customer = current_user.customer
    if not form.application_token:
        return _confirm_page(form, error="ページの有効期限が切れました。もう一度お試しください。")
    try:
        bill = apply_renewal(
            customer,
            _selections(form),
            form.month_end,
            form.payment_method or "",
            form.application_token,
            today_in_japan(),
        )
        db.session.commit()
    except DomainError as refusal:
        db.session.rollback()
        try:
            return _confirm_page(form, error=refusal.message)
        except DomainError as tampered:
            return _selection_page(form, error=tampered.message)
    except IntegrityError:
        # The same form submitted twice at once: the other submission made the bill.
        db.session.rollback()
        bill = db.session.scalar(
            select(Bill).where(
                Bill.customer_id == customer.id,
                Bill.application_token == form.application_token,
            )
        )
        if bill is None:
            raise
    return redirect_to(url_for("bills.detail", bill_no=bill.bill_no))
