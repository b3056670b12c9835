"""`jobs daily`: everything due on a day, in order, each step a function of that day."""

from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from functools import partial

from flask import current_app
from sqlalchemy import select

from panel.database import writing
from panel.extensions import db
from panel.jobs import claim_effect, days_after, each_in_turn, each_once, not_done, subject_of
from panel.models import (
    Bill,
    Contract,
    ContractKind,
    Customer,
    JobEffect,
    LedgerEntry,
    OnAccountPurchase,
)
from panel.models.bills import BillKind, BillStatus
from panel.models.types import utc_now
from panel.services.auto_renewal import (
    CHARGE_DAYS_BEFORE,
    auto_renewed_ids,
    charge_auto_renewal,
    customers_to_warn_of_their_card,
    due_auto_renewals,
    expiring_card_warning,
    queue_card_expiry_warning,
)
from panel.services.balance import available_amounts
from panel.services.billing import cancel_overdue_bill
from panel.services.contracts import GRACE_DAYS
from panel.services.direct_debit import bills_to_collect, collect_month_end_bill
from panel.services.domain_auto_renewal import (
    SHORTAGE_NOTICE_INTERVAL_DAYS,
    due_domain_renewals,
    queue_shortage_notice,
    renew_domains_from_balance,
)
from panel.services.domains import (
    EFFECTIVE_POLICY,
    LAPSE_NOTICE_DAYS,
    domains_due_for_auto_renewal,
    domains_with_policy,
    due_to_lapse,
    lapse_domains,
    lapsing_on,
    tell_of_lapse,
)
from panel.services.mail import BATCH_SIZE, deliver_outbox
from panel.services.month_end import is_month_end, settle_month
from panel.services.notices import (
    DOMAIN_NOTICE_DAYS,
    OPT_IN_REMINDER_DAYS,
    REMINDER_DAYS,
    queue_domain_notice,
    queue_expiry_notice,
    queue_renewal_reminder,
)
from panel.services.on_account import (
    bill_month_end,
    last_closed_month,
    month_end_bills_overdue,
    tell_month_end_overdue,
)
from panel.services.renewal.pricing import bills_awaiting_for

#: A contract that expired this many days before the run still has its expiry told (a job
#: that did not run for a few days catches up; one newly deployed does not tell old ones).
EXPIRY_CATCH_UP_DAYS = 7


# Each effect loads what it concerns in its own transaction (the previous one's objects are
# expired by its commit).


def _cancel_overdue(bill_id: int, now: datetime) -> None:
    cancel_overdue_bill(db.session.get_one(Bill, bill_id), now)


def _tell_expiry(contract_id: int) -> None:
    queue_expiry_notice(db.session.get_one(Contract, contract_id))


def _remind(contract_id: int, days_before: int, awaiting_bill_no: str | None) -> None:
    queue_renewal_reminder(db.session.get_one(Contract, contract_id), days_before, awaiting_bill_no)


def _notify_domains(customer_id: int, contract_ids: list[int], today: date) -> None:
    # One query for the customer's domains with their policy, listed in the order they were
    # found.
    loaded = {
        domain.id: (domain, policy)
        for domain, policy in db.session.execute(
            domains_with_policy(Contract, EFFECTIVE_POLICY).where(Contract.id.in_(contract_ids))
        )
    }
    domains = [loaded[contract_id] for contract_id in contract_ids]
    queue_domain_notice(db.session.get_one(Customer, customer_id), domains, today)


def _lapse(customer_id: int, today: date) -> None:
    lapse_domains(db.session.get_one(Customer, customer_id), today)


def _tell_of_lapse(customer_id: int, domain_ids: list[int], today: date) -> None:
    tell_of_lapse(db.session.get_one(Customer, customer_id), domain_ids, today)


