"""請求書/残高: the account balance (アカウント残高, 現在利用できる金額), its ledger, deposits
(入金) and the monthly statements (ご利用明細書, PDF).

The owner and billing deposit; read-only users look; the technical role sees no money."""

from flask import Blueprint, abort, flash, request, url_for
from flask_login import current_user
from sqlalchemy import select

from panel.dates import today_in_japan
from panel.extensions import db
from panel.forms.balance import DepositForm
from panel.htmx import is_partial_request, redirect_to, render_page_or_partial
from panel.models import BalanceStatement, Bill, Role
from panel.models.bills import PaymentMethod
from panel.services.balance import MAX_DEPOSIT, MIN_DEPOSIT, balance_page, start_deposit
from panel.services.billing import new_application_token
from panel.services.month_end import statement_pdf
from panel.views.permissions import roles_required
from panel.views.responses import pdf_response, submit_form

bp = Blueprint("balance", __name__, url_prefix="/balance")

#: The balance is money: the technical role does not see it.
BALANCE_READERS = (Role.OWNER, Role.BILLING, Role.READ_ONLY)
#: Who may deposit.
BALANCE_PAYERS = (Role.OWNER, Role.BILLING)


def _deposit_form() -> DepositForm:
    return DepositForm(
        formdata=None,
        data={
            "method": PaymentMethod.CARD,
            "application_token": new_application_token(current_user.customer),
        },
    )


def _page(deposit_form: DepositForm | None = None, partial: str = "balance/_ledger.html"):
    page = request.args.get("page", 1, type=int)  # a page number, by the request guard
    return render_page_or_partial(
        "balance/index.html",
        partial,
        balance_page=balance_page(current_user.customer, page),
        customer=current_user.customer,
        deposit_form=deposit_form or _deposit_form(),
        may_deposit=current_user.role in BALANCE_PAYERS,
        min_deposit=MIN_DEPOSIT,
        max_deposit=MAX_DEPOSIT,
    )


@bp.get("")
@roles_required(*BALANCE_READERS)
def index():
    return _page()


@bp.post("/deposit")
@roles_required(*BALANCE_PAYERS)
def deposit():
    form = DepositForm()

    def deposit_it() -> Bill:
        assert form.amount.data is not None, "called once the form is valid (InputRequired)"
        return start_deposit(
            current_user.customer,
            form.amount.data,
            form.method.data,
            form.application_token.data,
            today_in_japan(),
        )

    bill = submit_form(form, deposit_it)
    if bill:
        if bill.payment_method == PaymentMethod.CARD:
            flash(
                "入金のお申込を受け付けました。続けてクレジットカードでお支払いください。",
                "success",
            )
        else:
            flash(
                "入金のお申込を受け付けました。お支払期限日までにお振込みください。"
                "入金を確認後、アカウント残高に反映します。",
                "success",
            )
        return redirect_to(url_for("bills.detail", bill_no=bill.bill_no))
    if not is_partial_request():
        return _page(deposit_form=form)
    return _page(deposit_form=form, partial="balance/_deposit.html")


@bp.get("/statements/<int:statement_id>.pdf")
@roles_required(*BALANCE_READERS)
def statement(statement_id: int):
    found = db.session.scalar(
        select(BalanceStatement).where(
            BalanceStatement.id == statement_id,
            BalanceStatement.customer_id == current_user.customer_id,
        )
    )
    if found is None:
        abort(404)
    stamp = f"{found.month:%Y%m}"
    return pdf_response(
        statement_pdf(found, today_in_japan()),
        f"statement-{stamp}.pdf",
        f"ご利用明細書_{stamp}.pdf",
    )
