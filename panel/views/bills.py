"""お支払・ご請求明細: the bill list, a bill's details, and what may be done while it awaits
payment (pay, change the method, transfer notice, cancel, resend the bill e-mail)."""

from collections.abc import Callable
from typing import TypeVar, cast

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from panel import labels
from panel.database import writes_on_get
from panel.dates import today_in_japan
from panel.errors import refusal_page
from panel.extensions import db
from panel.forms.bills import (
    CardForm,
    PaymentMethodForm,
    TransferNoticeForm,
)
from panel.gateways import CardDetails, payment_gateway
from panel.htmx import is_partial_request, redirect_to, render_page_or_partial
from panel.models import Bill, Role
from panel.models.bills import BillKind, BillStatus
from panel.models.types import utc_now
from panel.services.balance import account_balance, payable_from_balance, price_from_balance
from panel.services.billing import (
    bill_history,
    cancel_bill,
    change_payment_method,
    list_bills,
    payment_methods_for,
    record_transfer_notice,
    resend_bill_mail,
    transfer_reference,
)
from panel.services.documents import (
    invoice,
    offers_paper_invoices,
    paper_invoice_request,
    receipt,
    request_paper_invoice,
)
from panel.services.on_account import buys_on_account, unbilled_purchases
from panel.services.payments import (
    PaymentOutcome,
    Settlement,
    complete_card_authentication,
    complete_paypal_payment,
    current_store_payment,
    issue_store_payment,
    pay_by_card,
    pay_from_balance,
    start_paypal_payment,
    unsettled_attempt,
)
from panel.transactions import call_service
from panel.views.permissions import roles_required
from panel.views.requests import current_client
from panel.views.responses import pdf_response, show_refusal

bp = Blueprint("bills", __name__, url_prefix="/bills")

Result = TypeVar("Result")

#: Bills are money: the technical role does not see them.
BILL_READERS = (Role.OWNER, Role.BILLING, Role.READ_ONLY)
#: Who may pay, cancel or otherwise act on a bill.
BILL_PAYERS = (Role.OWNER, Role.BILLING)
#: The tabs of the bill list: the status filter in the URL and its label.
TABS = (
    (None, "すべて"),
    (BillStatus.AWAITING_PAYMENT, labels.BILL_STATUS[BillStatus.AWAITING_PAYMENT]),
    (BillStatus.PAID, labels.BILL_STATUS[BillStatus.PAID]),
    (BillStatus.CANCELLED, labels.BILL_STATUS[BillStatus.CANCELLED]),
)

#: What a paid bill's money did, by what the bill is for.
APPLIED_MESSAGES: dict[str, str] = {
    BillKind.DEPOSIT: "お支払が完了しました。アカウント残高に反映しました。",
    BillKind.MONTH_END: "お支払が完了しました。アカウント残高に反映しました。",
}
PAYMENT_MESSAGES = {
    PaymentOutcome.APPLIED: "お支払が完了しました。ご契約に反映しました。",
    PaymentOutcome.DUPLICATE: "このご請求のお支払は完了しています。",
    PaymentOutcome.FLAGGED: (
        "入金を受け付けましたが、ご請求に反映できませんでした。担当者が確認してご連絡します。"
    ),
}


def _payment_message(bill: Bill, outcome: PaymentOutcome) -> str:
    if outcome == PaymentOutcome.APPLIED and bill.kind in APPLIED_MESSAGES:
        return APPLIED_MESSAGES[bill.kind]
    return PAYMENT_MESSAGES[outcome]


@bp.get("")
@roles_required(*BILL_READERS)
def index():
    status = request.args.get("status") or None
    if status is not None and status not in set(BillStatus):
        abort(404)
    page = request.args.get("page", 1, type=int)  # a page number, by the request guard
    customer = current_user.customer
    bills = list_bills(customer, status, page)
    unbilled = unbilled_purchases(customer, today_in_japan())
    return render_page_or_partial(
        "bills/index.html",
        "bills/_list.html",
        bills=bills,
        status_filter=status,
        tabs=TABS,
        # 請求書払い: this month's purchases on account, for those on invoice terms (or with
        # purchases still to be billed after the terms ended)
        on_account=unbilled if buys_on_account(customer) or unbilled.purchases else None,
    )


