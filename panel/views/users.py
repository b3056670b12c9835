"""ユーザー管理: the owner's sub-users and their roles."""

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user

from panel.extensions import db
from panel.forms.users import RoleForm, SubUserForm
from panel.models import Role, User
from panel.models.types import utc_now
from panel.services.users import add_sub_user, change_role, disable_user, enable_user
from panel.views.permissions import roles_required, step_up_required
from panel.views.requests import current_client
from panel.views.responses import change_and_go_back, submit_form

bp = Blueprint("users", __name__, url_prefix="/settings/users")

#: Who may log in to the account, and with what role, is the owner's to decide.
USER_MANAGERS = (Role.OWNER,)


def _render_page(form: SubUserForm | None = None, status: int = 200):
    return render_template(
        "users/index.html",
        users=current_user.customer.users,
        form=form or SubUserForm(),
        role_form=RoleForm,
    ), status


def _load_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None or user.customer_id != current_user.customer_id:
        abort(404)
    return user


@bp.get("")
@roles_required(*USER_MANAGERS)
@step_up_required
def index():
    return _render_page()


@bp.post("")
@roles_required(*USER_MANAGERS)
@step_up_required
def add():
    form = SubUserForm()
    user = submit_form(
        form,
        lambda: add_sub_user(
            current_user.customer,
            login_id=form.login_id.data,
            email=form.email.data,
            role=form.role.data,
            password=form.password.data,
            by=current_user,
            client=current_client(),
        ),
    )
    if user:
        flash(
            f"ユーザー {user.login_id} を追加しました。"
            "ログインIDと初期パスワードをご本人にお伝えください。",
            "success",
        )
        return redirect(url_for("users.index"))
    return _render_page(form)


@bp.post("/<int:user_id>/role")
@roles_required(*USER_MANAGERS)
@step_up_required
def role(user_id: int):
    user = _load_user(user_id)
    form = RoleForm(prefix=f"user-{user.id}")  # as the row on the page names it
    if not form.validate_on_submit():
        abort(400)
    return change_and_go_back(
        lambda: change_role(user, form.role.data, by=current_user, client=current_client()),
        f"{user.login_id} の役割を変更しました。",
        url_for("users.index"),
    )


@bp.post("/<int:user_id>/disable")
@roles_required(*USER_MANAGERS)
@step_up_required
def disable(user_id: int):
    user = _load_user(user_id)
    return change_and_go_back(
        lambda: disable_user(user, by=current_user, client=current_client(), now=utc_now()),
        f"{user.login_id} を無効にしました。このユーザーはログインできません。",
        url_for("users.index"),
    )


@bp.post("/<int:user_id>/enable")
@roles_required(*USER_MANAGERS)
@step_up_required
def enable(user_id: int):
    user = _load_user(user_id)
    return change_and_go_back(
        lambda: enable_user(user, by=current_user, client=current_client()),
        f"{user.login_id} を再開しました。",
        url_for("users.index"),
    )
