"""Staff login (`/staff/login`): the password, then a code; at the first login, two-factor
login is set up instead of the code. Logout ends the staff session and its impersonation."""

from flask import current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from panel.database import writes_on_get
from panel.forms.security import CodeForm
from panel.forms.staff import StaffLoginForm
from panel.models import StaffRole, StaffSession
from panel.models.types import utc_now
from panel.services import two_factor
from panel.services.staff.accounts import (
    authenticate_staff,
    end_staff_session,
    enrol_two_factor,
    enrolment_secret,
    give_second_factor,
    pending_login,
)
from panel.views.requests import current_client, same_site_path
from panel.views.responses import submit_form
from panel.views.staff.blueprint import bp
from panel.views.staff.session import (
    STAFF_COOKIE,
    current_staff_session,
    signed_in_staff_session,
    staff_required,
)

#: Told apart from the customer panel's own entry in the authenticator app.
ISSUER_SUFFIX = " スタッフ"


def _next_page() -> str | None:
    path = same_site_path(request.args.get("next"))
    return path if path and path.startswith("/staff/") else None


def _set_cookie(response: BaseResponse, token: str) -> BaseResponse:
    response.set_cookie(
        STAFF_COOKIE,
        token,
        httponly=True,
        samesite="Lax",
        secure=current_app.config["HTTPS"],
    )
    return response


def _pending() -> StaffSession | None:
    token = request.cookies.get(STAFF_COOKIE)
    return pending_login(token, utc_now()) if token else None


def _start_again():
    flash("もう一度、ログインIDとパスワードを入力してください。", "info")
    return redirect(url_for("staff.login"))


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_staff_session() is not None:
        return redirect(url_for("staff.search"))
    form = StaffLoginForm()
    started = submit_form(
        form,
        lambda: authenticate_staff(
            form.login_id.data, form.password.data, current_client(), utc_now()
        ),
    )
    if started:
        staff_session, token = started
        step = "staff.second_factor" if staff_session.staff_member.has_two_factor else "staff.enrol"
        return _set_cookie(redirect(url_for(step, next=_next_page())), token)
    return render_template("staff/login.html", form=form)


@bp.route("/login/code", methods=["GET", "POST"])
def second_factor():
    staff_session = _pending()
    if staff_session is None or not staff_session.staff_member.has_two_factor:
        return _start_again()
    form = CodeForm()
    if submit_form(
        form, lambda: give_second_factor(staff_session, form.code.data, current_client(), utc_now())
    ):
        return redirect(_next_page() or url_for("staff.search"))
    return render_template("staff/code.html", form=form)


@bp.route("/login/two-factor", methods=["GET", "POST"])
@writes_on_get  # the secret being enrolled is kept on the staff session
def enrol():
    """The first login: scan the QR code (or type the key), then confirm one code."""
    staff_session = _pending()
    if staff_session is None or staff_session.staff_member.has_two_factor:
        return _start_again()
    form = CodeForm()
    if submit_form(
        form, lambda: enrol_two_factor(staff_session, form.code.data, current_client(), utc_now())
    ):
        flash("二要素認証を設定しました。次回からは確認コードでログインします。", "success")
        return redirect(_next_page() or url_for("staff.search"))
    secret = enrolment_secret(staff_session)
    member = staff_session.staff_member
    uri = two_factor.provisioning_uri(member, secret, ISSUER_SUFFIX)
    return render_template(
        "staff/enrol.html",
        form=form,
        member=member,
        qr_code=two_factor.qr_code_svg(uri),
        secret=two_factor.grouped_secret(secret),
    )


@bp.post("/logout")
@staff_required(*StaffRole)
def logout():
    staff_session = signed_in_staff_session()
    end_staff_session(staff_session, current_client(), utc_now())
    flash("スタッフコンソールからログアウトしました。", "info")
    response = redirect(url_for("staff.login"))
    response.delete_cookie(STAFF_COOKIE)
    return response
