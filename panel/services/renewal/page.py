"""The renewal page: every renewable contract with its pickers and price, and the total."""

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import or_, select

from panel.extensions import db
from panel.models import Contract, Customer, Plan
from panel.services.contracts import (
    GRACE_DAYS,
    ContractStatus,
    contract_status,
    domain_years_allowed,
)
from panel.services.renewal.pricing import (
    QuotedRenewal,
    RenewalQuote,
    RowRefusal,
    Selection,
    list_plans,
    list_renewable_contracts,
    quote_renewal,
)


@dataclass
class RenewalRow:
    """One contract on the renewal page: its pickers as chosen, and its price or refusal."""

    contract: Contract
    months: int
    plan: Plan | None
    period_options: list[int]
    ticked: bool
    result: QuotedRenewal | RowRefusal
    status: ContractStatus

    @property
    def refusal(self) -> RowRefusal | None:
        return self.result if isinstance(self.result, RowRefusal) else None


def _default_months(offered: list[int], chosen: int | None) -> int:
    if chosen in offered:
        return chosen
    # A domain at the 10-year limit is offered nothing: a year is priced, and refused with why.
    return 12 if 12 in offered or not offered else offered[0]


@dataclass
class RenewalPage:
    rows: list[RenewalRow]
    #: the quote of the ticked rows
    quote: RenewalQuote
    #: contracts past their grace period (or lapsed on 自動失効), listed so the customer knows
    #: why they are missing
    expired: list[Contract]
    #: every plan, for the plan pickers
    plans: list[Plan]


def plan_renewal_page(
    customer: Customer,
    ticked: frozenset[int],
    months: dict[int, int],
    plan_ids: dict[int, int],
    month_end: bool,
    today: date,
) -> RenewalPage:
    """Every renewable contract with its pickers and price, and the quote of the ticked ones.

    A period the chosen plan does not offer snaps to the plan's default here, so the pickers
    always show a valid choice; the apply step refuses such a period outright."""
    contracts = list_renewable_contracts(customer, today)
    plan_lineup = list_plans()
    plans: dict[int | None, Plan] = {plan.id: plan for plan in plan_lineup}
    chosen: list[tuple[Contract, Plan | None, list[int], int]] = []
    for contract in contracts:
        plan = None if contract.is_domain else plans.get(plan_ids.get(contract.id), contract.plan)
        if plan is None:  # a domain: the years that keep it within 10 years from today
            offered = [12 * y for y in domain_years_allowed(contract.renewal_date, today)]
        else:
            offered = plan.periods_months
        chosen.append((contract, plan, offered, _default_months(offered, months.get(contract.id))))
    every_row = quote_renewal(
        customer,
        [Selection(c.id, m, plan.id if plan else None) for c, plan, _, m in chosen],
        month_end,
        today,
    )
    quoted = {renewal.contract.id: renewal for renewal in every_row.renewals}
    rows = [
        RenewalRow(
            contract=contract,
            months=months_chosen,
            plan=plan,
            period_options=offered,
            ticked=contract.id in ticked,
            result=quoted.get(contract.id) or every_row.refusals[contract.id],
            status=contract_status(
                contract.renewal_date, contract.is_trial, today, contract.lapsed_on
            ),
        )
        for contract, plan, offered, months_chosen in chosen
    ]
    selected = RenewalQuote(
        renewals=[
            row.result for row in rows if row.ticked and isinstance(row.result, QuotedRenewal)
        ],
        today=today,
    )
    expired = db.session.scalars(
        select(Contract)
        .where(
            Contract.customer_id == customer.id,
            or_(
                Contract.renewal_date < today - timedelta(days=GRACE_DAYS),
                Contract.lapsed_on <= today,
            ),
        )
        .order_by(Contract.renewal_date.desc())
    )
    return RenewalPage(rows=rows, quote=selected, expired=list(expired), plans=plan_lineup)
