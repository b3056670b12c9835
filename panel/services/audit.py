"""Writing the audit log. Every security-relevant service records its event through here."""

from dataclasses import dataclass
from datetime import datetime

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from panel.extensions import db
from panel.models import AuditEvent, Customer, StaffMember, User
from panel.models.types import utc_now

EVENTS_PER_PAGE = 30


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
    staff: StaffMember | None = None,
    detail: str = "",
    at: datetime | None = None,
) -> AuditEvent:
    """Add one audit event to the current transaction: it is kept only if the change is.
    `staff` is the staff member who acted (in the staff console, or looking at the customer's
    panel); `at` is when it happened (default: now)."""
    event = AuditEvent(
        occurred_at=at or utc_now(),
        action=action,
        customer_id=customer.id if customer else (user.customer_id if user else None),
        user_id=user.id if user else None,
        staff_member_id=staff.id if staff else None,
        detail=detail,
        ip_address=client.ip_address,
        user_agent=(client.user_agent or "")[:400] or None,
    )
    db.session.add(event)
    return event


def customer_events(customer: Customer, page: int) -> Pagination:
    """The account's audit log, newest first, a page at a time."""
    return db.paginate(
        select(AuditEvent)
        .options(selectinload(AuditEvent.user), selectinload(AuditEvent.staff_member))
        .where(AuditEvent.customer_id == customer.id)
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc()),
        page=page,
        per_page=EVENTS_PER_PAGE,
        error_out=False,
    )
