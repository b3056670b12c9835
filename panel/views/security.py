"""セキュリティ設定 (the owner's: password, two-factor login, login IP restriction, audit log)
and ログイン設定 (a sub-user's own password and two-factor login)."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from panel.database import writes_on_get
from panel.extensions import db
from panel.forms.security import (
    AllowedNetworkForm,
    CodeForm,
    IdentityForm,
    IpRestrictionForm,
    PasswordChangeForm,
)
from panel.htmx import redirect_to
from panel.models import AllowedNetwork, Role
from panel.models.types import utc_now
from panel.services import auth as auth_service
from panel.services import two_factor
from panel.services.audit import customer_events
from panel.services.login_addresses import (
    add_allowed_network,
    remove_allowed_network,
    set_login_ip_restriction,
)
from panel.views.permissions import roles_required, step_up_required
from panel.views.requests import current_client, same_site_path
from panel.views.responses import change_and_go_back, submit_form

bp = Blueprint("security", __name__, url_prefix="/settings")

#: The login address list and the audit log guard the whole account: the owner's.
ACCOUNT_GUARDS = (Role.OWNER,)
#: Everyone else keeps their own password and two-factor login on ログイン設定.
SUB_USERS = (Role.BILLING, Role.TECHNICAL, Role.READ_ONLY)


def own_login_page() -> str:
    """Where the user's own password and two-factor login are: the owner's security page, or
    a sub-user's login settings."""
    return url_for("security.index" if current_user.is_owner else "security.own_login")


@bp.context_processor
def _own_login_page():
    return {"own_login_page": own_login_page()}


def _identity_form(prefix: str = "") -> IdentityForm:
    form = IdentityForm(prefix=prefix)
    if not current_user.has_two_factor:
        del form.code
    return form


def _code(form: IdentityForm) -> str | None:
    return form.code.data if "code" in form else None


def _render_page(**forms):
    """The page with the user's own login settings (and for the owner, the account's), with
    `forms` in place of fresh ones (a form that failed shows its errors)."""
    user = current_user
    template = "security/own_login.html"
    context: dict[str, object] = {
        "password_form": PasswordChangeForm(prefix="password"),
        "disable_form": _identity_form("disable"),
        "recovery_form": _identity_form("recovery"),
        "remaining_codes": two_factor.remaining_recovery_codes(user)
        if user.has_two_factor
        else None,
    }
    if user.is_owner:
        template = "security/index.html"
        context.update(
            network_form=AllowedNetworkForm(prefix="network"),
            restriction_form=IpRestrictionForm(),
            events=customer_events(user.customer, request.args.get("page", 1, type=int)),
            client_address=current_client().ip_address,
        )
    return render_template(template, **context | forms)


@bp.get("/security")
@roles_required(*ACCOUNT_GUARDS)
@step_up_required
def index():
    return _render_page()


@bp.get("/login")
@login_required
@step_up_required
def own_login():
    if current_user.is_owner:
        return redirect(url_for("security.index"))
    return _render_page()


@bp.route("/confirm", methods=["GET", "POST"])
@login_required
def confirm():
    """The step-up: the password (and a code) again before the account's guards change."""
    form = _identity_form()
    confirmed = submit_form(
        form,
        lambda: two_factor.confirm_identity(
            current_user, form.password.data, _code(form), current_client(), utc_now()
        ),
    )
    if confirmed:
        return redirect_to(same_site_path(request.args.get("next")) or own_login_page())
    return render_template("security/confirm.html", form=form)


@bp.post("/password")
@login_required
@step_up_required
def change_password():
    form = PasswordChangeForm(prefix="password")
    changed = submit_form(
        form,
        lambda: auth_service.change_password(
            current_user,
            form.current_password.data,
            form.new_password.data,
            current_client(),
            utc_now(),
        ),
    )
    if changed:
        flash("パスワードを変更しました。ほかの端末のログインは終了しました。", "success")
        return redirect(own_login_page())
    return _render_page(password_form=form)


@bp.route("/two-factor", methods=["GET", "POST"])
@login_required
@step_up_required
@writes_on_get  # the secret being enrolled is kept on the login session
def enable_two_factor():
    """Enrolment: scan the QR code (or type the secret), then confirm one code."""
    if current_user.has_two_factor:
        flash("二要素認証は既に有効です。", "info")
        return redirect(own_login_page())
    form = CodeForm()
    codes = submit_form(
        form,
        lambda: two_factor.enable_two_factor(
            current_user, form.code.data, current_client(), utc_now()
        ),
    )
    if codes:
        return render_template("security/recovery_codes.html", codes=codes, enabled=True)
    secret = two_factor.start_enrolment(current_user)
    uri = two_factor.provisioning_uri(current_user, secret)
    return render_template(
        "security/two_factor.html",
        form=form,
        qr_code=two_factor.qr_code_svg(uri),
        secret=two_factor.grouped_secret(secret),
    )


@bp.post("/two-factor/disable")
@login_required
def disable_two_factor():
    """Needs the password and a code in the form itself, whatever the step-up."""
    form = _identity_form("disable")
    disabled = submit_form(
        form,
        lambda: two_factor.disable_two_factor(
            current_user, form.password.data, _code(form), current_client(), utc_now()
        ),
    )
    if disabled:
        flash("二要素認証を無効にしました。", "success")
        return redirect(own_login_page())
    return _render_page(disable_form=form)


@bp.post("/two-factor/recovery-codes")
@login_required
def replace_recovery_codes():
    form = _identity_form("recovery")
    codes = submit_form(
        form,
        lambda: two_factor.replace_recovery_codes(
            current_user, form.password.data, _code(form), current_client(), utc_now()
        ),
    )
    if codes:
        return render_template("security/recovery_codes.html", codes=codes, enabled=False)
    return _render_page(recovery_form=form)


@bp.post("/login-addresses")
@roles_required(*ACCOUNT_GUARDS)
@step_up_required
def add_login_address():
    form = AllowedNetworkForm(prefix="network")
    added = submit_form(
        form,
        lambda: add_allowed_network(
            current_user.customer,
            form.address.data,
            form.label.data,
            by=current_user,
            client=current_client(),
        ),
    )
    if added:
        flash("許可するIPアドレスを追加しました。", "success")
        return redirect(url_for("security.index"))
    return _render_page(network_form=form)


@bp.post("/login-addresses/<int:network_id>/delete")
@roles_required(*ACCOUNT_GUARDS)
@step_up_required
def remove_login_address(network_id: int):
    rule = db.session.get(AllowedNetwork, network_id)
    if rule is None or rule.customer_id != current_user.customer_id:
        abort(404)
    return change_and_go_back(
        lambda: remove_allowed_network(
            current_user.customer, rule, by=current_user, client=current_client()
        ),
        "許可するIPアドレスを削除しました。",
        url_for("security.index"),
    )


@bp.post("/login-addresses/restriction")
@roles_required(*ACCOUNT_GUARDS)
@step_up_required
def login_ip_restriction():
    form = IpRestrictionForm()
    if not form.validate_on_submit():
        abort(400)
    restricted = form.restricted.data == "on"
    return change_and_go_back(
        lambda: set_login_ip_restriction(
            current_user.customer, restricted, by=current_user, client=current_client()
        ),
        "ログインのIP制限を有効にしました。"
        if restricted
        else "ログインのIP制限を無効にしました。",
        url_for("security.index"),
    )
