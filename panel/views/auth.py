"""Customer login and logout."""

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from panel.extensions import db, login_manager
from panel.forms.auth import LoginForm
from panel.htmx import redirect_to
from panel.services import auth as auth_service
from panel.services.errors import DomainError
from panel.views import current_client, show_refusal, utc_now

bp = Blueprint("auth", __name__)


def register_login_manager() -> None:
    login_manager.user_loader(lambda token: auth_service.load_session_user(token, utc_now()))

    @login_manager.unauthorized_handler
    def _to_login_page():
        flash("ログインしてください。", "info")
        return redirect_to(url_for("auth.login", next=_next_target(request.full_path)), 401)


def _next_target(candidate: str | None) -> str | None:
    """`candidate` if it is a path on this site, so `next` cannot send users elsewhere."""
    if not candidate:
        return None
    parts = urlsplit(candidate)
    if parts.scheme or parts.netloc or not candidate.startswith("/") or "\\" in candidate:
        return None
    return candidate.rstrip("?") or None


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = auth_service.authenticate(
                form.login_id.data, form.password.data, current_client()
            )
        except DomainError as refusal:
            db.session.commit()  # the failed attempt stays in the audit log
            show_refusal(form, refusal)
        else:
            # A fresh session: nothing an attacker planted before login survives it.
            session.clear()
            auth_service.start_session(user, current_client(), form.remember.data, utc_now())
            login_user(user, remember=form.remember.data)
            db.session.commit()
            return redirect(_next_target(request.args.get("next")) or url_for("dashboard.index"))
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    auth_service.end_session(current_user, current_client(), utc_now())
    db.session.commit()
    logout_user()
    session.clear()
    flash("ログアウトしました。", "info")
    return redirect(url_for("auth.login"))