def _load_bill(bill_no: str) -> Bill:
    """The signed-in customer's bill, or 404: another customer's bill No. does not exist."""
    bill = db.session.scalar(
        select(Bill)
        .options(selectinload(Bill.lines))
        .where(Bill.bill_no == bill_no, Bill.customer_id == current_user.customer_id)
    )
    if bill is None:
        abort(404)
    return bill


def _fresh(form_class, **data):
    """A form shown for the first time (never bound to what this request posted)."""
    return form_class(formdata=None, data=data)


def _render_bill(
    bill: Bill,
    *,
    method_form: PaymentMethodForm | None = None,
    card_form: CardForm | None = None,
    notice_form: TransferNoticeForm | None = None,
    confirming_cancel: bool = False,
    message: str | None = None,
    error: str | None = None,
):
    today = today_in_japan()
    gateway = payment_gateway()
    notice_form = notice_form or _fresh(TransferNoticeForm).default_for(today, bill.total)
    method_form = (method_form or _fresh(PaymentMethodForm, method=bill.payment_method)).offering(
        payment_methods_for(bill)
    )
    from_balance = payable_from_balance(bill)
    month_end = bill.kind == BillKind.MONTH_END
    return render_page_or_partial(
        "bills/detail.html",
        "bills/_bill.html",
        bill=bill,
        awaiting=bill.status == BillStatus.AWAITING_PAYMENT,
        past_due=bill.due_date < today,
        # a month-end bill bills what was used: never cancelled, still payable when late
        month_end=month_end,
        may_act=current_user.role in BILL_PAYERS,
        paper_invoices=offers_paper_invoices(bill.customer),
        bank_account=current_app.config["BANK_TRANSFER_ACCOUNT"],
        transfer_reference=transfer_reference(bill),
        store_payment=current_store_payment(bill, today),
        stores=gateway.stores,
        history=bill_history(bill),
        paper_request=paper_invoice_request(bill),
        method_form=method_form,
        balance=account_balance(bill.customer) if from_balance else None,
        balance_price=price_from_balance(bill) if from_balance else None,
        card_form=card_form or _fresh(CardForm),
        attempt=unsettled_attempt(bill),
        notice_form=notice_form,
        test_cards=getattr(gateway, "test_cards", None),
        confirming_cancel=confirming_cancel,
        message=message,
        error=error,
    )


@bp.get("/<bill_no>")
@roles_required(*BILL_READERS)
def detail(bill_no: str):
    return _render_bill(_load_bill(bill_no))


@bp.get("/<bill_no>/invoice.pdf")
@roles_required(*BILL_READERS)
@writes_on_get  # an invoice is stored when first issued
def invoice_pdf(bill_no: str):
    bill = _load_bill(bill_no)
    document = invoice(bill, today_in_japan())
    return pdf_response(document.content, f"invoice-{bill_no}.pdf", f"請求書_{bill_no}.pdf")


@bp.get("/<bill_no>/receipt.pdf")
@roles_required(*BILL_READERS)
@writes_on_get  # a receipt is stored when first issued
def receipt_pdf(bill_no: str):
    bill = _load_bill(bill_no)
    document, refusal = call_service(lambda: receipt(bill, today_in_japan()))
    if refusal is not None:
        return refusal_page("領収書はまだ発行できません", refusal.message, 409)
    return pdf_response(document.content, f"receipt-{bill_no}.pdf", f"領収書_{bill_no}.pdf")


@bp.post("/<bill_no>/paper-invoice")
@roles_required(*BILL_PAYERS)
def paper_invoice(bill_no: str):
    def request_it(bill: Bill) -> str:
        request_paper_invoice(bill, current_user, utc_now())
        return "紙面の請求書の郵送を承りました。数日中に発送いたします。"

    return _act(_load_bill(bill_no), request_it)


