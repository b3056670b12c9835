"""スタッフ管理 (管理者): add staff logins, disable them, reset their two-factor login."""

from flask import abort, flash, redirect, render_template, url_for

from panel.extensions import db
from panel.forms.staff import StaffMemberForm
from panel.models import StaffMember
from panel.models.types import utc_now
from panel.services.staff.accounts import (
    MANAGES_STAFF,
    add_staff_member,
    disable_staff_member,
    reset_staff_two_factor,
    staff_members,
)
from panel.views.requests import current_client
from panel.views.responses import change_and_go_back, submit_form
from panel.views.staff.blueprint import bp
from panel.views.staff.session import current_staff, staff_required


def _render_page(form: StaffMemberForm | None = None, status: int = 200):
    return render_template(
        "staff/members.html", members=staff_members(), form=form or StaffMemberForm()
    ), status


@bp.get("/members")
@staff_required(*MANAGES_STAFF)
def members():
    return _render_page()


@bp.post("/members")
@staff_required(*MANAGES_STAFF)
def add_member():
    form = StaffMemberForm()
    member = submit_form(
        form,
        lambda: add_staff_member(
            login_id=form.login_id.data,
            name=form.name.data,
            role=form.role.data,
            password=form.password.data,
            by=current_staff(),
            client=current_client(),
        ),
    )
    if member:
        flash(
            f"{member.name}さん({member.login_id})を追加しました。初回ログインで二要素認証を"
            "設定します。ログインIDと初期パスワードをご本人にお伝えください。",
            "success",
        )
        return redirect(url_for("staff.members"))
    return _render_page(form, 422)


def _load_member(member_id: int) -> StaffMember:
    member = db.session.get(StaffMember, member_id)
    if member is None:
        abort(404)
    return member


@bp.post("/members/<int:member_id>/disable")
@staff_required(*MANAGES_STAFF)
def disable_member(member_id: int):
    member = _load_member(member_id)
    return change_and_go_back(
        lambda: disable_staff_member(
            member, by=current_staff(), client=current_client(), now=utc_now()
        ),
        f"{member.name}さんのログインを無効にしました。",
        url_for("staff.members"),
    )


@bp.post("/members/<int:member_id>/reset-two-factor")
@staff_required(*MANAGES_STAFF)
def reset_two_factor(member_id: int):
    member = _load_member(member_id)
    return change_and_go_back(
        lambda: reset_staff_two_factor(
            member, by=current_staff(), client=current_client(), now=utc_now()
        ),
        f"{member.name}さんの二要素認証をリセットしました。次回のログインで設定し直します。",
        url_for("staff.members"),
    )
