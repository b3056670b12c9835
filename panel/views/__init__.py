"""Blueprints: registered here, each view one unit of work (`panel.transactions`)."""

from flask import Flask

from panel.transactions import unit_of_work


def register_views(app: Flask) -> None:
    from panel.views import (
        auth,
        auto_renewal,
        balance,
        bills,
        dashboard,
        direct_debit,
        domains,
        payments,
        renewal,
        sandbox,
        security,
        settings,
        staff,
        users,
    )
    from panel.views.headers import register_security_headers
    from panel.views.navigation import register_navigation

    auth.register_login_manager()
    for blueprint in (
        auth.bp,
        dashboard.bp,
        renewal.bp,
        auto_renewal.bp,
        domains.bp,
        bills.bp,
        balance.bp,
        direct_debit.bp,
        settings.bp,
        security.bp,
        users.bp,
        payments.bp,
        staff.bp,
    ):
        app.register_blueprint(blueprint)
    if app.config["PAYMENT_GATEWAY"] == "sandbox":
        app.register_blueprint(sandbox.bp)
    for endpoint, view in app.view_functions.items():
        if endpoint != "static":
            app.view_functions[endpoint] = unit_of_work(view)
    register_navigation(app)
    register_security_headers(app)
    staff.register_staff_session(app)
