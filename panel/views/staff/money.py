"""入金確認 (payment confirmation) and 確認待ちの入金 (flagged money): 経理 and 管理者."""

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from panel.dates import today_in_japan
from panel.extensions import db
from panel.filters import yen
from panel.forms.staff import ApplyFlaggedForm, CreditForm, PaymentConfirmationForm, RefundForm
from panel.models import Bill, Payment
from panel.models.bills import BillStatus
from panel.models.types import utc_now
from panel.services.payments import PaymentOutcome
from panel.services.staff.accounts import CONFIRMS_PAYMENTS
from panel.services.staff.money import (
    CONFIRMED_METHODS,
    apply_flagged_payment,
    confirm_receipt,
    confirmation_queue,
    credit_flagged_payment,
    flagged_payments,
    mark_refunded,
)
from panel.views.requests import current_client
from panel.views.responses import submit_form
from panel.views.staff.blueprint import bp
from panel.views.staff.session import current_staff, staff_required

CONFIRMED = {
    PaymentOutcome.APPLIED: (
        "請求No.{bill_no} の入金({amount})を確認しました。ご請求はお支払済になりました。"
    ),
    PaymentOutcome.FLAGGED: (
        "請求No.{bill_no} の入金({amount})はご請求金額と一致しないため、反映せずに保留しました"
        "(確認待ちの入金に追加しました)。"
    ),
    PaymentOutcome.DUPLICATE: (
        "請求No.{bill_no} の入金は確認済みです(二重に反映されることはありません)。"
    ),
}
#: The tabs of the flagged money: the query value and its label.
FLAGGED_TABS = ((None, "未処理"), ("resolved", "処理済み"))


def _confirmation_form(bill: Bill, confirmation: int) -> PaymentConfirmationForm:
    return PaymentConfirmationForm(
        prefix=f"bill-{bill.id}",
        formdata=None,
        data={"received_on": today_in_japan(), "confirmation": confirmation},
    )


def _render_queue(failed: PaymentConfirmationForm | None = None, failed_bill_id: int = 0):
    query = request.args.get("q", "")[:40]
    pagination, rows = confirmation_queue(query, request.args.get("page", 1, type=int))
    forms = {
        row.bill.id: failed
        if failed is not None and row.bill.id == failed_bill_id
        else _confirmation_form(row.bill, row.confirmation)
        for row in rows
    }
    status = 200 if failed is None else 422
    return render_template(
        "staff/payments.html", query=query, pagination=pagination, rows=rows, forms=forms
    ), status


@bp.get("/payments")
@staff_required(*CONFIRMS_PAYMENTS)
def payments():
    """Awaiting bank-transfer and convenience-store bills, with their transfer notices."""
    return _render_queue()


@bp.post("/payments/<bill_no>/confirm")
@staff_required(*CONFIRMS_PAYMENTS)
def confirm_payment(bill_no: str):
    bill = db.session.scalar(select(Bill).where(Bill.bill_no == bill_no))
    if bill is None:
        abort(404)
    form = PaymentConfirmationForm(prefix=f"bill-{bill.id}")

    def confirm() -> PaymentOutcome:
        # Called once the form is valid: InputRequired saw every field.
        assert form.amount.data is not None and form.received_on.data is not None
        return confirm_receipt(
            bill,
            amount=form.amount.data,
            received_on=form.received_on.data,
            confirmation=form.confirmation_number,
            note=form.note.data,
            staff=current_staff(),
            client=current_client(),
            now=utc_now(),
            today=today_in_japan(),
        )

    outcome = submit_form(form, confirm)
    if outcome is None:
        if bill.status != BillStatus.AWAITING_PAYMENT or bill.payment_method not in (
            CONFIRMED_METHODS
        ):
            # The bill has left the queue (paid or cancelled meanwhile): said on top.
            flash(
                " ".join(form.form_errors) or "このご請求は入金確認の対象ではありません。", "error"
            )
            return redirect(url_for("staff.payments"))
        return _render_queue(form, bill.id)
    amount = yen(form.amount.data or 0)
    category = "success" if outcome == PaymentOutcome.APPLIED else "info"
    flash(CONFIRMED[outcome].format(bill_no=bill.bill_no, amount=amount), category)
    return redirect(url_for("staff.payments", q=request.args.get("q") or None))


