"""The staff console's one blueprint, `/staff/...`, and its navigation; its views are in the
modules beside."""

from flask import Blueprint

from panel.models import StaffRole
from panel.services.staff.accounts import CONFIRMS_PAYMENTS, MANAGES_STAFF
from panel.views.staff.session import current_staff_session

bp = Blueprint("staff", __name__, url_prefix="/staff")

#: endpoint, label, and the roles that may open the page
STAFF_NAVIGATION = (
    ("staff.search", "顧客検索", tuple(StaffRole)),
    ("staff.payments", "入金確認", CONFIRMS_PAYMENTS),
    ("staff.flagged", "確認待ちの入金", CONFIRMS_PAYMENTS),
    ("staff.paper_invoices", "紙面の請求書", tuple(StaffRole)),
    ("staff.mail", "メール", tuple(StaffRole)),
    ("staff.members", "スタッフ管理", MANAGES_STAFF),
)


@bp.context_processor
def _staff_frame():
    staff_session = current_staff_session()
    if staff_session is None:
        return {"staff_member": None, "staff_navigation": []}
    member = staff_session.staff_member
    return {
        "staff_member": member,
        "staff_navigation": [
            (endpoint, label) for endpoint, label, roles in STAFF_NAVIGATION if member.role in roles
        ],
    }
