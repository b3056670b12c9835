"""Blueprints, and the helpers every view shares."""

from functools import wraps
from urllib.parse import quote, urlsplit

from flask import Flask, Response, abort, flash, redirect, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from panel.extensions import db
from panel.htmx import redirect_to
from panel.models import Role
from panel.models.types import utc_now
from panel.services.audit import Client
from panel.services.auth import recently_confirmed
from panel.services.errors import DomainError

#: What the browser may load and do: only this site's own scripts, styles and images (the QR
#: code is inline SVG markup, not an image), no plugins, and no framing by any site.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


def current_client() -> Client:
    """The request's client, for the audit log. `remote_addr` is the proxy-corrected address
    when the operator trusts proxies (ProxyFix), the socket's peer otherwise."""
    return Client(ip_address=request.remote_addr, user_agent=request.user_agent.string)


def show_refusal(form: FlaskForm, refusal: DomainError) -> None:
    """Show a service's refusal next to the field it concerns, or above the form."""
    if refusal.field:
        form[refusal.field].errors.append(refusal.message)
    else:
        form.form_errors.append(refusal.message)


def submit_form(form: FlaskForm, action, *, keep_refused_attempt: bool = False):
    """Once `form` is valid, run `action` (a service call) and commit: its result, or True.
    None when the form is invalid or the service refuses; the refusal is then shown on the form
    and rolled back, unless `keep_refused_attempt`: a wrong password or code is audited (and the
    services refuse such attempts before they change anything else), so that record is kept."""
    if not form.validate_on_submit():
        return None
    try:
        result = action()
    except DomainError as refusal:
        if keep_refused_attempt:
            db.session.commit()
        else:
            db.session.rollback()
        show_refusal(form, refusal)
        return None
    db.session.commit()
    return True if result is None else result


def change_and_go_back(change, done: str, back: str) -> Response:
    """Make a change that a button asks for (no form to fill in), then go back to `back`
    saying what was done, or why it could not be."""
    try:
        change()
    except DomainError as refusal:
        db.session.rollback()
        flash(refusal.message, "error")
    else:
        db.session.commit()
        flash(done, "success")
    return redirect(back)


def pdf_response(content: bytes, ascii_name: str, name: str) -> Response:
    """A PDF shown in the browser and saved as `name` (請求書_20261121-0001.pdf), or as
    `ascii_name` by clients that cannot read UTF-8 file names; never cached."""
    response = Response(content, mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f"inline; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def roles_required(*roles: str):
    """Only logged-in users with one of `roles` may use the view; others get 403."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def same_site_path(url: str | None) -> str | None:
    """The path (and query) of `url` when it is a page of this site, else None: what a `next`
    parameter or a Referer may send the browser back to."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.netloc and parts.netloc != request.host:
        return None
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return None
    return path


def step_up_required(view):
    """The view changes or shows what guards the account: the user must have given their
    password (and code) within the step-up window, or is sent to confirm it and come back."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not recently_confirmed(current_user, utc_now()):
            back = request.full_path if request.method == "GET" else request.referrer
            return redirect_to(url_for("security.confirm", next=same_site_path(back)))
        return view(*args, **kwargs)

    return wrapped


def register_views(app: Flask) -> None:
    from panel.views import (
        auth,
        bills,
        dashboard,
        payments,
        renewal,
        sandbox,
        security,
        settings,
        users,
    )

    auth.register_login_manager()
    for blueprint in (
        auth.bp,
        dashboard.bp,
        renewal.bp,
        bills.bp,
        settings.bp,
        security.bp,
        users.bp,
        payments.bp,
    ):
        app.register_blueprint(blueprint)
    if app.config["PAYMENT_GATEWAY"] == "sandbox":
        app.register_blueprint(sandbox.bp)

    #: The navigation: endpoint, label, and the roles that may open the page.
    navigation = (
        ("dashboard.index", "ダッシュボード", tuple(Role)),
        ("renewal.index", "ご契約更新・プラン変更", tuple(Role)),
        ("bills.index", "お支払・ご請求明細", bills.BILL_READERS),
        ("settings.profile", "会員登録情報変更", settings.PROFILE_EDITORS),
        ("security.index", "セキュリティ設定", security.ACCOUNT_GUARDS),
        ("users.index", "ユーザー管理", users.USER_MANAGERS),
        ("security.own_login", "ログイン設定", security.SUB_USERS),
    )

    @app.context_processor
    def _navigation():
        if not (current_user and current_user.is_authenticated):
            return {"navigation": []}
        return {
            "navigation": [
                (endpoint, label)
                for endpoint, label, roles in navigation
                if current_user.role in roles
            ]
        }

    @app.after_request
    def _security_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Frame-Options", "DENY")  # frame-ancestors for older browsers
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "same-origin"
        if app.config["HTTPS"]:
            headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
        # Signed-in pages show the account: no cache (nor the back button) may keep them.
        if current_user and current_user.is_authenticated:
            headers["Cache-Control"] = "no-store"
        return response
