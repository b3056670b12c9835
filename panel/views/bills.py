"""お支払・ご請求明細: a bill's details."""

from flask import Blueprint, abort, current_app, render_template
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from panel.extensions import db
from panel.models import Bill, Role
from panel.services.billing import payment_instructions
from panel.views import roles_required

bp = Blueprint("bills", __name__, url_prefix="/bills")

#: Bills are money: the technical role does not see them.
BILL_READERS = (Role.OWNER, Role.BILLING, Role.READ_ONLY)


@bp.get("/<bill_no>")
@roles_required(*BILL_READERS)
def detail(bill_no: str):
    bill = db.session.scalar(
        select(Bill)
        .options(selectinload(Bill.lines))
        .where(Bill.bill_no == bill_no, Bill.customer_id == current_user.customer_id)
    )
    if bill is None:
        abort(404)
    return render_template(
        "bills/detail.html",
        bill=bill,
        instructions=payment_instructions(bill, current_app.config["BANK_TRANSFER_ACCOUNT"]),
    )
