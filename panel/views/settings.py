"""Account settings: member details (会員登録情報変更)."""

from flask import Blueprint, flash, url_for
from flask_login import current_user

from panel.forms.settings import ProfileForm
from panel.htmx import redirect_to, render_page_or_partial
from panel.models import Role
from panel.services.profile import update_profile
from panel.views.permissions import roles_required
from panel.views.requests import current_client
from panel.views.responses import submit_form

bp = Blueprint("settings", __name__, url_prefix="/settings")

#: Member details are the account holder's: only the owner sees or changes them.
PROFILE_EDITORS = (Role.OWNER,)


@bp.route("/profile", methods=["GET", "POST"])
@roles_required(*PROFILE_EDITORS)
def profile():
    customer = current_user.customer
    form = ProfileForm(
        data={
            "name": customer.name,
            "contact_name": customer.contact_name or "",
            "contract_email": customer.contract_email,
            "sub_email": customer.sub_email or "",
            "notify_40_days_before": "yes" if customer.notify_40_days_before else "no",
            "name_kana": customer.name_kana or "",
            "phone": customer.phone or "",
            "postal_code": customer.postal_code or "",
            "postal_address": customer.postal_address or "",
        }
    )
    updated = submit_form(
        form,
        lambda: update_profile(
            customer,
            name=form.name.data,
            contract_email=form.contract_email.data,
            sub_email=form.sub_email.data,
            notify_40_days_before=form.notify_40_days_before.data == "yes",
            by=current_user,
            client=current_client(),
            contact_name=form.contact_name.data,
            name_kana=form.name_kana.data,
            phone=form.phone.data,
            postal_code=form.postal_code.data,
            postal_address=form.postal_address.data,
        ),
    )
    if updated:
        flash("会員登録情報を変更しました。", "success")
        return redirect_to(url_for("settings.profile"))
    return render_page_or_partial("settings/profile.html", "settings/_profile_form.html", form=form)
