"""Contract status, derived from the renewal date and the day it is looked at."""

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from panel import labels
from panel.extensions import db
from panel.models import Contract, Customer
from panel.models.contracts import ContractStatus

#: Days after the renewal date during which a contract can still be renewed (猶予期間).
GRACE_DAYS = 7


def contract_status(renewal_date: date, is_trial: bool, today: date) -> ContractStatus:
    """The status on `today`. The renewal date is the last paid day; the 7 days after it are
    the grace period, for trials too; the day after that the contract is expired."""
    if today > renewal_date + timedelta(days=GRACE_DAYS):
        return ContractStatus.EXPIRED
    if today > renewal_date:
        return ContractStatus.GRACE
    return ContractStatus.TRIAL if is_trial else ContractStatus.ACTIVE


def last_renewable_day(renewal_date: date) -> date:
    return renewal_date + timedelta(days=GRACE_DAYS)


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
            status=contract_status(contract.renewal_date, contract.is_trial, today),
            days_left=(contract.renewal_date - today).days,
        )
        for contract in contracts
    ]
