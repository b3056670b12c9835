"""ご契約自動更新: the account's setting and saved card, which servers it applies to, and the
charge the daily job makes 7 days before a renewal date.

All servers of one customer with the same renewal date are renewed by one bill and one charge
to the saved card. The charge goes through a payment attempt (`services/payments.py`) whose
idempotency key is fixed by the customer and the renewal date, so no run, repeated or
concurrent, can charge twice for one date.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from panel.extensions import db
from panel.gateways import CardDetails, payment_gateway
from panel.models import Bill, Contract, ContractKind, Customer, PaymentAttempt, User
from panel.models.bills import BillKind, BillStatus, PaymentMethod
from panel.models.customers import AUTO_RENEWAL_PERIODS_MONTHS
from panel.models.payments import AttemptState
from panel.refusals import DomainError
from panel.services.audit import Client, record_event
from panel.services.billing import change_bill_status, create_bill
from panel.services.mail import queue_templated_mail
from panel.services.payments import pay_by_saved_card
from panel.services.renewal.pricing import (
    Selection,
    bills_awaiting_for,
    is_renewable,
    period_label,
    quote_renewal,
)

#: Servers are charged this many days before their renewal date.
CHARGE_DAYS_BEFORE = 7

TRIAL_EXCLUDED = (
    "お試し期間中のサーバーには自動更新は適用されません。"
    "初回のご契約延長は「ご契約更新・プラン変更」からお手続きください。"
)
JOB_CLIENT = Client(ip_address=None, user_agent="jobs daily")


def charge_day(renewal_date: date) -> date:
    return renewal_date - timedelta(days=CHARGE_DAYS_BEFORE)


def card_expires_before(expiry: str, day: date) -> bool:
    """Is a card with `expiry` (MM/YY, valid to the end of that month) expired on `day`?"""
    month, year = expiry.split("/")
    return (2000 + int(year), int(month)) < (day.year, day.month)


def is_switched_on(contract: Contract, customer: Customer) -> bool:
    """The server's own setting wins; without one, the account's."""
    return customer.auto_renewal if contract.auto_renewal is None else contract.auto_renewal


def why_not_auto_renewed(contract: Contract, customer: Customer) -> str | None:
    """Why auto-renewal does not apply to the server; None when it does."""
    if contract.is_trial:
        return TRIAL_EXCLUDED
    if not is_switched_on(contract, customer):
        if contract.auto_renewal is False:
            return "このサーバーは自動更新をOFFにしています。"
        return "自動更新はOFFです。"
    if customer.saved_card_token is None:
        return "クレジットカードが登録されていないため、自動更新できません。"
    assert contract.plan is not None, "a server has a plan"
    months = customer.auto_renewal_months
    if months not in contract.plan.periods_months:
        allowed = "・".join(
            period_label(m)
            for m in contract.plan.periods_months
            if m in AUTO_RENEWAL_PERIODS_MONTHS
        )
        return (
            f"{contract.plan.name}プランでは{period_label(months)}の自動更新は選択できません"
            f"(選択できる期間: {allowed})。"
        )
    return None


# The page


@dataclass(frozen=True)
class ServerRow:
    contract: Contract
    #: why auto-renewal does not apply; None when it does
    reason: str | None
    #: the day the card is charged, when it applies
    charge_on: date | None
    #: the auto-renewal periods the server's plan allows
    periods: list[int]


@dataclass(frozen=True)
class AutoRenewalPage:
    customer: Customer
    servers: list[ServerRow]
    #: the next day the saved card is charged, if any
    next_charge_on: date | None
    #: the saved card expires before that day
    card_expires_first: bool


def list_servers(customer: Customer, today: date) -> list[Contract]:
    """The customer's servers that can still be renewed, by renewal date."""
    servers = db.session.scalars(
        select(Contract)
        .options(selectinload(Contract.plan))
        .where(Contract.customer_id == customer.id, Contract.kind == ContractKind.HOSTING)
        .order_by(Contract.renewal_date, Contract.name)
    )
    return [server for server in servers if is_renewable(server, today)]


