"""The dashboard: contracts with their status, and bills awaiting payment."""

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from panel.dates import today_in_japan
from panel.services.billing import list_awaiting_bills
from panel.services.contracts import list_contracts
from panel.views.bills import BILL_READERS

bp = Blueprint("dashboard", __name__)


@bp.get("/")
@login_required
def index():
    today = today_in_japan()
    customer = current_user.customer
    return render_template(
        "dashboard/index.html",
        today=today,
        contracts=list_contracts(customer, today),
        awaiting_bills=list_awaiting_bills(customer),
        may_open_bills=current_user.role in BILL_READERS,
    )
