"""Payment gateways: the interface the panel pays through, and the one the app is set up with.

The panel never talks to a provider except through `PaymentGateway`. The embedded default is
the sandbox (`panel.gateways.sandbox`); a real provider plugs in behind the same methods.
"""

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Protocol

from flask import Flask, current_app
from werkzeug.datastructures import Headers

from panel.refusals import DomainError


@dataclass(frozen=True)
class CardDetails:
    """What the customer typed into the card form. Handed to the gateway and never kept."""

    number: str
    expiry_month: int
    expiry_year: int  #: four digits
    security_code: str


@dataclass(frozen=True)
class CardToken:
    """The gateway's stand-in for a card: all the panel ever holds of one."""

    token: str
    brand: str
    last4: str
    expiry: str  #: MM/YY


@dataclass(frozen=True)
class SavedCard:
    """A card the gateway keeps for charges the merchant starts (auto-renewal): a reusable
    token, and what the panel shows of the card."""

    token: str
    brand: str
    last4: str
    expiry: str  #: MM/YY


@dataclass(frozen=True)
class BankAccount:
    """A bank account registered at the gateway for direct debit (口座振替): a reusable token,
    and what the panel shows of it (the provider's own words: bank, branch, account type and
    the last digits, "三井住友銀行 本店 普通 ****567"). The account number stays with the
    provider."""

    token: str
    display: str


@dataclass(frozen=True)
class Charge:
    """Money the gateway took at once (card, PayPal)."""

    event_id: str
    amount: int
    card: CardToken | None = None


class ChargeStatus(StrEnum):
    """What became of a charge, as the gateway knows it by its idempotency key."""

    SUCCEEDED = "succeeded"  #: the money was taken
    REQUIRES_ACTION = "requires_action"  #: waiting for the cardholder (3-D Secure challenge)
    DECLINED = "declined"  #: refused (card company, failed authentication); nothing taken
    CANCELLED = "cancelled"  #: cancelled before completion; it can never be taken
    NOT_FOUND = "not_found"  #: the gateway never received a charge with this key


@dataclass(frozen=True)
class ChargeOutcome:
    """A charge's state: the money taken, the page where the cardholder must authenticate, or
    why it was declined (a message for the customer)."""

    status: ChargeStatus
    charge: Charge | None = None
    action_url: str | None = None
    decline_reason: str | None = None


@dataclass(frozen=True)
class StoreSlip:
    """A convenience-store payment number and where and until when it can be paid."""

    payment_number: str
    expires_on: date
    stores: tuple[str, ...]


@dataclass(frozen=True)
class Notification:
    """A provider's signed report that money arrived (bank transfer, convenience store)."""

    event_id: str
    method: str
    reference: str
    amount: int
    received_at: datetime
    payer_name: str | None = None


class PaymentRefused(DomainError):
    """The gateway refused a card or a payment; the message is for the customer."""


class InvalidNotification(Exception):
    """A notification that is unsigned, badly signed, stale or malformed."""


class GatewayUnavailable(Exception):
    """The gateway did not answer (timeout, connection lost): what became of the request is
    unknown until it is asked again by the idempotency key."""


class PaymentGateway(Protocol):
    #: recorded with every payment; with the event ID it makes a payment unique
    name: str
    #: the convenience-store chains that accept its payment numbers
    stores: tuple[str, ...]
    #: the request header its notifications are signed in (checked before the body is read)
    signature_header: str

    def tokenise_card(self, card: CardDetails, today: date) -> CardToken:
        """A token for the card, or `PaymentRefused` naming the field that is wrong."""

    def charge_card(
        self, token: str, amount: int, order_ref: str, idempotency_key: str, return_url: str
    ) -> ChargeOutcome:
        """Take `amount` from the card, or ask for 3-D Secure first (the cardholder is sent to
        `action_url` and comes back to `return_url`). The same idempotency key never charges
        twice: it answers with the first charge's outcome."""

    def save_card(self, card: CardDetails, today: date) -> SavedCard:
        """Keep the card at the gateway for later charges, or `PaymentRefused` naming the field
        that is wrong."""

    def charge_saved_card(
        self, card_token: str, amount: int, order_ref: str, idempotency_key: str, today: date
    ) -> ChargeOutcome:
        """Take `amount` from a saved card, without the cardholder (no 3-D Secure): succeeded
        or declined with a reason (a card expired by `today`, the day of the charge, say). The
        same idempotency key never charges twice."""

    def bank_account_form_url(self, customer_ref: str, return_url: str, cancel_url: str) -> str:
        """Where the customer registers a bank account for direct debit, on the provider's own
        form (the panel never sees the account number). The provider sends the customer back
        to `return_url` with the result, or to `cancel_url`."""

    def registered_bank_account(self, result: str, customer_ref: str) -> BankAccount:
        """The bank account registered for `customer_ref`, read from what came back on the
        return (`result`); `PaymentRefused` for a result that is not this customer's."""

    def collect_direct_debit(
        self, account_token: str, amount: int, order_ref: str, idempotency_key: str, day: date
    ) -> ChargeOutcome:
        """Collect `amount` from a registered bank account on `day` (the bill's due date):
        succeeded, or declined with the bank's reason (残高不足, say). The same idempotency key
        never collects twice: it answers with the first collection's outcome."""

    def charge_outcome(self, idempotency_key: str) -> ChargeOutcome:
        """What became of the charge or capture made with this key (`NOT_FOUND` if none)."""

    def cancel_charge(self, idempotency_key: str) -> ChargeOutcome:
        """Make sure the charge with this key is never taken: cancelled unless it already
        succeeded or was declined, whose outcome is then returned."""

    def paypal_approval_url(
        self, amount: int, order_ref: str, return_url: str, cancel_url: str
    ) -> str:
        """Where to send the customer to approve a PayPal payment."""

    def paypal_order_id(self, approval: str) -> str:
        """The order an approval (what came back on the return) is for, or `PaymentRefused`."""

    def capture_paypal(
        self, approval: str, amount: int, order_ref: str, idempotency_key: str
    ) -> ChargeOutcome:
        """Complete the PayPal payment the customer approved; an order is captured once, and
        the same idempotency key answers with the first capture's outcome."""

    def issue_store_payment(self, amount: int, order_ref: str, expires_on: date) -> StoreSlip:
        """A payment number the customer pays at a convenience store."""

    def read_notification(self, body: bytes, headers: Headers, now: datetime) -> Notification:
        """The notification in a webhook request, or `InvalidNotification`."""


def payment_gateway() -> PaymentGateway:
    """The gateway the app was set up with."""
    return current_app.extensions["payment_gateway"]


def init_payment_gateway(app: Flask) -> None:
    name = app.config["PAYMENT_GATEWAY"]
    if name != "sandbox":
        raise RuntimeError(f"unknown PAYMENT_GATEWAY {name!r}; only 'sandbox' is built in")
    from panel.gateways.sandbox import SandboxGateway

    # Typed as the interface, so that mypy checks the sandbox against every method of it.
    gateway: PaymentGateway = SandboxGateway(
        app.config["PAYMENT_WEBHOOK_SECRET"],
        answer_delay=app.config["SANDBOX_ANSWER_DELAY_SECONDS"],
        stop_after_charge=app.config["SANDBOX_STOP_AFTER_CHARGE"],
    )
    app.extensions["payment_gateway"] = gateway