def auto_renewal_page(customer: Customer, today: date) -> AutoRenewalPage:
    rows = []
    servers = list_servers(customer, today)
    awaiting = bills_awaiting_for([server.id for server in servers])
    for server in servers:
        reason = why_not_auto_renewed(server, customer)
        if reason is None and server.id in awaiting:
            reason = f"お申込済みのご請求(請求No. {awaiting[server.id]})で更新されます。"
        elif reason is None and server.renewal_date < today:
            reason = (
                "ご契約更新日を過ぎているため、自動更新されません。"
                "「ご契約更新・プラン変更」から更新してください。"
            )
        charge_on = None if reason else max(charge_day(server.renewal_date), today)
        assert server.plan is not None, "a server has a plan"
        periods = [m for m in server.plan.periods_months if m in AUTO_RENEWAL_PERIODS_MONTHS]
        rows.append(ServerRow(server, reason, charge_on, periods))
    charge_days = [row.charge_on for row in rows if row.charge_on]
    next_charge_on = min(charge_days) if charge_days else None
    card_expires_first = bool(
        next_charge_on
        and customer.saved_card_expiry
        and card_expires_before(customer.saved_card_expiry, next_charge_on)
    )
    return AutoRenewalPage(customer, rows, next_charge_on, card_expires_first)


def change_auto_renewal(
    customer: Customer, *, enabled: bool, months: int, by: User, client: Client
) -> None:
    """Turn auto-renewal on or off for the account and choose its period."""
    if months not in AUTO_RENEWAL_PERIODS_MONTHS:
        raise DomainError("延長期間は1ヶ月・3ヶ月・6ヶ月・1年からお選びください。", field="months")
    if enabled and customer.saved_card_token is None:
        raise DomainError(
            "自動更新をONにするには、先にクレジットカードを登録してください。", field="enabled"
        )
    if (customer.auto_renewal, customer.auto_renewal_months) == (enabled, months):
        return
    customer.auto_renewal = enabled
    customer.auto_renewal_months = months
    record_event(
        "auto_renewal_changed",
        client,
        user=by,
        detail=f"{'ON' if enabled else 'OFF'}、延長期間 {period_label(months)}",
    )


def register_card(customer: Customer, card: CardDetails, today: date, by: User, client: Client):
    """Save the card at the gateway (replacing the one saved before); the panel keeps only its
    token, brand, last four digits and expiry."""
    saved = payment_gateway().save_card(card, today)
    replaced = customer.saved_card_token is not None
    customer.saved_card_token = saved.token
    customer.saved_card_brand = saved.brand
    customer.saved_card_last4 = saved.last4
    customer.saved_card_expiry = saved.expiry
    record_event(
        "auto_renewal_card_replaced" if replaced else "auto_renewal_card_registered",
        client,
        user=by,
        detail=f"{saved.brand} 末尾{saved.last4} 有効期限{saved.expiry}",
    )


def remove_card(customer: Customer, by: User, client: Client) -> None:
    """Forget the saved card. Without a card nothing can be charged, so auto-renewal is
    turned off with it."""
    if customer.saved_card_token is None:
        raise DomainError("登録されているクレジットカードはありません。")
    detail = f"{customer.saved_card_brand} 末尾{customer.saved_card_last4}"
    customer.saved_card_token = None
    customer.saved_card_brand = None
    customer.saved_card_last4 = None
    customer.saved_card_expiry = None
    customer.auto_renewal = False
    record_event("auto_renewal_card_removed", client, user=by, detail=detail)


def own_server(customer: Customer, contract_id: int) -> Contract | None:
    """The customer's server with this ID; None for another customer's, or a domain."""
    return db.session.scalar(
        select(Contract).where(
            Contract.id == contract_id,
            Contract.customer_id == customer.id,
            Contract.kind == ContractKind.HOSTING,
        )
    )


