"""Build customers, plans and contracts in one line each; everything is committed."""

from datetime import UTC, date, datetime, time

import pyotp

from panel.dates import today_in_japan
from panel.extensions import db
from panel.models import (
    BalanceStatement,
    Bill,
    Contract,
    Customer,
    DomainPrice,
    Plan,
    PlanPrice,
    StaffMember,
    StaffRole,
    User,
)
from panel.models.balance import LedgerKind
from panel.models.bills import PaymentMethod
from panel.models.contracts import ContractKind
from panel.models.customers import CustomerKind, Role
from panel.services.auth import hash_password
from panel.services.balance import credit, current_balance, debit
from panel.services.month_end import close_month
from panel.services.renewal.application import apply_renewal, new_application_token
from panel.services.renewal.pricing import Selection

PASSWORD = "correct-horse-battery"  # noqa: S105


def plan(
    code: str = "standard",
    rank: int = 2,
    prices: dict[int, int] | None = None,
    max_domains: int = 30,
    max_mail_accounts: int = 300,
    one_month_price: int = 1_100,
) -> Plan:
    prices = prices or {1: 1_100, 3: 3_300, 6: 6_600, 12: 12_540}
    created = Plan(
        code=code,
        name=code.capitalize(),
        rank=rank,
        max_domains=max_domains,
        max_mail_accounts=max_mail_accounts,
        one_month_price=one_month_price,
        prices=[PlanPrice(months=m, price=p) for m, p in prices.items()],
    )
    db.session.add(created)
    db.session.commit()
    return created


def customer(
    member_id: str = "taro",
    *,
    kind: str = CustomerKind.INDIVIDUAL,
    name: str = "山田 太郎",
    password: str = PASSWORD,
    contract_email: str | None = None,
    sub_email: str | None = None,
) -> Customer:
    """A customer with its owner login (login ID = member ID)."""
    created = Customer(
        member_id=member_id,
        name=name,
        kind=kind,
        contract_email=contract_email or f"{member_id}@example.jp",
        sub_email=sub_email,
    )
    db.session.add(created)
    db.session.add(
        User(
            customer=created,
            login_id=member_id,
            role=Role.OWNER,
            password_hash=hash_password(password),
        )
    )
    db.session.commit()
    return created


def company_on_invoice_terms(
    member_id: str = "corp",
    *,
    name: str = "株式会社テスト",
    contact_name: str | None = None,
    sub_email: str | None = None,
) -> Customer:
    """A corporate customer on invoice terms (請求書払い, 月末締め翌月末払い)."""
    created = customer(member_id, kind=CustomerKind.CORPORATE, name=name, sub_email=sub_email)
    created.invoice_terms = True
    created.contact_name = contact_name
    db.session.commit()
    return created


def owner(customer: Customer) -> User:
    return next(user for user in customer.users if user.role == Role.OWNER)


def sub_user(customer: Customer, login_id: str, role: str, password: str = PASSWORD) -> User:
    created = User(
        customer=customer, login_id=login_id, role=role, password_hash=hash_password(password)
    )
    db.session.add(created)
    db.session.commit()
    return created


def server(
    customer: Customer,
    name: str,
    on_plan: Plan,
    renewal_date: date,
    *,
    is_trial: bool = False,
    domains_used: int = 1,
    mail_accounts_used: int = 1,
) -> Contract:
    created = Contract(
        customer=customer,
        kind=ContractKind.HOSTING,
        name=name,
        plan=on_plan,
        renewal_date=renewal_date,
        is_trial=is_trial,
        domains_used=domains_used,
        mail_accounts_used=mail_accounts_used,
    )
    db.session.add(created)
    db.session.commit()
    return created


def domain(customer: Customer, name: str, expires_on: date) -> Contract:
    created = Contract.registered_domain(customer, name, expires_on)
    db.session.add(created)
    db.session.commit()
    return created


def domain_price(tld: str, price_per_year: int) -> None:
    db.session.add(DomainPrice(tld=tld, price_per_year=price_per_year))
    db.session.commit()


def plan_lineup() -> dict[str, Plan]:
    """Three plans: lite (no 1-month period, small limits), standard and premium."""
    return {
        "lite": plan(
            "lite",
            rank=1,
            prices={3: 1_650, 12: 6_270},
            max_domains=5,
            max_mail_accounts=50,
            one_month_price=550,
        ),
        "standard": plan("standard", rank=2, prices={1: 1_100, 3: 3_300, 12: 12_540}),
        "premium": plan(
            "premium",
            rank=3,
            prices={1: 2_200, 12: 25_080},
            max_domains=100,
            max_mail_accounts=1_000,
            one_month_price=2_200,
        ),
    }


def renewal_bill(
    customer: Customer,
    *contracts: Contract,
    months: int = 12,
    method: str = PaymentMethod.BANK_TRANSFER,
    today: date | None = None,
) -> Bill:
    """A renewal of `contracts` applied as the renewal page does: one bill awaiting payment."""
    bill = apply_renewal(
        customer,
        [Selection(contract.id, months, contract.plan_id) for contract in contracts],
        month_end=False,
        payment_method=method,
        application_token=new_application_token(customer),
        today=today or today_in_japan(),
    )
    db.session.commit()
    return bill


def balance(customer: Customer, amount: int, *, credit_limit: int = 0) -> None:
    """The customer's credit limit set and its balance brought to `amount` yen by a correction
    entry (as staff would book one); committed."""
    customer.credit_limit = credit_limit
    change = amount - current_balance(customer)
    if change:
        book = credit if change > 0 else debit
        book(
            customer,
            kind=LedgerKind.CORRECTION,
            cause=f"factory-balance:{customer.id}:{amount}:{datetime.now(UTC).isoformat()}",
            amount=abs(change),
            description="残高の調整",
            now=datetime.now(UTC),
        )
    db.session.commit()


def balance_statement(customer: Customer, month_end: date, amount: int = 5_000) -> BalanceStatement:
    """A statement of the month ending `month_end`, after a correction entry of `amount` yen."""
    credit(
        customer,
        kind=LedgerKind.CORRECTION,
        cause=f"factory-statement:{month_end.isoformat()}",
        amount=amount,
        description="残高の設定(テスト)",
        now=datetime.combine(month_end, time(3), tzinfo=UTC),
    )
    statement = close_month(customer, month_end)
    assert statement is not None
    db.session.commit()
    return statement


def staff_member(
    login_id: str = "sato",
    role: str = StaffRole.SUPPORT,
    *,
    name: str = "佐藤 花子",
    password: str = PASSWORD,
    two_factor: bool = True,
) -> StaffMember:
    """A staff member; with `two_factor`, its authenticator is set up (a random secret)."""
    created = StaffMember(
        login_id=login_id,
        name=name,
        role=role,
        password_hash=hash_password(password),
        totp_secret=pyotp.random_base32() if two_factor else None,
    )
    db.session.add(created)
    db.session.commit()
    return created
