"""What the sandbox gateway remembers, as a real provider does on its side: every charge by its
idempotency key. It lives in the panel's database only because the sandbox has no other; it is
written on a connection of its own, so it survives whatever the panel's transaction does."""

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from panel.extensions import Model
from panel.models.types import UtcDateTime, utc_now


class SandboxCharge(Model):
    """One charge (card), capture (PayPal) or collection (direct debit) the sandbox received."""

    __tablename__ = "sandbox_charges"

    #: the idempotency key the panel sent: the same key is the same charge
    idempotency_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    #: card, paypal, debit (口座振替), or unknown (a key cancelled before any charge arrived)
    kind: Mapped[str] = mapped_column(String(10))
    #: the panel's reference for what is paid (the bill No.)
    order_ref: Mapped[str] = mapped_column(String(40))
    #: yen
    amount: Mapped[int]
    #: succeeded, requires_action, declined or cancelled
    status: Mapped[str] = mapped_column(String(20))
    #: the charge's event ID, as the panel records it with the payment
    event_id: Mapped[str] = mapped_column(String(40), unique=True)
    #: the card's brand, last four digits and MM/YY (cards)
    card_brand: Mapped[str | None] = mapped_column(String(20))
    card_last4: Mapped[str | None] = mapped_column(String(4))
    card_expiry: Mapped[str | None] = mapped_column(String(5))
    #: the PayPal order captured; an order is captured once
    paypal_order_id: Mapped[str | None] = mapped_column(String(40), unique=True)
    #: the 3-D Secure challenge's ID, while or after the cardholder is asked to authenticate
    challenge: Mapped[str | None] = mapped_column(String(40), unique=True)
    #: a test card whose authentication always fails
    fails_authentication: Mapped[bool] = mapped_column(default=False)
    #: where the challenge page sends the cardholder back to
    return_url: Mapped[str | None] = mapped_column(String(500))
    #: why it was declined, for the customer
    decline_reason: Mapped[str | None] = mapped_column(String(200))
    #: when the charge arrived
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
