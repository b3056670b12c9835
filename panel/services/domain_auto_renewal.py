"""ドメインの自動更新: the daily job renews each domain on 自動更新 for one year, 30 days before
its expiry date, paid from the account balance; when 現在利用できる金額 does not cover it, nothing
is renewed or charged, the customer is told, and the next run tries again.

The job (`jobs/daily.py`) claims each renewal once per domain and expiry date, and each
shortage notice once per domain and day; these functions do the work under the account's row
lock, so what they read (the expiry dates, the balance) is what they act on.
"""

from dataclasses import dataclass
from datetime import date, datetime

from panel.extensions import db
from panel.models import Bill, Contract, Customer, OutboxMail
from panel.models.bills import BillKind, PaymentMethod
from panel.services.balance import account_balance, lock_account
from panel.services.billing import create_bill
from panel.services.contracts import last_renewable_day
from panel.services.domains import JOB_CLIENT, domains_due_for_auto_renewal
from panel.services.mail import queue_templated_mail
from panel.services.payments import pay_from_balance
from panel.services.renewal.pricing import QuotedRenewal, RenewalQuote, Selection, quote_renewal

#: A domain on 自動更新 is renewed for this long (SPEC §4: one year).
RENEWAL_MONTHS = 12
#: While the balance stays short, the customer is told again after this many days, never
#: more often.
SHORTAGE_NOTICE_INTERVAL_DAYS = 7


@dataclass(frozen=True)
class DueDomainRenewals:
    """A customer's domains due for auto-renewal today, each priced for one year."""

    #: those the balance pays for, earliest expiry first
    covered: list[QuotedRenewal]
    #: those 現在利用できる金額 does not cover once the covered ones are paid
    short: list[QuotedRenewal]


def due_domain_renewals(customer: Customer, today: date) -> DueDomainRenewals:
    """Lock the account and read its domains due for auto-renewal afresh (one renewed by hand
    meanwhile has a new expiry date and is no longer due), each priced for a year. In order of
    expiry date, each domain is covered when what is still available pays for it: a domain
    the balance cannot pay for does not hold back a cheaper one after it. A domain the
    renewal rules refuse (no price for its TLD, the 10-year limit) is in neither list."""
    lock_account(customer)
    ids = [domain_id for _, domain_id in domains_due_for_auto_renewal(today, customer.id)]
    if not ids:
        return DueDomainRenewals([], [])
    quote = quote_renewal(
        customer,
        [Selection(domain_id, RENEWAL_MONTHS) for domain_id in ids],
        month_end=False,
        today=today,
        payment_method=PaymentMethod.BALANCE,
    )
    remaining = account_balance(customer).available
    covered, short = [], []
    for renewal in sorted(
        quote.renewals, key=lambda renewal: (renewal.contract.renewal_date, renewal.contract.name)
    ):
        if renewal.amount <= remaining:
            covered.append(renewal)
            remaining -= renewal.amount
        else:
            short.append(renewal)
    return DueDomainRenewals(covered, short)


def renew_domains_from_balance(
    customer: Customer, renewals: list[QuotedRenewal], today: date, now: datetime
) -> Bill:
    """One renewal bill for the domains, applied on `today` and paid at once from the balance
    (the お支払確認 e-mail, as for any payment). The caller holds the account's lock
    (`due_domain_renewals`) and has claimed each renewal."""
    quote = RenewalQuote(renewals=renewals, payment_method=PaymentMethod.BALANCE, today=today)
    assert quote.due_date is not None, "a quote with renewals and a day has a due date"
    bill = create_bill(
        customer,
        kind=BillKind.RENEWAL,
        payment_method=PaymentMethod.BALANCE,
        applied_on=today,
        due_date=quote.due_date,
        lines=quote.lines,
    )
    db.session.flush()
    pay_from_balance(bill, now, JOB_CLIENT, today)
    return db.session.get_one(Bill, bill.id)


@dataclass(frozen=True)
class ShortDomain:
    domain: Contract
    #: a year's renewal, paid from the balance
    price: int
    #: the last day it can still be renewed by hand (expiry date + 7 days)
    last_renewable_day: date


def queue_shortage_notice(customer: Customer, short: list[QuotedRenewal]) -> OutboxMail:
    """【ドメイン自動更新】残高不足: the domains the balance could not pay for, what they need, what
    is available, and the two ways out (a deposit, or renewing by hand)."""
    available = account_balance(customer).available
    domains = [
        ShortDomain(
            renewal.contract, renewal.amount, last_renewable_day(renewal.contract.renewal_date)
        )
        for renewal in short
    ]
    needed = sum(domain.price for domain in domains)
    return queue_templated_mail(
        customer,
        "domain_auto_renewal_short",
        f"【ドメイン自動更新】アカウント残高不足のため更新できませんでした({len(domains)}件)",
        "mail/domain_auto_renewal_short.txt",
        domains=domains,
        needed=needed,
        available=available,
        shortfall=needed - available,
        interval=SHORTAGE_NOTICE_INTERVAL_DAYS,
    )
