"""The price of a renewal (ご契約更新・プラン変更): what may be renewed, for how long, on which
plan, and what it costs, row by row, before anything is applied.

Every price and date is computed here from the database; what a form sends is only a choice
of contract, period and plan, and is checked again on every step.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from panel import labels
from panel.dates import add_months, days_in_month, end_of_month
from panel.extensions import db
from panel.filters import japanese_date
from panel.models import Bill, BillLine, Contract, Customer, DomainPrice, Plan
from panel.models.bills import BillLineKind, BillStatus, PaymentMethod
from panel.models.domains import DOMAIN_RENEWAL_YEARS
from panel.refusals import DomainError
from panel.services.billing import (
    LineDraft,
    convenience_store_fee_line,
)
from panel.services.contracts import (
    GRACE_DAYS,
    MAX_REGISTRATION_YEARS,
    ContractStatus,
    contract_status,
    domain_years_allowed,
    first_day_renewable_for_a_year,
    last_renewable_day,
    registration_limit,
)
from panel.tax import RateTotal, totals_by_rate

#: A renewal bill is due at the latest this many days after the application.
MAX_DAYS_TO_PAY = 14


def period_label(months: int) -> str:
    """12 → 1年, 3 → 3ヶ月"""
    return f"{months // 12}年" if months % 12 == 0 else f"{months}ヶ月"


@dataclass(frozen=True)
class Selection:
    """What the customer picked for one contract: a period and, for a server, a plan."""

    contract_id: int
    months: int
    plan_id: int | None = None


@dataclass(frozen=True)
class RowRefusal:
    """Why one contract cannot be renewed as chosen; `bill_no` names the bill it is already on."""

    message: str
    bill_no: str | None = None


@dataclass
class QuotedRenewal:
    """One contract renewed as chosen: its price and its dates."""

    contract: Contract
    months: int
    target_plan: Plan | None
    price: int
    new_renewal_date: date
    #: days added to reach the month's end, and what they cost
    extra_days: int = 0
    proration: int = 0
    #: the renewal date the term follows on from (default: the contract's own)
    renews_from: date | None = None

    @property
    def term_start(self) -> date:
        """The first day the renewal pays for: the day after the current renewal date."""
        return (self.renews_from or self.contract.renewal_date) + timedelta(days=1)

    @property
    def term_end(self) -> date:
        """The last day of the period itself; the month-end days follow it."""
        return self.new_renewal_date - timedelta(days=self.extra_days)

    @property
    def changes_plan(self) -> bool:
        return self.target_plan is not None and self.target_plan.id != self.contract.plan_id

    @property
    def amount(self) -> int:
        return self.price + self.proration


@dataclass
class RenewalQuote:
    """The price of a selection, before anything is applied."""

    renewals: list[QuotedRenewal] = field(default_factory=list)
    refusals: dict[int, RowRefusal] = field(default_factory=dict)
    #: contract ID → name, for every contract asked about
    contract_names: dict[int, str] = field(default_factory=dict)
    payment_method: str | None = None
    today: date | None = None

    @property
    def lines(self) -> list[LineDraft]:
        lines = []
        for renewal in self.renewals:
            lines.append(renewal_line(renewal))
            if renewal.proration:
                lines.append(
                    LineDraft(
                        kind=BillLineKind.MONTH_END_PRORATION,
                        description=(
                            f"{renewal.contract.name} 月末までの日割 {renewal.extra_days}日分"
                        ),
                        amount=renewal.proration,
                        contract_id=renewal.contract.id,
                        period_start=renewal.term_end + timedelta(days=1),
                        period_end=renewal.new_renewal_date,
                    )
                )
        if lines and self.payment_method == PaymentMethod.CONVENIENCE_STORE:
            lines.append(convenience_store_fee_line())
        return lines

    @property
    def total(self) -> int:
        return sum(line.amount for line in self.lines)

    @property
    def tax_totals(self) -> list[RateTotal]:
        return totals_by_rate((line.amount, line.tax_rate) for line in self.lines)

    @property
    def due_date(self) -> date | None:
        """The last day all of its contracts can still be renewed, but at most 14 days away."""
        if not self.renewals or self.today is None:
            return None
        earliest = min(renewal.contract.renewal_date for renewal in self.renewals)
        return min(last_renewable_day(earliest), self.today + timedelta(days=MAX_DAYS_TO_PAY))


def renewal_line(renewal: QuotedRenewal) -> LineDraft:
    contract = renewal.contract
    period = period_label(renewal.months)
    if contract.is_domain:
        description = f"{contract.name} ドメイン更新 {period}"
    elif renewal.changes_plan:
        assert contract.plan and renewal.target_plan, "a server's plan and the one it moves to"
        description = (
            f"{contract.name} {contract.plan.name}→{renewal.target_plan.name}プラン"
            f" {period} 更新(プラン変更)"
        )
    else:
        assert contract.plan, "a server has a plan (the hosting_or_domain constraint)"
        description = f"{contract.name} {contract.plan.name}プラン {period} 更新"
    return LineDraft(
        kind=BillLineKind.RENEWAL,
        description=description,
        amount=renewal.price,
        contract_id=contract.id,
        period_months=renewal.months,
        new_renewal_date=renewal.new_renewal_date,
        target_plan_id=renewal.target_plan.id if renewal.target_plan else None,
        period_start=renewal.term_start,
        period_end=renewal.term_end,
    )


def is_renewable(contract: Contract, today: date) -> bool:
    return contract_status(contract.renewal_date, contract.is_trial, today, contract.lapsed_on) != (
        ContractStatus.EXPIRED
    )


def list_renewable_contracts(customer: Customer, today: date) -> list[Contract]:
    """The contracts the customer may renew today (trial, active or grace), servers first."""
    contracts = db.session.scalars(
        select(Contract)
        .options(selectinload(Contract.plan).selectinload(Plan.prices))
        .where(
            Contract.customer_id == customer.id,
            Contract.renewal_date >= today - timedelta(days=GRACE_DAYS),
        )
        .order_by(Contract.kind.desc(), Contract.renewal_date, Contract.name)
    )
    return [contract for contract in contracts if is_renewable(contract, today)]


def list_plans() -> list[Plan]:
    return list(
        db.session.scalars(select(Plan).options(selectinload(Plan.prices)).order_by(Plan.rank))
    )


def domain_prices() -> dict[str, int]:
    return {price.tld: price.price_per_year for price in db.session.scalars(select(DomainPrice))}


def bills_awaiting_for(contract_ids: list[int]) -> dict[int, str]:
    """Contract ID → the No. of the bill awaiting payment that already renews it."""
    if not contract_ids:
        return {}
    rows = db.session.execute(
        select(BillLine.contract_id, Bill.bill_no)
        .join(Bill)
        .where(
            BillLine.contract_id.in_(contract_ids),
            BillLine.kind == BillLineKind.RENEWAL,
            Bill.status == BillStatus.AWAITING_PAYMENT,
        )
    )
    return {contract_id: bill_no for contract_id, bill_no in rows}


def _downgrade_refusal(contract: Contract, target: Plan) -> RowRefusal | None:
    assert contract.plan, "only a server changes plan"
    if target.rank >= contract.plan.rank:
        return None
    reasons = []
    if contract.domains_used > target.max_domains:
        reasons.append(
            f"ドメイン数の上限は{target.max_domains}個ですが、{contract.domains_used}個ご利用中です"
        )
    if contract.mail_accounts_used > target.max_mail_accounts:
        reasons.append(
            f"メールアカウント数の上限は{target.max_mail_accounts}個ですが、"
            f"{contract.mail_accounts_used}個ご利用中です"
        )
    if not reasons:
        return None
    return RowRefusal(
        f"{target.name}プランへは変更できません。{target.name}プランの"
        + "。また、".join(reasons)
        + "。設定可能数にあわせてからお申込ください。"
    )


def _beyond_registration_limit(expiry: date, years: int, today: date) -> RowRefusal | None:
    """Why renewing for `years` would register the domain for more than 10 years from today;
    None when it would not."""
    allowed = domain_years_allowed(expiry, today)
    if years in allowed:
        return None
    limit = japanese_date(registration_limit(today))
    rule = (
        f"ドメインの登録期間は、本日から{MAX_REGISTRATION_YEARS}年後({limit})までです"
        "(レジストリの上限)。"
    )
    if not allowed:
        return RowRefusal(
            f"{rule}有効期限が{japanese_date(expiry)}のため、現在は更新できません。"
            f"{japanese_date(first_day_renewable_for_a_year(expiry))}から1年の更新をお申込いただけます。"
        )
    return RowRefusal(
        f"{rule}{years}年の更新では上限を超えるため、{max(allowed)}年までの期間をお選びください。"
    )


def _quote_one(
    contract: Contract,
    selection: Selection,
    plans: dict[int, Plan],
    prices_by_tld: dict[str, int],
    month_end: bool,
    today: date,
) -> QuotedRenewal | RowRefusal:
    if not is_renewable(contract, today):
        expired = labels.CONTRACT_STATUS[ContractStatus.EXPIRED]
        if contract.lapsed_on is not None:
            return RowRefusal(
                f"自動失効の設定により、有効期限({japanese_date(contract.renewal_date)})をもって"
                f"失効したため、更新できません({expired})。"
            )
        return RowRefusal(f"ご契約更新日の7日後を過ぎているため、更新できません({expired})。")
    if contract.is_domain:
        years, remainder = divmod(selection.months, 12)
        if remainder or years not in DOMAIN_RENEWAL_YEARS:
            return RowRefusal("ドメインの更新期間は1年〜10年の中からお選びください。")
        refusal = _beyond_registration_limit(contract.renewal_date, years, today)
        if refusal:
            return refusal
        if contract.tld not in prices_by_tld:
            return RowRefusal(f".{contract.tld} の更新料金が未設定のため、お申込できません。")
        return QuotedRenewal(
            contract=contract,
            months=selection.months,
            target_plan=None,
            price=prices_by_tld[contract.tld] * years,
            new_renewal_date=add_months(contract.renewal_date, selection.months),
        )

    assert contract.plan_id is not None, "a server has a plan (the hosting_or_domain constraint)"
    target = plans.get(selection.plan_id or contract.plan_id)
    if target is None:
        return RowRefusal("選択されたプランは存在しません。")
    price = {p.months: p.price for p in target.prices}.get(selection.months)
    if price is None:
        return RowRefusal(
            f"{target.name}プランでは{period_label(selection.months)}の期間は選択できません。"
        )
    refusal = _downgrade_refusal(contract, target)
    if refusal:
        return refusal
    new_renewal_date = add_months(contract.renewal_date, selection.months)
    renewal = QuotedRenewal(
        contract=contract,
        months=selection.months,
        target_plan=target,
        price=price,
        new_renewal_date=new_renewal_date,
    )
    if month_end:
        month_end_date = end_of_month(new_renewal_date)
        renewal.extra_days = (month_end_date - new_renewal_date).days
        renewal.proration = (
            target.one_month_price
            * renewal.extra_days
            // days_in_month(new_renewal_date.year, new_renewal_date.month)
        )
        renewal.new_renewal_date = month_end_date
    return renewal


def quote_renewal(
    customer: Customer,
    selections: list[Selection],
    month_end: bool,
    today: date,
    payment_method: str | None = None,
) -> RenewalQuote:
    """Price the selection on `today`. Contracts that cannot be renewed as chosen are left out
    of the price and listed in `refusals` with the reason."""
    quote = RenewalQuote(payment_method=payment_method, today=today)
    wanted = {selection.contract_id: selection for selection in selections}
    contracts = {
        contract.id: contract
        for contract in db.session.scalars(
            select(Contract)
            .options(selectinload(Contract.plan))
            .where(Contract.customer_id == customer.id, Contract.id.in_(wanted))
        )
    }
    if len(contracts) != len(wanted):
        raise DomainError("選択されたご契約が見つかりません。ページを開き直してください。")
    quote.contract_names = {contract.id: contract.name for contract in contracts.values()}
    plans = {plan.id: plan for plan in list_plans()}
    prices_by_tld = domain_prices()
    already_billed = bills_awaiting_for(list(wanted))
    for contract_id, selection in wanted.items():
        contract = contracts[contract_id]
        if contract_id in already_billed:
            bill_no = already_billed[contract_id]
            awaiting = labels.BILL_STATUS[BillStatus.AWAITING_PAYMENT]
            quote.refusals[contract_id] = RowRefusal(
                f"このご契約は請求No. {bill_no}({awaiting})でお申込済みです。", bill_no=bill_no
            )
            continue
        result = _quote_one(contract, selection, plans, prices_by_tld, month_end, today)
        if isinstance(result, RowRefusal):
            quote.refusals[contract_id] = result
        else:
            quote.renewals.append(result)
    return quote