def _done(bill: Bill, message: str | None = None, error: str | None = None):
    """After an action: the bill again, with what happened (htmx swaps it in; a plain form
    post is redirected to the bill page, the message carried by a flash)."""
    if is_partial_request():
        return _render_bill(bill, message=message, error=error)
    flash(message or error or "", "success" if message else "error")
    return redirect(url_for("bills.detail", bill_no=bill.bill_no))


def _act(bill: Bill, action: Callable[[Bill], str]):
    """Run an action on the bill; a refusal changes nothing and is shown on the bill."""
    message, refusal = call_service(lambda: action(bill))
    if refusal is not None:
        return _done(bill, error=refusal.message)
    return _done(bill, message=message)


def _act_with_form(
    bill: Bill,
    form,
    action: Callable[[Bill], Result],
    answer: Callable[[Bill, Result], Response] | None = None,
    **shown_form,
):
    """Like `_act`, for a form with fields (`shown_form` names it for `_render_bill`): invalid
    input is shown on the form, and so is a refusal about one of its fields. Any other refusal
    (the bill was paid, or its method changed in another tab, so the form may be gone from the
    page) is shown on the bill. `answer` turns the action's result into the response (default:
    the result is the message to show on the bill)."""
    if not form.validate():
        return _render_bill(bill, **shown_form)
    result, refusal = call_service(lambda: action(bill))
    if refusal is None:
        # Without `answer`, the action's result is the message.
        return answer(bill, result) if answer else _done(bill, message=cast(str, result))
    if refusal.field in form and bill.status == BillStatus.AWAITING_PAYMENT:
        show_refusal(form, refusal)
        return _render_bill(bill, **shown_form)
    return _done(bill, error=refusal.message)


@bp.post("/<bill_no>/payment-method")
@roles_required(*BILL_PAYERS)
def payment_method(bill_no: str):
    bill = _load_bill(bill_no)
    form = PaymentMethodForm().offering(payment_methods_for(bill))

    def change(bill: Bill) -> str:
        change_payment_method(bill, form.method.data, today_in_japan())
        return f"お支払方法を{labels.PAYMENT_METHOD[bill.payment_method]}に変更しました。"

    return _act_with_form(bill, form, change, method_form=form)


def _settled(bill: Bill, settlement: Settlement):
    """After a card or PayPal payment: to the card company's authentication page when it asks
    for one, else the bill with what happened."""
    if settlement.outcome == PaymentOutcome.AUTHENTICATION_REQUIRED:
        assert settlement.action_url, "the gateway names the page to authenticate on"
        return redirect_to(settlement.action_url)
    return _done(bill, message=_payment_message(bill, settlement.outcome))


@bp.post("/<bill_no>/pay/card")
@roles_required(*BILL_PAYERS)
def pay_card(bill_no: str):
    form = CardForm()

    def pay(bill: Bill) -> Settlement:
        month, year = form.expiry_month_year()
        card = CardDetails(form.number.data, month, year, form.security_code.data)
        return_url = url_for("bills.card_return", bill_no=bill.bill_no, _external=True)
        return pay_by_card(bill, card, return_url, today_in_japan(), utc_now(), current_client())

    return _act_with_form(_load_bill(bill_no), form, pay, answer=_settled, card_form=form)


@bp.post("/<bill_no>/pay/balance")
@roles_required(*BILL_PAYERS)
def pay_balance(bill_no: str):
    def pay(bill: Bill) -> str:
        pay_from_balance(bill, utc_now(), current_client())
        return "アカウント残高からお支払いしました。ご契約に反映しました。"

    return _act(_load_bill(bill_no), pay)


@bp.get("/<bill_no>/pay/card/return")
@roles_required(*BILL_PAYERS)
@writes_on_get  # the payment is applied when the cardholder comes back
def card_return(bill_no: str):
    """The card company's authentication (3-D Secure) sends the cardholder back here; a reload
    applies nothing twice."""
    bill = _load_bill(bill_no)
    settlement, refusal = call_service(
        lambda: complete_card_authentication(bill, utc_now(), current_client())
    )
    if refusal is not None:
        flash(refusal.message, "error")
    elif settlement.outcome == PaymentOutcome.AUTHENTICATION_REQUIRED:
        flash("本人認証(3-Dセキュア)が完了していません。お支払は完了していません。", "error")
    else:
        flash(_payment_message(bill, settlement.outcome), "success")
    return redirect(url_for("bills.detail", bill_no=bill.bill_no))


