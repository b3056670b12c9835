"""The payment provider's webhook: signed notifications that money arrived."""

from flask import Blueprint, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from panel.extensions import csrf
from panel.gateways import InvalidNotification, payment_gateway
from panel.models.types import utc_now
from panel.services.payments import receive_notification
from panel.transactions import call_service
from panel.views.requests import current_client

bp = Blueprint("payments", __name__, url_prefix="/payments")

#: A notification is a small JSON document; anything larger is not one.
MAX_NOTIFICATION_BYTES = 64 * 1024


@bp.post("/notifications")
@csrf.exempt  # the provider signs its notifications instead (HMAC, checked below)
def notifications():
    gateway = payment_gateway()
    # Refused before a byte of the body is read: unsigned, or larger than a notification can
    # be (by its Content-Length, or as it is read when it has none).
    if not request.headers.get(gateway.signature_header):
        return jsonify(error="missing signature"), 400
    request.max_content_length = MAX_NOTIFICATION_BYTES
    try:
        notification = gateway.read_notification(request.get_data(), request.headers, utc_now())
    except InvalidNotification as invalid:
        return jsonify(error=str(invalid)), 400
    except RequestEntityTooLarge:
        return jsonify(error="too large"), 413
    outcome, refusal = call_service(
        lambda: receive_notification(notification, gateway.name, utc_now(), current_client())
    )
    if refusal is not None:  # nothing was kept; the provider retries
        return jsonify(error="conflict, retry"), 409
    # Success whatever the outcome: the money is recorded, and a provider retries non-2xx.
    return jsonify(result=outcome.value)