SERVER_SETTINGS = {"inherit": None, "on": True, "off": False}
SERVER_SETTING_LABELS = {"inherit": "全体の設定に従う", "on": "ON", "off": "OFF"}


def change_server_auto_renewal(contract: Contract, setting: str, by: User, client: Client) -> None:
    """Override the account's setting for one server (or follow it again)."""
    if setting not in SERVER_SETTINGS:
        raise DomainError("自動更新の設定を選択してください。", field="setting")
    if contract.auto_renewal == SERVER_SETTINGS[setting]:
        return
    contract.auto_renewal = SERVER_SETTINGS[setting]
    record_event(
        "auto_renewal_server_changed",
        client,
        user=by,
        detail=f"{contract.name}: {SERVER_SETTING_LABELS[setting]}",
    )


# The daily job's charge


def idempotency_key(customer_id: int, renewal_date: date) -> str:
    return f"auto-{customer_id}-{renewal_date.isoformat()}"


def _eligible(servers: list[Contract], awaiting: dict[int, str]) -> list[Contract]:
    """The servers auto-renewal applies to, less those already on a bill awaiting payment (that
    bill renews them; `awaiting` is `bills_awaiting_for` of the servers)."""
    return [
        server
        for server in servers
        if why_not_auto_renewed(server, server.customer) is None and server.id not in awaiting
    ]


def due_auto_renewals(today: date) -> dict[tuple[int, date], list[int]]:
    """(customer ID, renewal date) → the servers to charge for together: those whose charge
    day has come and whose renewal date has not passed (a missed run catches up)."""
    servers = db.session.scalars(
        select(Contract)
        .options(selectinload(Contract.plan), selectinload(Contract.customer))
        .join(Customer)
        .where(
            Contract.kind == ContractKind.HOSTING,
            Contract.renewal_date >= today,
            Contract.renewal_date <= today + timedelta(days=CHARGE_DAYS_BEFORE),
            Customer.saved_card_token.is_not(None),
        )
        .order_by(Contract.customer_id, Contract.renewal_date, Contract.id)
    ).all()
    awaiting = bills_awaiting_for([server.id for server in servers])
    due: dict[tuple[int, date], list[int]] = {}
    for server in _eligible(list(servers), awaiting):
        due.setdefault((server.customer_id, server.renewal_date), []).append(server.id)
    return due


def auto_renewed_ids(contract_ids: list[int]) -> set[int]:
    """Which of these servers auto-renewal applies to (the reminders before the charge day
    leave them alone)."""
    if not contract_ids:
        return set()
    servers = db.session.scalars(
        select(Contract)
        .options(selectinload(Contract.plan), selectinload(Contract.customer))
        .where(Contract.id.in_(contract_ids))
    )
    return {
        server.id for server in servers if why_not_auto_renewed(server, server.customer) is None
    }


def _queue_declined_mail(bill: Bill, reason: str) -> None:
    queue_templated_mail(
        bill.customer,
        "auto_renewal_declined",
        f"【自動更新】クレジットカード決済ができませんでした(請求No.{bill.bill_no})",
        "mail/auto_renewal_declined.txt",
        bill=bill,
        reason=reason,
    )


