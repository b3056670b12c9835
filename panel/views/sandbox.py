"""The sandbox gateway's own pages: what PayPal shows the customer, played by the panel.

Registered only when the app runs with the sandbox gateway."""

from flask import Blueprint, abort, redirect, render_template, request

from panel.gateways import PaymentRefused, payment_gateway

bp = Blueprint("sandbox", __name__, url_prefix="/sandbox")


def _order(value: str) -> dict:
    try:
        return payment_gateway().read_paypal_order(value)
    except PaymentRefused:
        abort(400)


@bp.get("/paypal")
def paypal_approval():
    order = request.args.get("order", "")
    return render_template("sandbox/paypal.html", order=_order(order), order_token=order)


@bp.post("/paypal")
def paypal_approve():
    order = _order(request.form.get("order", ""))
    return redirect(payment_gateway().approve_paypal_order(order), 303)
