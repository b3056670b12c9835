"""Money received (お支払), transfer notices (振込連絡) and convenience-store payment slips."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from panel.extensions import Model
from panel.models.bills import Bill, PaymentMethod
from panel.models.staff import StaffMember
from panel.models.types import UtcDateTime, one_of, utc_now


class Resolution(StrEnum):
    """How staff settled money that could not pay its bill."""

    APPLIED = "applied"  #: applied to another bill of the customer (as a payment of its own)
    REFUNDED = "refunded"  #: paid back to the customer
    CREDITED = "credited"  #: put into the customer's account balance (アカウント残高)


#: money that could not pay its bill (settled by staff or not), as each database's queries say
#: it (`~Payment.applied_to_bill` is `= 0` on SQLite, whose planner matches the text)
FLAGGED = {"sqlite": "applied_to_bill = 0", "postgresql": "NOT applied_to_bill"}


class Payment(Model):
    """Money a payment provider (or the bank) reported as received: one row per provider event.

    A payment that could not settle its bill (already paid, cancelled, wrong amount, unknown
    reference) is kept with the reason, for staff to settle: money is never dropped. Staff
    settle it (`resolution`) by applying it to another bill, which records the same money as a
    payment of that bill (provider "staff", event "flagged-<this ID>"), or by refunding it.
    """

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("provider", "provider_event_id"),
        one_of("method", PaymentMethod),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(
            "(review_reason IS NULL) = (applied_to_bill)", name="applied_or_flagged_for_review"
        ),
        one_of("resolution", Resolution),
        CheckConstraint(
            "resolution IS NULL OR NOT applied_to_bill", name="only_flagged_money_is_resolved"
        ),
        CheckConstraint(
            "(resolution IS NULL) = (resolved_at IS NULL)", name="resolved_at_iff_resolved"
        ),
        CheckConstraint(
            "(resolution = 'applied') = (resolved_bill_id IS NOT NULL)",
            name="applied_names_its_bill",
        ),
        # The staff's list of flagged money: a partial index holds only those rows, however
        # many payments paid their bills.
        Index(
            "ix_payments_flagged",
            "id",
            sqlite_where=text(FLAGGED["sqlite"]),
            postgresql_where=text(FLAGGED["postgresql"]),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the payment provider that reported the money ("sandbox", ...)
    provider: Mapped[str] = mapped_column(String(32))
    #: the provider's ID of the event; the same event delivered twice is one payment
    provider_event_id: Mapped[str] = mapped_column(String(100))
    #: the bill the money was for; none when its reference matched no bill
    bill_id: Mapped[int | None] = mapped_column(ForeignKey("bills.id"), index=True)
    #: card, paypal, bank_transfer or convenience_store
    method: Mapped[str] = mapped_column(String(20))
    #: yen received
    amount: Mapped[int]
    #: the reference the money came with (transfer reference, store payment number, order)
    reference: Mapped[str | None] = mapped_column(String(100))
    #: the name the payer gave (bank transfers)
    payer_name: Mapped[str | None] = mapped_column(String(100))
    #: card brand, last four digits and expiry (MM/YY): all that is ever kept of a card
    card_brand: Mapped[str | None] = mapped_column(String(20))
    card_last4: Mapped[str | None] = mapped_column(String(4))
    card_expiry: Mapped[str | None] = mapped_column(String(5))
    #: when the provider says the money arrived
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    #: when the panel recorded it
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    #: true when this money paid its bill
    applied_to_bill: Mapped[bool] = mapped_column(default=False)
    #: why staff must settle this money by hand; none when it paid its bill
    review_reason: Mapped[str | None] = mapped_column(String(200))
    #: what the staff member who confirmed the receipt noted (e.g. why an amount differs)
    staff_note: Mapped[str | None] = mapped_column(String(200))
    #: how staff settled flagged money: applied or refunded; none while it waits
    resolution: Mapped[str | None] = mapped_column(String(16))
    #: when, by whom, and with what note staff settled it
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id"))
    resolution_note: Mapped[str | None] = mapped_column(String(200))
    #: the bill the money was applied to instead (resolution "applied")
    resolved_bill_id: Mapped[int | None] = mapped_column(ForeignKey("bills.id"))

    bill: Mapped[Bill | None] = relationship(foreign_keys=[bill_id])
    resolved_by: Mapped[StaffMember | None] = relationship()
    resolved_bill: Mapped[Bill | None] = relationship(foreign_keys=[resolved_bill_id])


class TransferNotice(Model):
    """A customer's notice that they sent a bank transfer for a bill (振込連絡)."""

    __tablename__ = "transfer_notices"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the bill the transfer pays
    bill_id: Mapped[int] = mapped_column(ForeignKey("bills.id"), index=True)
    #: the user who sent the notice
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: the Japan date of the transfer (振込日)
    transferred_on: Mapped[date]
    #: the name on the transfer (振込名義)
    payer_name: Mapped[str] = mapped_column(String(60))
    #: yen transferred
    amount: Mapped[int]
    #: the bank the money was sent from (振込元金融機関)
    bank_name: Mapped[str] = mapped_column(String(60))
    #: when the notice was sent
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)

    bill: Mapped[Bill] = relationship()