def _load_payment(payment_id: int) -> Payment:
    payment = db.session.get(Payment, payment_id)
    if payment is None or payment.applied_to_bill:
        abort(404)
    return payment


def _render_flagged(failed: dict[str, object] | None = None):
    tab = request.args.get("tab") or None
    if tab not in ("resolved", None):
        abort(404)
    pagination = flagged_payments(tab == "resolved", request.args.get("page", 1, type=int))
    forms = {}
    for payment in pagination.items:
        for prefix, form_class in (
            (f"apply-{payment.id}", ApplyFlaggedForm),
            (f"credit-{payment.id}", CreditForm),
            (f"refund-{payment.id}", RefundForm),
        ):
            forms[prefix] = (failed or {}).get(prefix) or form_class(prefix=prefix, formdata=None)
    return render_template(
        "staff/flagged.html", pagination=pagination, tab=tab, tabs=FLAGGED_TABS, forms=forms
    ), (200 if failed is None else 422)


def _refused_flagged(payment: Payment, prefix: str, form):
    """The form again with what was wrong, or, when the money was settled meanwhile (so its
    forms are gone from the list), the list saying so."""
    if payment.resolution is not None:
        flash(" ".join(form.form_errors) or "この入金は処理済みです。", "error")
        return redirect(url_for("staff.flagged"))
    return _render_flagged({prefix: form})


@bp.get("/flagged")
@staff_required(*CONFIRMS_PAYMENTS)
def flagged():
    """Money that could not pay its bill, with the reason, to be settled."""
    return _render_flagged()


@bp.post("/flagged/<int:payment_id>/apply")
@staff_required(*CONFIRMS_PAYMENTS)
def apply_flagged(payment_id: int):
    payment = _load_payment(payment_id)
    prefix = f"apply-{payment.id}"
    form = ApplyFlaggedForm(prefix=prefix)
    target = submit_form(
        form,
        lambda: apply_flagged_payment(
            payment,
            bill_no=form.bill_no.data,
            note=form.note.data,
            staff=current_staff(),
            client=current_client(),
            now=utc_now(),
            today=today_in_japan(),
        ),
    )
    if target is None:
        return _refused_flagged(payment, prefix, form)
    flash(
        f"入金を請求No.{target.bill_no} に充当しました。ご請求はお支払済になりました。", "success"
    )
    return redirect(url_for("staff.flagged"))


def _settle_with_a_note(payment_id: int, kind: str, form_class, settle, done: str):
    """Flagged money refunded or credited: its form (a note), the service, then the list."""
    payment = _load_payment(payment_id)
    prefix = f"{kind}-{payment.id}"
    form = form_class(prefix=prefix)
    settled = submit_form(
        form,
        lambda: settle(
            payment,
            note=form.note.data,
            staff=current_staff(),
            client=current_client(),
            now=utc_now(),
        ),
    )
    if settled is None:
        return _refused_flagged(payment, prefix, form)
    flash(f"入金({yen(payment.amount)})を{done}。", "success")
    return redirect(url_for("staff.flagged"))


@bp.post("/flagged/<int:payment_id>/refunded")
@staff_required(*CONFIRMS_PAYMENTS)
def refund_flagged(payment_id: int):
    return _settle_with_a_note(
        payment_id, "refund", RefundForm, mark_refunded, "返金済みにしました"
    )


@bp.post("/flagged/<int:payment_id>/credited")
@staff_required(*CONFIRMS_PAYMENTS)
def credit_flagged(payment_id: int):
    return _settle_with_a_note(
        payment_id, "credit", CreditForm, credit_flagged_payment, "アカウント残高へ入金しました"
    )
