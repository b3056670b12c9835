"""ご契約更新・プラン変更: pick, see the price live, confirm, apply."""

from flask import Blueprint, flash, request, url_for
from flask_login import current_user

from panel import labels
from panel.dates import today_in_japan
from panel.errors import refusal_page
from panel.filters import japanese_date
from panel.forms.renewal import RenewalForm
from panel.htmx import redirect_to, render_page_or_partial
from panel.models import Role
from panel.models.bills import PaymentMethod
from panel.models.on_account import ON_ACCOUNT
from panel.models.types import utc_now
from panel.services.balance import account_balance, quote_price_from_balance
from panel.services.billing import APPLICATION_PAYMENT_METHODS, CONVENIENCE_STORE_FEE
from panel.services.documents import render_quote
from panel.services.on_account import (
    buy_on_account,
    buys_on_account,
    closing_day,
    month_end_due_date,
)
from panel.services.renewal.application import (
    apply_renewal,
    new_application_token,
    refusal_summary,
)
from panel.services.renewal.page import plan_renewal_page
from panel.services.renewal.pricing import Selection, period_label, quote_renewal
from panel.transactions import call_service
from panel.views.permissions import roles_required
from panel.views.requests import current_client
from panel.views.responses import pdf_response

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
    """The confirm step for the ticked rows; back to the selection, saying which rows and
    why, when some cannot be applied for."""
    customer = current_user.customer
    quote, refusal = call_service(
        lambda: quote_renewal(
            customer, _selections(form), form.month_end, today_in_japan(), form.payment_method
        )
    )
    if refusal is not None:
        return _selection_page(form, error=refusal.message)
    if quote.refusals:
        return _selection_page(form, error=refusal_summary(quote))
    if not quote.renewals:
        return _selection_page(form, error="更新するご契約を選択してください。")
    # 請求書払い is offered only to those who may use it; the service refuses it to others.
    methods = [ON_ACCOUNT] if buys_on_account(customer) else []
    closing = closing_day(today_in_japan())
    return render_page_or_partial(
        "renewal/confirm.html",
        "renewal/_confirm_summary.html",
        quote=quote,
        form=form,
        payment_methods=[
            (m, labels.PURCHASE_METHOD[m]) for m in [*methods, *APPLICATION_PAYMENT_METHODS]
        ],
        on_account_closing=closing,
        on_account_due_date=month_end_due_date(closing),
        convenience_store_fee=CONVENIENCE_STORE_FEE,
        balance=account_balance(customer),
        balance_price=quote_price_from_balance(quote),
        application_token=new_application_token(customer),
        error=error,
    )


@bp.post("/confirm")
@roles_required(*APPLYING_ROLES)
def confirm():
    return _confirm_page(RenewalForm.read(request.form))


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
    content, refusal = call_service(
        lambda: render_quote(
            customer, quote_renewal(customer, _selections(form), form.month_end, today), today
        )
    )
    if refusal is not None:
        return _selection_page(form, error=refusal.message)
    stamp = f"{today:%Y%m%d}"
    return pdf_response(content, f"quote-{stamp}.pdf", f"御見積書_{stamp}.pdf")


@bp.post("/apply")
@roles_required(*APPLYING_ROLES)
def apply():
    form = RenewalForm.read(request.form)
    if form.payment_method == ON_ACCOUNT:
        return _buy_on_account(form)
    bill, refusal = call_service(
        lambda: apply_renewal(
            current_user.customer,
            _selections(form),
            form.month_end,
            form.payment_method or "",
            form.application_token,
            today_in_japan(),
            now=utc_now(),
            client=current_client(),
        )
    )
    if refusal is not None:
        return _confirm_page(form, error=refusal.message)
    if bill.payment_method == PaymentMethod.BALANCE:
        flash("アカウント残高からお支払いしました。ご契約に反映しました。", "success")
    return redirect_to(url_for("bills.detail", bill_no=bill.bill_no))


def _buy_on_account(form: RenewalForm):
    """請求書払い: the contracts are renewed at once, and the purchase waits for the month-end
    bill; the bill list shows this month's purchases."""
    purchases, refusal = call_service(
        lambda: buy_on_account(
            current_user.customer,
            _selections(form),
            form.month_end,
            form.application_token,
            today_in_japan(),
            utc_now(),
            current_user,
            current_client(),
        )
    )
    if refusal is not None:
        return _confirm_page(form, error=refusal.message)
    closing = closing_day(purchases[0].purchased_on)
    flash(
        "請求書払いでお申込を承り、ご契約を更新しました。"
        f"{closing.month}月のご利用分は月末締めのご請求書にまとめてご請求します"
        f"(お支払期限日: {japanese_date(month_end_due_date(closing))})。",
        "success",
    )
    return redirect_to(url_for("bills.index"))
