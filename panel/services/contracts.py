"""Contract status, derived from the renewal date and the day it is looked at; the registries'
10-year limit on a domain's registration."""

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from panel import labels
from panel.dates import add_months
from panel.extensions import db
from panel.models import Contract, Customer
from panel.models.contracts import ContractStatus
from panel.models.domains import DOMAIN_RENEWAL_YEARS

#: Days after the renewal date during which a contract can still be renewed (猶予期間).
GRACE_DAYS = 7


def contract_status(
    renewal_date: date, is_trial: bool, today: date, lapsed_on: date | None = None
) -> ContractStatus:
    """The status on `today`. The renewal date is the last paid day; the 7 days after it are
    the grace period, for trials too; the day after that the contract is expired. A domain
    that lapsed on 自動失効 has no grace period: it is expired from the day it lapsed."""
    if lapsed_on is not None and today >= lapsed_on:
        return ContractStatus.EXPIRED
    if today > renewal_date + timedelta(days=GRACE_DAYS):
        return ContractStatus.EXPIRED
    if today > renewal_date:
        return ContractStatus.GRACE
    return ContractStatus.TRIAL if is_trial else ContractStatus.ACTIVE


def last_renewable_day(renewal_date: date) -> date:
    return renewal_date + timedelta(days=GRACE_DAYS)


# The registries' limit: a domain is never registered for more than 10 years from today.

MAX_REGISTRATION_YEARS = 10


def registration_limit(today: date) -> date:
    """The latest expiry date a domain may have on `today`: 10 years on (a leap day's limit is
    February 28th, as every date sum here clamps to the month's end)."""
    return add_months(today, 12 * MAX_REGISTRATION_YEARS)


def domain_years_allowed(expiry: date, today: date) -> list[int]:
    """The renewal periods, in years, that keep the domain's new expiry date within the limit;
    none when even one more year would pass it."""
    limit = registration_limit(today)
    return [years for years in DOMAIN_RENEWAL_YEARS if add_months(expiry, 12 * years) <= limit]


def first_day_renewable_for_a_year(expiry: date) -> date:
    """The first day on which a domain expiring on `expiry` can be renewed for one year."""
    target = add_months(expiry, 12)
    day = add_months(expiry, -12 * (MAX_REGISTRATION_YEARS - 1))
    while registration_limit(day) < target:
        day += timedelta(days=1)
    while registration_limit(day - timedelta(days=1)) >= target:
        day -= timedelta(days=1)
    return day


@dataclass(frozen=True)
class ContractRow:
    """A contract as a customer sees it on a given day."""

    contract: Contract
    status: ContractStatus
    #: days from today to the renewal date; negative once it has passed
    days_left: int

    @property
    def status_label(self) -> str:
        return labels.CONTRACT_STATUS[self.status]


def list_contracts(customer: Customer, today: date) -> list[ContractRow]:
    """The customer's contracts, servers first, each kind by renewal date, with their status."""
    contracts = db.session.scalars(
        select(Contract)
        .options(selectinload(Contract.plan))
        .where(Contract.customer_id == customer.id)
        # "hosting" sorts after "domain": descending puts servers first
        .order_by(Contract.kind.desc(), Contract.renewal_date, Contract.name)
    )
    return [
        ContractRow(
            contract=contract,
            status=contract_status(
                contract.renewal_date, contract.is_trial, today, contract.lapsed_on
            ),
            days_left=(contract.renewal_date - today).days,
        )
        for contract in contracts
    ]
