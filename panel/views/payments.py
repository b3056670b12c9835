"""The payment provider's webhook: signed notifications that money arrived."""

from flask import Blueprint, jsonify, request

from panel.extensions import csrf
from panel.gateways import InvalidNotification, payment_gateway
from panel.models.types import utc_now
from panel.services.payments import receive_notification
from panel.transactions import call_service
from panel.views.requests import current_client

bp = Blueprint("payments", __name__, url_prefix="/payments")


@bp.post("/notifications")
@csrf.exempt  # the provider signs its notifications instead (HMAC, checked below)
def notifications():
    gateway = payment_gateway()
    try:
        notification = gateway.read_notification(request.get_data(), request.headers, utc_now())
    except InvalidNotification as invalid:
        return jsonify(error=str(invalid)), 400
    outcome, refusal = call_service(
        lambda: receive_notification(notification, gateway.name, utc_now(), current_client())
    )
    if refusal is not None:  # nothing was kept; the provider retries
        return jsonify(error="conflict, retry"), 409
    # Success whatever the outcome: the money is recorded, and a provider retries non-2xx.
    return jsonify(result=outcome.value)
