"""The customer panel (ユーザーズパネル)."""

from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from panel import config as panel_config
from panel import database  # noqa: F401  (connection events)
from panel.cli import register_commands
from panel.errors import register_error_handlers
from panel.extensions import csrf, db, login_manager, migrate
from panel.filters import register_filters
from panel.gateways import init_payment_gateway
from panel.htmx import htmx
from panel.request_guards import register_request_guards
from panel.services.auth import FailureThrottle
from panel.services.documents import registration_number_error
from panel.services.staff.search import keep_search_terms_current
from panel.views import register_views

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.config.update(panel_config.from_environment())
    app.config.update(config or {})
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config["SECRET_KEY"] = app.config["SECRET_KEY"] or panel_config.instance_secret_key(
        Path(app.instance_path)
    )
    app.config["PAYMENT_WEBHOOK_SECRET"] = app.config[
        "PAYMENT_WEBHOOK_SECRET"
    ] or panel_config.derived_secret(app.config["SECRET_KEY"], "payment-webhook")
    registration_error = registration_number_error(app.config["ISSUER_REGISTRATION_NUMBER"])
    if registration_error:
        raise RuntimeError(f"ISSUER_REGISTRATION_NUMBER: {registration_error}")
    if app.config["TRUSTED_PROXY_COUNT"]:
        proxies = app.config["TRUSTED_PROXY_COUNT"]
        # Wrapping wsgi_app is how Flask's docs add middleware; mypy sees a method replaced.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies
        )

    # First: its URL checks run before any other extension's, and its ID converter must be
    # in place before the views' routes are added.
    register_request_guards(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS))
    login_manager.init_app(app)
    csrf.init_app(app)
    htmx.init_app(app)
    init_payment_gateway(app)
    app.extensions["failure_throttle"] = FailureThrottle(
        app.config["RATELIMIT_STORAGE_URI"],
        {
            "account": app.config["LOGIN_FAILURES_PER_ACCOUNT"],
            "address": app.config["LOGIN_FAILURES_PER_ADDRESS"],
            "code": app.config["CODE_FAILURES_PER_USER"],
        },
    )
    keep_search_terms_current()
    register_filters(app)
    register_views(app)
    register_error_handlers(app)
    register_commands(app)
    return app