def cancel_overdue_bills(today: date) -> int:
    """Every bill still awaiting payment after its due date is cancelled, and the customer told."""
    now = utc_now()
    # A cancelled bill leaves this query by itself: no JobEffect to leave out. A month-end bill
    # is never cancelled (what it bills was used already): `tell_overdue_month_end_bills`.
    overdue = db.session.execute(
        select(Bill.id, Bill.due_date)
        .where(
            Bill.status == BillStatus.AWAITING_PAYMENT,
            Bill.due_date < today,
            Bill.kind != BillKind.MONTH_END,
        )
        .order_by(Bill.id)
    ).all()
    return each_once(
        "overdue_cancellation",
        (
            (
                f"bill:{bill_id}",
                due_date + timedelta(days=1),
                partial(_cancel_overdue, bill_id, now),
            )
            for bill_id, due_date in overdue
        ),
    )


def lapse_auto_expiring_domains(today: date) -> int:
    """自動失効: a domain whose expiry date has passed lapses (expired from the day after it,
    with no grace period), unless a renewal bill for it awaits payment; each customer is told
    in one mail per day. Claimed per customer and day; a domain lapses once (its `lapsed_on`)."""
    kind = "domain_lapse"
    due = db.session.execute(
        due_to_lapse(today).where(
            not_done(kind, subject_of("customer", Contract.customer_id), today)
        )
    ).all()
    awaiting = bills_awaiting_for([domain_id for _, domain_id in due])
    customers = dict.fromkeys(
        customer_id for customer_id, domain_id in due if domain_id not in awaiting
    )
    return each_once(
        kind,
        (
            (f"customer:{customer_id}", today, partial(_lapse, customer_id, today))
            for customer_id in customers
        ),
    )


def warn_of_lapsing_domains(today: date) -> int:
    """自動失効: 30 and 7 days before their expiry date, each customer gets one mail listing
    the domains that will lapse (a domain on a renewal bill awaiting payment is left out: that
    bill keeps it). Each notice belongs to its exact day, like the renewal reminders."""
    kind = "domain_lapse_notice"
    due = db.session.execute(
        lapsing_on([today + timedelta(days=days) for days in LAPSE_NOTICE_DAYS]).where(
            not_done(kind, subject_of("customer", Contract.customer_id), today)
        )
    ).all()
    awaiting = bills_awaiting_for([domain_id for _, domain_id in due])
    by_customer: dict[int, list[int]] = {}
    for customer_id, domain_id in due:
        if domain_id not in awaiting:
            by_customer.setdefault(customer_id, []).append(domain_id)
    return each_once(
        kind,
        (
            (f"customer:{customer_id}", today, partial(_tell_of_lapse, customer_id, ids, today))
            for customer_id, ids in by_customer.items()
        ),
    )


def tell_expired_contracts(today: date) -> int:
    """A contract past its grace period has expired: its customer is told, once. A domain that
    lapsed on 自動失効 was told of when it lapsed."""
    first_expired_day = today - timedelta(days=EXPIRY_CATCH_UP_DAYS - 1)
    grace = timedelta(days=GRACE_DAYS + 1)
    expired = db.session.execute(
        select(Contract.id, Contract.renewal_date)
        .where(
            Contract.renewal_date >= first_expired_day - grace,
            Contract.renewal_date <= today - grace,
            Contract.lapsed_on.is_(None),
            not_done(
                "contract_expired",
                subject_of("contract", Contract.id),
                days_after(Contract.renewal_date, grace.days),
                (first_expired_day, today),
            ),
        )
        .order_by(Contract.id)
    ).all()
    return each_once(
        "contract_expired",
        (
            (
                f"contract:{contract_id}",
                renewal_date + grace,
                partial(_tell_expiry, contract_id),
            )
            for contract_id, renewal_date in expired
        ),
    )


#: Auto-renewal charges under way at once: the gateway's latency (tens of milliseconds per
#: charge) is waited for in parallel, not one charge after the other; bounded, so neither the
#: gateway nor the database's connection pool is flooded.
CHARGES_AT_ONCE = 8


def charge_auto_renewals(today: date) -> int:
    """ご契約自動更新: each customer's servers due on one renewal date, from 7 days before it
    until the date itself (a missed run catches up), renewed by one bill and one charge to the
    saved card. Claimed per customer and renewal date, so it is charged at most once. The
    charges go out from a bounded pool of threads, each its own app context, database session
    and transactions (and SQLite's write lock for each of them)."""
    now = utc_now()
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def charge(customer_id: int, renewal_date: date) -> int:
        with app.app_context(), writing():
            return each_once(
                "auto_renewal",
                [
                    (
                        f"customer:{customer_id}",
                        renewal_date,
                        partial(charge_auto_renewal, customer_id, renewal_date, today, now),
                    )
                ],
            )

    due = list(due_auto_renewals(today))
    db.session.commit()  # the pool's transactions must not wait behind this one (SQLite)
    with ThreadPoolExecutor(max_workers=CHARGES_AT_ONCE) as pool:
        return sum(pool.map(lambda unit: charge(*unit), due))


