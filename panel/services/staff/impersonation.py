"""Impersonation (代理ログイン): a staff session shows a customer's own panel, as the account's
owner sees it, read-only. Its start and end go to the customer's own audit log with the staff
member's name, so the customer can see who looked. The read-only rule itself is enforced for
every request in one place (`views/staff/session.py`)."""

from datetime import datetime

from sqlalchemy import select

from panel.extensions import db
from panel.models import Customer, Role, StaffRole, StaffSession, User
from panel.refusals import DomainError
from panel.services.audit import Client, record_event

#: Who may impersonate: every staff role (the role is checked again on every request).
IMPERSONATORS = tuple(StaffRole)


def _detail(staff_session: StaffSession) -> str:
    return f"サポートスタッフ {staff_session.staff_member.name}"


def owner_to_impersonate(customer: Customer) -> User | None:
    """The login whose panel staff see: the account's first active owner."""
    return db.session.scalar(
        select(User)
        .where(
            User.customer_id == customer.id,
            User.role == Role.OWNER,
            User.disabled_at.is_(None),
        )
        .order_by(User.id)
        .limit(1)
    )


def start_impersonation(
    staff_session: StaffSession, customer: Customer, client: Client, now: datetime
) -> User:
    """Open the customer's panel in this staff session (ending any other impersonation of it
    first); audited in the customer's log."""
    if staff_session.staff_member.role not in IMPERSONATORS:
        raise DomainError("代理ログインの権限がありません。")
    user = owner_to_impersonate(customer)
    if user is None:
        raise DomainError("この会員には有効な管理者のログインがないため、代理ログインできません。")
    if staff_session.impersonated_user_id is not None:
        end_impersonation(staff_session, client, now)
    staff_session.impersonated_user = user
    staff_session.impersonation_started_at = now
    record_event(
        "impersonation_started",
        client,
        customer=customer,
        staff=staff_session.staff_member,
        detail=_detail(staff_session),
        at=now,
    )
    return user


def end_impersonation(staff_session: StaffSession, client: Client, now: datetime) -> None:
    """Back to the staff console (the 戻る button, logout, or the session running out);
    audited in the customer's log at `now`."""
    user = staff_session.impersonated_user
    if user is None:
        return
    record_event(
        "impersonation_ended",
        client,
        customer=user.customer,
        staff=staff_session.staff_member,
        detail=_detail(staff_session),
        at=now,
    )
    staff_session.impersonated_user = None
    staff_session.impersonation_started_at = None
