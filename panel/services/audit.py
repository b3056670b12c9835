"""Writing the audit log. Every security-relevant service records its event through here."""

from dataclasses import dataclass
from datetime import datetime

from panel.extensions import db
from panel.models import AuditEvent, Customer, User
from panel.models.types import utc_now


@dataclass(frozen=True)
class Client:
    """Where a request came from, as recorded in the audit log."""

    ip_address: str | None
    user_agent: str | None


def record_event(
    action: str,
    client: Client,
    *,
    customer: Customer | None = None,
    user: User | None = None,
    detail: str = "",
    at: datetime | None = None,
) -> AuditEvent:
    """Add one audit event to the current transaction: it is kept only if the change is.
    `at` is when it happened (default: now)."""
    event = AuditEvent(
        occurred_at=at or utc_now(),
        action=action,
        customer_id=customer.id if customer else (user.customer_id if user else None),
        user_id=user.id if user else None,
        detail=detail,
        ip_address=client.ip_address,
        user_agent=(client.user_agent or "")[:400] or None,
    )
    db.session.add(event)
    return event
