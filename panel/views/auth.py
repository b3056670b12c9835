"""Customer login (password, then a code with two-factor login) and logout."""

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from panel.extensions import db, login_manager
from panel.forms.auth import LoginForm
from panel.forms.security import CodeForm
from panel.htmx import redirect_to
from panel.models import User
from panel.models.types import utc_now
from panel.services import auth as auth_service
from panel.services.two_factor import check_code
from panel.views.requests import current_client, same_site_path
from panel.views.responses import submit_form

bp = Blueprint("auth", __name__)

#: The session key of a login whose password was right and whose code is still to come.
PENDING_LOGIN = "pending_login"
#: How long the code step waits after the password.
PENDING_LOGIN_SECONDS = 5 * 60


def register_login_manager() -> None:
    @login_manager.user_loader
    def _load_user(token):
        # A session ended here for its address is committed with the request.
        return auth_service.load_session_user(token, current_client(), utc_now())

    @login_manager.unauthorized_handler
    def _to_login_page():
        flash("ログインしてください。", "info")
        return redirect_to(url_for("auth.login", next=same_site_path(request.full_path)), 401)


def _log_in(user: User, remember: bool, next_page: str | None):
    # A fresh session: nothing an attacker planted before login survives it.
    session.clear()
    auth_service.start_session(user, current_client(), remember, utc_now())
    login_user(user, remember=remember)
    return redirect(next_page or url_for("dashboard.index"))


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
    form = LoginForm()
    user = submit_form(
        form,
        lambda: auth_service.authenticate(form.login_id.data, form.password.data, current_client()),
    )
    if user:
        next_page = same_site_path(request.args.get("next"))
        if not user.has_two_factor:
            return _log_in(user, form.remember.data, next_page)
        session.clear()
        session[PENDING_LOGIN] = {
            "user_id": user.id,
            "remember": form.remember.data,
            "next": next_page,
            "since": utc_now().timestamp(),
        }
        return redirect(url_for("auth.second_factor"))
    return render_template("auth/login.html", form=form)


def _pending_user() -> User | None:
    """The user whose password was just right, while the code step is still open."""
    pending = session.get(PENDING_LOGIN)
    if not pending or utc_now().timestamp() - pending["since"] > PENDING_LOGIN_SECONDS:
        return None
    user = db.session.get(User, pending["user_id"])
    return user if user is not None and user.is_active and user.has_two_factor else None


@bp.route("/login/code", methods=["GET", "POST"])
def second_factor():
    user = _pending_user()
    if user is None:
        session.pop(PENDING_LOGIN, None)
        flash("もう一度、会員IDとパスワードを入力してください。", "info")
        return redirect(url_for("auth.login"))
    form = CodeForm()
    if submit_form(form, lambda: check_code(user, form.code.data, current_client(), utc_now())):
        # Accepting the code and opening the session are one transaction.
        pending = session[PENDING_LOGIN]
        return _log_in(user, pending["remember"], pending["next"])
    return render_template("auth/code.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    auth_service.end_session(current_user, current_client(), utc_now())
    # Emptied first: Flask-Login leaves its order to delete the remember-me cookie in the session.
    session.clear()
    logout_user()
    flash("ログアウトしました。", "info")
    return redirect(url_for("auth.login"))