#: JobEffect kinds of the domains' auto-renewal: a renewal (`contract:<id>`, the expiry date
#: renewed from) and a shortage notice (`contract:<id>`, the day told).
DOMAIN_AUTO_RENEWAL = "domain_auto_renewal"
DOMAIN_AUTO_RENEWAL_SHORT = "domain_auto_renewal_short"


def _customers_with_domains_due(today: date) -> list[int]:
    # A renewed domain leaves the list by itself (its expiry date moved a year): no JobEffect
    # to leave out. A customer whose balance is short stays on it, and is tried every run.
    return list(
        dict.fromkeys(customer_id for customer_id, _ in domains_due_for_auto_renewal(today))
    )


def _renew_domains(customer_id: int, today: date, now: datetime) -> int:
    customer = db.session.get_one(Customer, customer_id)
    due = due_domain_renewals(customer, today)
    renewing = [
        renewal
        for renewal in due.covered
        if claim_effect(
            DOMAIN_AUTO_RENEWAL, f"contract:{renewal.contract.id}", renewal.contract.renewal_date
        )
    ]
    if renewing:
        renew_domains_from_balance(customer, renewing, today, now)
    return len(renewing)


def auto_renew_domains(today: date) -> int:
    """ドメインの自動更新: each domain on 自動更新 from 30 days before its expiry date (until the
    date itself: a missed run catches up) is renewed for a year, paid from the account balance
    at once, one bill per customer and run for all of its domains the balance covers. Claimed
    per domain and the expiry date renewed from, under the account's lock, so a domain is
    renewed and charged once however often or concurrently the job runs; one renewed by hand
    meanwhile has a new expiry date and is not due any more. A domain the balance does not
    cover is left due, and tried again on every run until its expiry date."""
    now = utc_now()
    due = _customers_with_domains_due(today)
    available = available_amounts(due)
    # With nothing available (every price is above zero) nothing is renewed: such an account
    # is not locked and priced on every run.
    return each_in_turn(
        partial(_renew_domains, customer_id, today, now)
        for customer_id in due
        if available[customer_id] > 0
    )


def _tell_of_shortage(customer_id: int, today: date) -> int:
    customer = db.session.get_one(Customer, customer_id)
    short = due_domain_renewals(customer, today).short
    subjects = {f"contract:{renewal.contract.id}": renewal for renewal in short}
    told_lately = set(
        db.session.scalars(
            select(JobEffect.subject).where(
                JobEffect.kind == DOMAIN_AUTO_RENEWAL_SHORT,
                JobEffect.subject.in_(subjects),
                JobEffect.day > today - timedelta(days=SHORTAGE_NOTICE_INTERVAL_DAYS),
                JobEffect.day <= today,
            )
        )
    )
    telling = [
        renewal
        for subject, renewal in subjects.items()
        if subject not in told_lately and claim_effect(DOMAIN_AUTO_RENEWAL_SHORT, subject, today)
    ]
    if telling:
        queue_shortage_notice(customer, telling)
    return len(telling)


def tell_of_domain_renewal_shortages(today: date) -> int:
    """A domain on 自動更新 that the balance could not pay for (`auto_renew_domains`): the
    customer is told by one mail listing them, on the first day it is short and again every
    7 days while it stays short (at most weekly per domain; a domain newly short is told at
    once). Claimed per domain and day."""
    told_lately = set(
        db.session.scalars(
            select(JobEffect.subject).where(
                JobEffect.kind == DOMAIN_AUTO_RENEWAL_SHORT,
                JobEffect.day > today - timedelta(days=SHORTAGE_NOTICE_INTERVAL_DAYS),
                JobEffect.day <= today,
            )
        )
    )
    # Only the customers with a due domain not told of lately can have anything to tell.
    customer_ids = dict.fromkeys(
        customer_id
        for customer_id, domain_id in domains_due_for_auto_renewal(today)
        if f"contract:{domain_id}" not in told_lately
    )
    return each_in_turn(
        partial(_tell_of_shortage, customer_id, today) for customer_id in customer_ids
    )