def charge_auto_renewal(
    customer_id: int, renewal_date: date, today: date, now: datetime
) -> Bill | None:
    """Renew the customer's servers due on `renewal_date` by one bill charged to the saved card.
    Paid: the servers are extended and the customer gets the お支払確認 mail. Declined: the bill
    is cancelled and the customer told why; the servers are left to manual renewal and the
    reminders. The caller has claimed (customer, renewal date), and commits what follows the
    gateway's answer; the bill and the attempt are committed before the gateway is called."""
    customer = db.session.get_one(Customer, customer_id)
    # A manual application for the same servers (apply_renewal) waits, or is waited for.
    db.session.refresh(customer, with_for_update=True)
    servers = db.session.scalars(
        select(Contract)
        .options(selectinload(Contract.plan))
        .where(
            Contract.customer_id == customer.id,
            Contract.kind == ContractKind.HOSTING,
            Contract.renewal_date == renewal_date,
        )
        .order_by(Contract.id)
    ).all()
    eligible = _eligible(list(servers), bills_awaiting_for([server.id for server in servers]))
    if not eligible or customer.saved_card_token is None:
        return None
    months = customer.auto_renewal_months
    quote = quote_renewal(
        customer,
        [Selection(server.id, months) for server in eligible],
        month_end=False,
        today=today,
        payment_method=PaymentMethod.CARD,
    )
    if not quote.renewals:
        return None
    bill = create_bill(
        customer,
        kind=BillKind.RENEWAL,
        payment_method=PaymentMethod.CARD,
        applied_on=today,
        due_date=renewal_date,
        lines=quote.lines,
    )
    db.session.flush()
    key = idempotency_key(customer.id, renewal_date)
    try:
        pay_by_saved_card(bill, customer.saved_card_token, key, today, now, JOB_CLIENT)
    except DomainError as declined:
        attempt = db.session.scalar(
            select(PaymentAttempt).where(PaymentAttempt.idempotency_key == key)
        )
        if attempt is None or attempt.state != AttemptState.FAILED:
            # Refused before any charge, or the gateway did not answer: the attempt is then
            # settled later by its key (`payments reconcile`), never charged again.
            raise
        bill = db.session.get_one(Bill, bill.id)
        if bill.status == BillStatus.AWAITING_PAYMENT:
            change_bill_status(bill, BillStatus.CANCELLED, now)
        _queue_declined_mail(bill, declined.message)
        record_event(
            "auto_renewal_declined",
            JOB_CLIENT,
            customer=customer,
            detail=f"請求No.{bill.bill_no} {declined.message}",
            at=now,
        )
        return bill
    return db.session.get_one(Bill, bill.id)


#: An expiring card on file is warned about by e-mail when a charge falls within this many days.
CARD_WARNING_DAYS = 30


def customers_to_warn_of_their_card(today: date) -> list[int]:
    """Customers with a card on file that expires within the warning window and a server
    whose charge day may fall within it: the ones whose card may expire first
    (`expiring_card_warning` decides). A card still valid on the window's last day outlives
    every charge the warning is about."""
    last_renewal = today + timedelta(days=CHARGE_DAYS_BEFORE + CARD_WARNING_DAYS)
    cards = db.session.execute(
        select(Contract.customer_id, Customer.saved_card_expiry)
        .join(Customer)
        .where(
            Contract.kind == ContractKind.HOSTING,
            Contract.renewal_date >= today,
            Contract.renewal_date <= last_renewal,
            Customer.saved_card_token.is_not(None),
        )
        .distinct()
        .order_by(Contract.customer_id)
    )
    window_end = today + timedelta(days=CARD_WARNING_DAYS)
    return [
        customer_id
        for customer_id, expiry in cards
        if expiry and card_expires_before(expiry, window_end)
    ]


def expiring_card_warning(customer: Customer, today: date) -> tuple[str, date] | None:
    """(what identifies the card, the charge day) when the card on file expires before a charge
    that falls within the warning window; None otherwise."""
    page = auto_renewal_page(customer, today)
    if not page.card_expires_first or page.next_charge_on is None:
        return None
    if page.next_charge_on > today + timedelta(days=CARD_WARNING_DAYS):
        return None
    return f"{customer.saved_card_last4}:{customer.saved_card_expiry}", page.next_charge_on


def queue_card_expiry_warning(customer: Customer, charge_on: date) -> None:
    """The card on file expires before the next auto-renewal charge: register another."""
    queue_templated_mail(
        customer,
        "card_expiry_warning",
        "【自動更新】ご登録のクレジットカードの有効期限が近づいています",
        "mail/card_expiry_warning.txt",
        charge_on=charge_on,
    )