@bp.post("/<bill_no>/pay/paypal")
@roles_required(*BILL_PAYERS)
def pay_paypal(bill_no: str):
    bill = _load_bill(bill_no)
    approval_url, refusal = call_service(
        lambda: start_paypal_payment(
            bill,
            return_url=url_for("bills.paypal_return", bill_no=bill.bill_no),
            cancel_url=url_for("bills.paypal_cancel", bill_no=bill.bill_no),
            today=today_in_japan(),
        )
    )
    if refusal is not None:
        return _done(bill, error=refusal.message)
    return redirect_to(approval_url)


@bp.get("/<bill_no>/pay/paypal/return")
@roles_required(*BILL_PAYERS)
@writes_on_get  # the payment is captured and applied when the customer comes back
def paypal_return(bill_no: str):
    """PayPal sends the customer back here after approval; a reload captures nothing twice."""
    bill = _load_bill(bill_no)
    settlement, refusal = call_service(
        lambda: complete_paypal_payment(
            bill, request.args.get("approval", ""), utc_now(), current_client()
        )
    )
    if refusal is not None:
        flash(refusal.message, "error")
    else:
        flash(_payment_message(bill, settlement.outcome), "success")
    return redirect(url_for("bills.detail", bill_no=bill.bill_no))


@bp.get("/<bill_no>/pay/paypal/cancel")
@roles_required(*BILL_PAYERS)
def paypal_cancel(bill_no: str):
    bill = _load_bill(bill_no)
    flash("PayPalでのお支払を中止しました。ご請求はご入金待ちのままです。", "info")
    return redirect(url_for("bills.detail", bill_no=bill.bill_no))


@bp.post("/<bill_no>/pay/convenience-store")
@roles_required(*BILL_PAYERS)
def pay_convenience_store(bill_no: str):
    def issue(bill: Bill) -> str:
        slip = issue_store_payment(bill, today_in_japan())
        return f"お支払番号 {slip.payment_number} を発行しました。"

    return _act(_load_bill(bill_no), issue)


@bp.post("/<bill_no>/transfer-notice")
@roles_required(*BILL_PAYERS)
def transfer_notice(bill_no: str):
    form = TransferNoticeForm()

    def notify(bill: Bill) -> str:
        # Called once the form is valid: InputRequired saw both.
        assert form.transferred_on.data is not None and form.amount.data is not None
        record_transfer_notice(
            bill,
            current_user,
            transferred_on=form.transferred_on.data,
            payer_name=form.payer_name.data,
            amount=form.amount.data,
            bank_name=form.bank_name.data,
            today=today_in_japan(),
        )
        return "振込連絡を受け付けました。入金を確認次第、反映します。"

    return _act_with_form(_load_bill(bill_no), form, notify, notice_form=form)


@bp.get("/<bill_no>/cancel")
@roles_required(*BILL_PAYERS)
def confirm_cancel(bill_no: str):
    """The confirmation before お申込の取消 (inline with htmx, a page of its own without)."""
    return _render_bill(_load_bill(bill_no), confirming_cancel=True)


@bp.post("/<bill_no>/cancel")
@roles_required(*BILL_PAYERS)
def cancel(bill_no: str):
    def cancel_it(bill: Bill) -> str:
        cancel_bill(bill, utc_now(), current_user, current_client())
        return "お申込を取り消しました。ご契約の内容は変わりません。"

    return _act(_load_bill(bill_no), cancel_it)


@bp.post("/<bill_no>/resend-mail")
@roles_required(*BILL_PAYERS)
def resend_mail(bill_no: str):
    def resend(bill: Bill) -> str:
        mail = resend_bill_mail(bill, utc_now())
        return f"ご請求メールを再送信しました({mail.recipients})。"

    return _act(_load_bill(bill_no), resend)