def settle_month_end(today: date) -> int:
    """月末締め, on the last day of each month: every account with ledger entries has its month
    closed once: the statement written and e-mailed (when there was activity or the balance is
    not zero), and a negative balance settled by the card on file or by one bill."""
    if not is_month_end(today):
        return 0
    now = utc_now()
    customer_ids = list(
        db.session.scalars(
            select(LedgerEntry.customer_id)
            .where(not_done("month_end", subject_of("customer", LedgerEntry.customer_id), today))
            .distinct()
            .order_by(LedgerEntry.customer_id)
        )
    )
    return each_once(
        "month_end",
        (
            (f"customer:{customer_id}", today, partial(settle_month, customer_id, today, now))
            for customer_id in customer_ids
        ),
    )


def _warn_of_card(customer_id: int, charge_on: date) -> None:
    queue_card_expiry_warning(db.session.get_one(Customer, customer_id), charge_on)


def warn_of_expiring_cards(today: date) -> int:
    """A card on file that expires before an auto-renewal charge of the next 30 days: the
    customer is told by e-mail, once for that card and charge day (the page says so too)."""
    warnings = []
    for customer_id in customers_to_warn_of_their_card(today):
        warning = expiring_card_warning(db.session.get_one(Customer, customer_id), today)
        if warning is not None:
            card, charge_on = warning
            warnings.append((customer_id, card, charge_on))
    return each_once(
        "card_expiry_warning",
        (
            (
                f"customer:{customer_id}:{card}",
                charge_on,
                partial(_warn_of_card, customer_id, charge_on),
            )
            for customer_id, card, charge_on in warnings
        ),
    )


def send_renewal_reminders(today: date) -> int:
    """Servers whose renewal date is 40 (opted in), 10 or 5 days away, today, or yesterday, and
    which are not renewed yet, get a reminder. Before the charge day, servers that auto-renewal
    applies to get none: they are renewed without the customer doing anything; from the charge
    day on, one still not renewed (the charge was declined) is reminded like any other."""
    sent = 0
    for days_before in REMINDER_DAYS:
        renewal_date = today + timedelta(days=days_before)
        kind = f"renewal_reminder_{days_before}"
        statement = (
            select(Contract.id)
            .join(Customer)
            .where(
                Contract.kind == ContractKind.HOSTING,
                Contract.renewal_date == renewal_date,
                not_done(kind, subject_of("contract", Contract.id), renewal_date),
            )
            .order_by(Contract.id)
        )
        if days_before == OPT_IN_REMINDER_DAYS:
            statement = statement.where(Customer.notify_40_days_before)
        contract_ids = list(db.session.scalars(statement))
        if days_before > CHARGE_DAYS_BEFORE:
            auto_renewed = auto_renewed_ids(contract_ids)
            contract_ids = [i for i in contract_ids if i not in auto_renewed]
        awaiting = bills_awaiting_for(contract_ids)
        sent += each_once(
            kind,
            (
                (
                    f"contract:{contract_id}",
                    renewal_date,
                    partial(_remind, contract_id, days_before, awaiting.get(contract_id)),
                )
                for contract_id in contract_ids
            ),
        )
    return sent


def send_domain_notices(today: date) -> int:
    """On the 1st of each month, each customer with domains that expire within 90 days gets
    one notice listing them all."""
    if today.day != 1:
        return 0
    domains = db.session.execute(
        select(Contract.customer_id, Contract.id)
        .where(
            Contract.kind == ContractKind.DOMAIN,
            Contract.renewal_date >= today,
            Contract.renewal_date <= today + timedelta(days=DOMAIN_NOTICE_DAYS),
            not_done("domain_notice", subject_of("customer", Contract.customer_id), today),
        )
        .order_by(Contract.customer_id, Contract.renewal_date, Contract.name)
    ).all()
    by_customer: dict[int, list[int]] = {}
    for customer_id, contract_id in domains:
        by_customer.setdefault(customer_id, []).append(contract_id)
    return each_once(
        "domain_notice",
        (
            (
                f"customer:{customer_id}",
                today,
                partial(_notify_domains, customer_id, ids, today),
            )
            for customer_id, ids in by_customer.items()
        ),
    )


