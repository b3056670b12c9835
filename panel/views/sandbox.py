"""The sandbox gateway's own pages: what PayPal, the card company's 3-D Secure page and the
provider's direct-debit bank-account form show the customer, played by the panel.

Registered only when the app runs with the sandbox gateway."""

from flask import Blueprint, abort, redirect, render_template, request

from panel.forms.direct_debit import BankAccountForm
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


def _bank_account_request(value: str) -> dict:
    try:
        return sandbox_gateway().read_bank_account_request(value)
    except PaymentRefused:
        abort(400)


def _bank_account_page(form: BankAccountForm, request_token: str):
    return render_template(
        "sandbox/bank_account.html",
        form=form,
        request_token=request_token,
        cancel_url=_bank_account_request(request_token)["cancel_url"],
        test_accounts=sandbox_gateway().test_bank_accounts,
    )


@bp.get("/direct-debit")
def bank_account_form():
    """The provider's form where the customer registers the bank account for 口座振替."""
    request_token = request.args.get("request", "")
    _bank_account_request(request_token)
    return _bank_account_page(BankAccountForm(formdata=None), request_token)


@bp.post("/direct-debit")
def register_bank_account():
    request_token = request.form.get("request", "")
    registration = _bank_account_request(request_token)
    form = BankAccountForm()
    if not form.validate():
        return _bank_account_page(form, request_token)
    back = sandbox_gateway().register_bank_account(
        registration,
        bank_name=form.bank_name.data,
        branch_name=form.branch_name.data,
        account_type=form.account_type.data,
        account_number=form.account_number.data,
        holder_kana=form.holder_kana.data,
    )
    return redirect(back, 303)
