"""Customer search (`/staff/`), the customer page, and impersonation (代理ログイン)."""

from flask import abort, flash, redirect, render_template, request, url_for

from panel.dates import today_in_japan
from panel.extensions import db
from panel.htmx import render_page_or_partial
from panel.models import Customer, StaffRole
from panel.models.types import utc_now
from panel.services.staff.impersonation import (
    IMPERSONATORS,
    end_impersonation,
    owner_to_impersonate,
    start_impersonation,
)
from panel.services.staff.search import customer_overview, search_customers
from panel.transactions import call_service
from panel.views.requests import current_client
from panel.views.staff.blueprint import bp
from panel.views.staff.session import current_staff, signed_in_staff_session, staff_required

#: The longest query read (a member ID, a name, an e-mail address or a domain is shorter).
MAX_QUERY = 100


@bp.get("/")
@staff_required(*StaffRole)
def search():
    """The search box; as staff type, htmx asks for the results alone (debounced)."""
    query = request.args.get("q", "")[:MAX_QUERY]
    hits, more = search_customers(query)
    return render_page_or_partial(
        "staff/search.html", "staff/_results.html", query=query, hits=hits, more=more
    )


def _load_customer(customer_id: int) -> Customer:
    customer = db.session.get(Customer, customer_id)
    if customer is None:
        abort(404)
    return customer


@bp.get("/customers/<int:customer_id>")
@staff_required(*StaffRole)
def customer(customer_id: int):
    found = _load_customer(customer_id)
    return render_template(
        "staff/customer.html",
        overview=customer_overview(found, today_in_japan()),
        may_impersonate=current_staff().role in IMPERSONATORS
        and owner_to_impersonate(found) is not None,
    )


@bp.post("/customers/<int:customer_id>/impersonate")
@staff_required(*IMPERSONATORS)
def impersonate(customer_id: int):
    """Open the customer's own panel, as its owner sees it, read-only."""
    found = _load_customer(customer_id)
    staff_session = signed_in_staff_session()
    _, refusal = call_service(
        lambda: start_impersonation(staff_session, found, current_client(), utc_now())
    )
    if refusal is not None:
        flash(refusal.message, "error")
        return redirect(url_for("staff.customer", customer_id=found.id))
    return redirect(url_for("dashboard.index"))


@bp.post("/impersonation/end", endpoint="end_impersonation")
@staff_required(*StaffRole)
def end_impersonation_view():
    """The banner's 戻る: back to the customer's page in the staff console."""
    staff_session = signed_in_staff_session()
    user = staff_session.impersonated_user
    if user is None:
        return redirect(url_for("staff.search"))
    customer_id = user.customer_id
    end_impersonation(staff_session, current_client(), utc_now())
    flash("代理ログインを終了しました。", "info")
    return redirect(url_for("staff.customer", customer_id=customer_id))
