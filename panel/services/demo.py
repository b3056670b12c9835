"""Demo data for `flask --app wsgi demo seed`: plans, two customers, staff. Dates are relative
to the day it runs, so every contract status shows whenever the demo is set up."""

from datetime import date, timedelta

from sqlalchemy import select

from panel.extensions import db
from panel.models import Contract, Customer, DomainPrice, Plan, PlanPrice, StaffMember, User
from panel.models.bills import PaymentMethod
from panel.models.contracts import ContractKind
from panel.models.customers import CustomerKind, Role
from panel.services.auth import hash_password
from panel.services.renewal import Selection, apply_renewal

DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105  (published demo credentials)
STAFF_PASSWORD = "staff-pass-2026"  # noqa: S105

#: code, name, rank, max domains, max mail accounts, {months: tax-included price}
PLANS = (
    (
        "lite",
        "ライト",
        1,
        5,
        50,
        {3: 1_650, 6: 3_300, 12: 6_270, 24: 12_540, 36: 17_820, 60: 29_700},
    ),
    (
        "standard",
        "スタンダード",
        2,
        30,
        300,
        {1: 1_100, 3: 3_300, 6: 6_600, 12: 12_540, 24: 24_420, 36: 35_640, 60: 59_400},
    ),
    (
        "premium",
        "プレミアム",
        3,
        100,
        1000,
        {1: 2_200, 3: 6_600, 6: 13_200, 12: 25_080, 24: 48_840, 36: 71_280, 60: 118_800},
    ),
)
#: The lite plan has no one-month period; its one-month price still prorates month ends.
LITE_ONE_MONTH_PRICE = 550


def _seed_plans() -> dict[str, Plan]:
    plans = {plan.code: plan for plan in db.session.scalars(select(Plan))}
    for code, name, rank, max_domains, max_mail_accounts, prices in PLANS:
        if code in plans:
            continue
        plans[code] = Plan(
            code=code,
            name=name,
            rank=rank,
            max_domains=max_domains,
            max_mail_accounts=max_mail_accounts,
            one_month_price=prices.get(1, LITE_ONE_MONTH_PRICE),
            prices=[PlanPrice(months=months, price=price) for months, price in prices.items()],
        )
        db.session.add(plans[code])
    return plans


#: Tax-included price of one year per TLD.
DOMAIN_PRICES = {"com": 1_650, "net": 1_760, "jp": 3_520, "co.jp": 4_180, "biz": 2_200}


def _seed_domain_prices() -> None:
    existing = set(db.session.scalars(select(DomainPrice.tld)))
    for tld, price in DOMAIN_PRICES.items():
        if tld not in existing:
            db.session.add(DomainPrice(tld=tld, price_per_year=price))


def _customer(
    member_id: str,
    name: str,
    kind: str,
    contract_email: str,
    sub_email: str | None,
    credit_limit: int = 0,
) -> Customer:
    customer = Customer(
        member_id=member_id,
        name=name,
        kind=kind,
        contract_email=contract_email,
        sub_email=sub_email,
        credit_limit=credit_limit,
    )
    db.session.add(customer)
    db.session.add(
        User(
            customer=customer,
            login_id=member_id,
            role=Role.OWNER,
            password_hash=hash_password(DEMO_PASSWORD),
        )
    )
    return customer


def _server(
    customer: Customer,
    name: str,
    plan: Plan,
    renewal_date: date,
    *,
    is_trial: bool = False,
    domains_used: int = 1,
    mail_accounts_used: int = 3,
) -> Contract:
    contract = Contract(
        customer=customer,
        kind=ContractKind.HOSTING,
        name=name,
        plan=plan,
        renewal_date=renewal_date,
        is_trial=is_trial,
        domains_used=domains_used,
        mail_accounts_used=mail_accounts_used,
    )
    db.session.add(contract)
    return contract


def _domain(customer: Customer, name: str, expires_on: date) -> Contract:
    contract = Contract.registered_domain(customer, name, expires_on)
    db.session.add(contract)
    return contract


def _seed_individual(plans: dict[str, Plan], today: date) -> None:
    customer = _customer(
        "demo", "山田 太郎", CustomerKind.INDIVIDUAL, "demo@example.jp", "demo-sub@example.com"
    )
    days = lambda n: today + timedelta(days=n)  # noqa: E731
    _server(customer, "yamada-trial.jp", plans["standard"], days(9), is_trial=True)
    # Uses more domains and mail accounts than the lite plan allows: a downgrade is refused.
    _server(
        customer,
        "yamada-shop.jp",
        plans["standard"],
        days(45),
        domains_used=12,
        mail_accounts_used=80,
    )
    # Two servers with the same renewal date: renewed and auto-charged together.
    _server(customer, "yamada-blog.com", plans["lite"], days(20))
    _server(customer, "yamada-photo.net", plans["lite"], days(20))
    _server(customer, "yamada-old.jp", plans["standard"], days(-3))  # in the grace period
    _server(customer, "yamada-archive.jp", plans["lite"], days(-30))  # expired
    office = _server(customer, "yamada-office.jp", plans["premium"], days(12))
    _domain(customer, "yamada-shop.jp", days(60))
    _domain(customer, "yamada-blog.com", days(100))
    _domain(customer, "yamada.net", days(25))
    db.session.flush()

    # A renewal applied two days ago, awaiting a bank transfer.
    apply_renewal(
        customer,
        [Selection(contract_id=office.id, months=12, plan_id=office.plan_id)],
        month_end=False,
        payment_method=PaymentMethod.BANK_TRANSFER,
        application_token=f"demo-{office.id}",
        today=days(-2),
    )


def _seed_corporate(plans: dict[str, Plan], today: date) -> None:
    customer = _customer(
        "demo-corp",
        "株式会社デモ商事",
        CustomerKind.CORPORATE,
        "keiri@demo-corp.example.jp",
        "it@demo-corp.example.jp",
        credit_limit=100_000,
    )
    days = lambda n: today + timedelta(days=n)  # noqa: E731
    _server(
        customer,
        "demo-corp.co.jp",
        plans["premium"],
        days(120),
        domains_used=8,
        mail_accounts_used=140,
    )
    for name, expires_in in (
        ("demo-corp.co.jp", 150),
        ("demo-corp.com", 40),
        ("demo-corp.net", 80),
        ("demo-corp.jp", 10),
        ("demo-corp.biz", 200),
    ):
        _domain(customer, name, days(expires_in))


def seed_demo(today: date) -> bool:
    """Add whatever part of the demo data is missing; True if anything was added."""
    existing = set(db.session.scalars(select(Customer.member_id)))
    had_staff = db.session.scalar(select(StaffMember).where(StaffMember.login_id == "staff"))
    had_plans = db.session.scalar(select(Plan.id).limit(1)) is not None
    plans = _seed_plans()
    _seed_domain_prices()
    if "demo" not in existing:
        _seed_individual(plans, today)
    if "demo-corp" not in existing:
        _seed_corporate(plans, today)
    if not had_staff:
        db.session.add(
            StaffMember(
                login_id="staff", name="サポート 佐藤", password_hash=hash_password(STAFF_PASSWORD)
            )
        )
    return not (had_plans and had_staff and {"demo", "demo-corp"} <= existing)
