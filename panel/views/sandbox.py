"""The sandbox gateway's own pages: what PayPal and the card company's 3-D Secure page show the
customer, played by the panel.

Registered only when the app runs with the sandbox gateway."""

from flask import Blueprint, abort, redirect, render_template, request

from panel.gateways import PaymentRefused
from panel.gateways.sandbox import sandbox_gateway

bp = Blueprint("sandbox", __name__, url_prefix="/sandbox")


def _order(value: str) -> dict:
    try:
        return sandbox_gateway().read_paypal_order(value)
    except PaymentRefused:
        abort(400)


@bp.get("/paypal")
def paypal_approval():
    order = request.args.get("order", "")
    return render_template("sandbox/paypal.html", order=_order(order), order_token=order)


@bp.post("/paypal")
def paypal_approve():
    order = _order(request.form.get("order", ""))
    return redirect(sandbox_gateway().approve_paypal_order(order), 303)


@bp.get("/3ds/<challenge>")
def challenge(challenge: str):
    """The card company's page where the cardholder authenticates (EMV 3-D Secure)."""
    charge = sandbox_gateway().read_challenge(challenge)
    if charge is None:
        abort(404)
    return render_template("sandbox/challenge.html", charge=charge)


@bp.post("/3ds/<challenge>")
def complete_challenge(challenge: str):
    gateway = sandbox_gateway()
    if gateway.read_challenge(challenge) is None:
        abort(404)
    back = gateway.complete_challenge(challenge, request.form.get("answer") == "authenticate")
    if back is None:  # already answered, or cancelled by the shop: the page says so
        return redirect(request.path, 303)
    return redirect(back, 303)