class StorePayment(Model):
    """A convenience-store payment number issued for a bill, and until when it can be paid."""

    __tablename__ = "store_payments"
    __table_args__ = (
        UniqueConstraint("provider", "payment_number"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the bill the number pays
    bill_id: Mapped[int] = mapped_column(ForeignKey("bills.id"), index=True)
    #: the payment provider that issued the number
    provider: Mapped[str] = mapped_column(String(32))
    #: お支払番号, given at the store's till or terminal
    payment_number: Mapped[str] = mapped_column(String(32))
    #: yen to pay at the store (the bill's total when issued, the store fee included)
    amount: Mapped[int]
    #: the last Japan date the store accepts the payment
    expires_on: Mapped[date]
    #: when the number was issued
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)

    bill: Mapped[Bill] = relationship()


class AttemptState(StrEnum):
    PENDING = "pending"  #: written before the gateway call; its outcome is not known yet
    REQUIRES_ACTION = "requires_action"  #: the cardholder is asked to authenticate (3-D Secure)
    SUCCEEDED = "succeeded"  #: the money was taken and applied to the bill
    FAILED = "failed"  #: declined or failed authentication: nothing was taken
    EXPIRED = "expired"  #: abandoned or lost, and cancelled at the gateway: nothing was taken


#: Attempts whose outcome is still open: the bill takes no new attempt while one is.
UNSETTLED_ATTEMPT_STATES = (AttemptState.PENDING, AttemptState.REQUIRES_ACTION)


class PaymentAttempt(Model):
    """Money about to leave through a provider (card charge, PayPal capture), written down and
    committed before the provider is called, so a crash between the two is found and settled
    (`flask payments reconcile`) by asking the provider about the idempotency key."""

    __tablename__ = "payment_attempts"
    __table_args__ = (
        UniqueConstraint("bill_id", "sequence"),
        one_of("method", PaymentMethod),
        one_of("state", AttemptState),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the bill the money pays
    bill_id: Mapped[int] = mapped_column(ForeignKey("bills.id"), index=True)
    #: 1 for the bill's first attempt, then 2, 3, ...
    sequence: Mapped[int]
    #: card or paypal
    method: Mapped[str] = mapped_column(String(20))
    #: yen to take
    amount: Mapped[int]
    #: sent to the provider: the same key never moves money twice
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    #: pending, requires_action, succeeded, failed or expired
    state: Mapped[str] = mapped_column(String(20), default=AttemptState.PENDING, index=True)
    #: the provider's order this attempt captures (PayPal), so a second return finds it
    provider_order_id: Mapped[str | None] = mapped_column(String(100))
    #: where the cardholder authenticates (3-D Secure), while the attempt requires it
    action_url: Mapped[str | None] = mapped_column(String(500))
    #: why it failed, for the customer
    failure_reason: Mapped[str | None] = mapped_column(String(200))
    #: when it was written, before the provider was called
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    #: when its outcome was settled
    settled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    bill: Mapped[Bill] = relationship()

    @property
    def is_unsettled(self) -> bool:
        return self.state in UNSETTLED_ATTEMPT_STATES