def _tell_month_end_overdue(bill_id: int) -> None:
    tell_month_end_overdue(db.session.get_one(Bill, bill_id))


def tell_overdue_month_end_bills(today: date) -> int:
    """A month-end bill still unpaid after its due date stays awaiting payment (by bank
    transfer from then on), and the customer is asked once to pay it: the day after the due
    date, or a few days later when the job did not run (like expiries)."""
    overdue = month_end_bills_overdue(
        today - timedelta(days=EXPIRY_CATCH_UP_DAYS), today - timedelta(days=1)
    )
    return each_once(
        "month_end_overdue",
        (
            (
                f"bill:{bill_id}",
                due_date + timedelta(days=1),
                partial(_tell_month_end_overdue, bill_id),
            )
            for bill_id, due_date in overdue
        ),
    )


def bill_month_ends(today: date) -> int:
    """請求書払い (月末締め翌月末払い): a month closes at the end of its last day; the first run
    after that (the run of the 1st) makes each customer's one bill for it, dated the closing
    day and due at the end of the next month, listing every purchase on account not billed
    yet. Claimed per customer and closing day, so a month is billed once."""
    closing = last_closed_month(today)
    customer_ids = db.session.scalars(
        select(OnAccountPurchase.customer_id)
        .where(
            OnAccountPurchase.month_end_bill_id.is_(None),
            OnAccountPurchase.purchased_on <= closing,
            not_done(
                "month_end_bill", subject_of("customer", OnAccountPurchase.customer_id), closing
            ),
        )
        .distinct()
        .order_by(OnAccountPurchase.customer_id)
    ).all()
    return each_once(
        "month_end_bill",
        (
            (f"customer:{customer_id}", closing, partial(bill_month_end, customer_id, closing))
            for customer_id in customer_ids
        ),
    )


def collect_direct_debits(today: date) -> int:
    """口座振替: each month-end bill to be paid by direct debit is collected on its due date,
    once (claimed per bill; the payment attempt's key is fixed by the bill too)."""
    now = utc_now()
    bill_ids = bills_to_collect(today)
    return each_once(
        "direct_debit",
        (
            (f"bill:{bill_id}", today, partial(collect_month_end_bill, bill_id, today, now))
            for bill_id in bill_ids
        ),
    )


#: The steps, in the order they run: bills first (an overdue bill is cancelled before its
#: contracts are reminded of, and before its domains on 自動失効 lapse), then what is told.
STEPS = (
    ("overdue bills cancelled", cancel_overdue_bills),
    ("overdue month-end bills told", tell_overdue_month_end_bills),
    ("month-end bills made", bill_month_ends),
    ("direct debits collected", collect_direct_debits),
    ("auto-expiring domains lapsed", lapse_auto_expiring_domains),
    ("expiries told", tell_expired_contracts),
    ("expiring cards warned of", warn_of_expiring_cards),
    ("auto-renewals charged", charge_auto_renewals),
    ("domains auto-renewed", auto_renew_domains),
    ("domain auto-renewal shortages told", tell_of_domain_renewal_shortages),
    ("month-end balances settled", settle_month_end),
    ("renewal reminders", send_renewal_reminders),
    ("domain lapses announced", warn_of_lapsing_domains),
    ("domain notices", send_domain_notices),
)


def run_daily(today: date) -> dict[str, int]:
    """Everything due on `today`, then the outbox delivered: how many of each were done."""
    report = {name: step(today) for name, step in STEPS}
    report |= {"mails sent": 0, "mails failed for now": 0, "mails given up": 0}
    while True:  # a batch at a time, until no mail is due (one that failed waits its back-off)
        delivered = deliver_outbox(utc_now())
        report["mails sent"] += delivered.sent
        report["mails failed for now"] += delivered.retrying
        report["mails given up"] += delivered.given_up
        if sum(delivered) < BATCH_SIZE:
            return report
