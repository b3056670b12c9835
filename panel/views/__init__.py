"""Blueprints, and the helpers every view shares."""

from datetime import UTC, datetime
from functools import wraps
from urllib.parse import quote

from flask import Flask, Response, abort, request
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from panel.models import Role
from panel.services.audit import Client
from panel.services.errors import DomainError


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


def pdf_response(content: bytes, ascii_name: str, name: str) -> Response:
    """A PDF shown in the browser and saved as `name` (請求書_20261121-0001.pdf), or as
    `ascii_name` by clients that cannot read UTF-8 file names; never cached."""
    response = Response(content, mimetype="application/pdf")
    response.headers["Content-Disposition"] = (
        f"inline; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def utc_now() -> datetime:
    return datetime.now(UTC)


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


def register_views(app: Flask) -> None:
    from panel.views import auth, bills, dashboard, payments, renewal, sandbox, settings

    auth.register_login_manager()
    for blueprint in (auth.bp, dashboard.bp, renewal.bp, bills.bp, settings.bp, payments.bp):
        app.register_blueprint(blueprint)
    if app.config["PAYMENT_GATEWAY"] == "sandbox":
        app.register_blueprint(sandbox.bp)

    #: The navigation: endpoint, label, and the roles that may open the page.
    navigation = (
        ("dashboard.index", "ダッシュボード", tuple(Role)),
        ("renewal.index", "ご契約更新・プラン変更", tuple(Role)),
        ("bills.index", "お支払・ご請求明細", bills.BILL_READERS),
        ("settings.profile", "会員登録情報変更", settings.PROFILE_EDITORS),
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
    def _keep_signed_in_pages_out_of_caches(response):
        if current_user and current_user.is_authenticated:
            response.headers["Cache-Control"] = "no-store"
        return response
