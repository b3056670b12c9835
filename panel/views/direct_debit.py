"""口座振替の登録: the bank account month-end bills are collected from, registered on the payment
gateway's own form. Owners and billing manage it; read-only users look; it is money, so the
technical role does not see it."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from panel.database import writes_on_get
from panel.htmx import redirect_to
from panel.models import Role
from panel.models.types import utc_now
from panel.services.direct_debit import (
    complete_registration,
    direct_debit_page,
    remove_registration,
    start_registration,
)
from panel.transactions import call_service
from panel.views.permissions import roles_required
from panel.views.requests import current_client
from panel.views.responses import change_and_go_back

bp = Blueprint("direct_debit", __name__, url_prefix="/settings/direct-debit")

DIRECT_DEBIT_VIEWERS = (Role.OWNER, Role.BILLING, Role.READ_ONLY)
DIRECT_DEBIT_MANAGERS = (Role.OWNER, Role.BILLING)


@bp.get("")
@roles_required(*DIRECT_DEBIT_VIEWERS)
def index():
    return render_template(
        "direct_debit/index.html",
        page=direct_debit_page(current_user.customer),
        may_change=current_user.role in DIRECT_DEBIT_MANAGERS,
    )


@bp.post("")
@roles_required(*DIRECT_DEBIT_MANAGERS)
def start():
    """To the gateway's bank-account form (registering, or replacing the account)."""
    form_url, refusal = call_service(
        lambda: start_registration(
            current_user.customer,
            return_url=url_for("direct_debit.registered", _external=True),
            cancel_url=url_for("direct_debit.index", _external=True),
        )
    )
    if refusal is not None:
        flash(refusal.message, "error")
        return redirect_to(url_for("direct_debit.index"))
    return redirect_to(form_url)


@bp.get("/return")
@roles_required(*DIRECT_DEBIT_MANAGERS)
@writes_on_get  # the account is kept when the customer comes back from the gateway's form
def registered():
    account, refusal = call_service(
        lambda: complete_registration(
            current_user.customer,
            request.args.get("result", ""),
            utc_now(),
            current_user,
            current_client(),
        )
    )
    if refusal is not None:
        flash(refusal.message, "error")
    else:
        flash(f"口座振替の口座を登録しました({account.display})。", "success")
    return redirect(url_for("direct_debit.index"))


@bp.post("/delete")
@roles_required(*DIRECT_DEBIT_MANAGERS)
def delete():
    def remove() -> int:
        return remove_registration(current_user.customer, utc_now(), current_user, current_client())

    return change_and_go_back(
        remove,
        "口座振替の口座の登録を削除しました。月末締めのご請求は銀行振込でお支払いください。",
        url_for("direct_debit.index"),
    )
