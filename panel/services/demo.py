"""Demo data for `flask --app wsgi demo seed`: plans, two customers, staff. Dates are relative
to the day it runs, so every contract status shows whenever the demo is set up."""

from datetime import date, datetime, time, timedelta
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from panel.dates import JAPAN, add_months, end_of_month
from panel.extensions import db
from panel.gateways import CardDetails, CardToken, payment_gateway
from panel.gateways.sandbox import sandbox_gateway
from panel.models import (
    Bill,
    Contract,
    Customer,
    DomainPrice,
    DomainTldPolicy,
    OnAccountPurchase,
    OutboxMail,
    PaperInvoiceRequest,
    Plan,
    PlanPrice,
    StaffMember,
    StaffRole,
    TransferNotice,
    User,
)
from panel.models.bills import BillKind, PaymentMethod
from panel.models.contracts import ContractKind
from panel.models.customers import CustomerKind, Role
from panel.models.domains import DomainPolicy
from panel.models.mail import RecipientStatus
from panel.services.audit import Client
from panel.services.auth import hash_password
from panel.services.balance import start_deposit
from panel.services.billing import (
    cancel_bill,
    convenience_store_fee_line,
    create_bill,
    new_application_token,
    queue_bill_mail,
    transfer_reference,
)
from panel.services.contracts import last_renewable_day
from panel.services.direct_debit import complete_registration, customer_ref
from panel.services.month_end import close_month
from panel.services.on_account import bill_month_end, last_closed_month
from panel.services.payments import (
    ReceivedMoney,
    apply_payment,
    issue_store_payment,
    pay_from_balance,
)
from panel.services.renewal.application import apply_renewal
from panel.services.renewal.pricing import (
    MAX_DAYS_TO_PAY,
    QuotedRenewal,
    Selection,
    renewal_line,
)
from panel.services.users import sub_user_login_id

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
DOMAIN_PRICES = {
    "com": 1_650,
    "net": 1_760,
    "jp": 3_520,
    "co.jp": 4_180,
    "biz": 2_200,
    # The registrar's two balance examples: a 1,000円 domain, and one of 20,000円 (2 years).
    "xyz": 1_000,
    "ai": 10_000,
    # A premium TLD a company registers to protect its brand: more than demo-corp has to spend.
    "inc": 330_000,
}


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
    **details: str,
) -> Customer:
    """`details`: the reading of the name, the phone number and the postal address."""
    customer = Customer(
        member_id=member_id,
        name=name,
        kind=kind,
        contract_email=contract_email,
        sub_email=sub_email,
        credit_limit=credit_limit,
        **details,
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


# Bills of the past, made by the same services as real ones and dated back.

NOBODY = Client(ip_address=None, user_agent=None)


def _at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=JAPAN)


def _mails_sent(bill: Bill, at: datetime) -> None:
    """The demo's past e-mails went out when they were written."""
    for mail in db.session.scalars(
        select(OutboxMail).where(OutboxMail.bill_id == bill.id, OutboxMail.sent_at.is_(None))
    ):
        mail.created_at = mail.next_attempt_at = mail.sent_at = at
        for recipient in mail.addressees:
            recipient.status, recipient.answered_at = RecipientStatus.ACCEPTED, at


def _past_renewal(
    contracts: list[tuple[Contract, int]], method: str, applied_on: date, paid: bool = True
) -> Bill:
    """A renewal bill of the past: one that was paid brought each contract to the renewal date
    it has now; one that was not would have extended it from there."""
    lines, earlier_dates = [], []
    for contract, months in contracts:
        if paid:
            earlier, new = add_months(contract.renewal_date, -months), contract.renewal_date
        else:
            earlier, new = contract.renewal_date, add_months(contract.renewal_date, months)
        if contract.is_domain:
            assert contract.tld is not None, "a domain has a TLD"
            price = DOMAIN_PRICES[contract.tld] * (months // 12)
        else:
            assert contract.plan is not None, "a server has a plan"
            price = {p.months: p.price for p in contract.plan.prices}[months]
        lines.append(
            renewal_line(
                QuotedRenewal(
                    contract=contract,
                    months=months,
                    target_plan=contract.plan,
                    price=price,
                    new_renewal_date=new,
                    renews_from=earlier,
                )
            )
        )
        earlier_dates.append(earlier)
    if method == PaymentMethod.CONVENIENCE_STORE:
        lines.append(convenience_store_fee_line())
    bill = create_bill(
        contracts[0][0].customer,
        kind=BillKind.RENEWAL,
        payment_method=method,
        applied_on=applied_on,
        due_date=min(
            last_renewable_day(min(earlier_dates)), applied_on + timedelta(days=MAX_DAYS_TO_PAY)
        ),
        lines=lines,
    )
    db.session.flush()
    bill.created_at = _at(applied_on, 10)
    queue_bill_mail(bill)
    db.session.flush()
    _mails_sent(bill, bill.created_at)
    return bill


def _recent_renewal(contract: Contract, method: str, applied_on: date) -> Bill:
    """A renewal applied a few days ago through the renewal page's own service, awaiting
    payment; its bill e-mail went out that day."""
    bill = apply_renewal(
        contract.customer,
        [Selection(contract_id=contract.id, months=12, plan_id=contract.plan_id)],
        month_end=False,
        payment_method=method,
        application_token=new_application_token(contract.customer),
        today=applied_on,
    )
    bill.created_at = _at(applied_on, 10)
    _mails_sent(bill, bill.created_at)
    return bill


def _paid(bill: Bill, on: date, reference: str, **details) -> None:
    at = _at(on, 14)
    money = ReceivedMoney(
        provider="sandbox",
        event_id=f"demo-{bill.bill_no}",
        method=bill.payment_method,
        amount=bill.total,
        received_at=at,
        reference=reference,
        **details,
    )
    apply_payment(bill, money, at, NOBODY)
    db.session.flush()
    _mails_sent(bill, at)


def _seed_bill_history(customer: Customer, contracts: dict[str, Contract], today: date) -> None:
    """Paid bills by card, PayPal, convenience store and bank transfer (with a transfer
    notice), a cancelled one, and one awaiting a convenience-store payment."""
    shop = contracts["yamada-shop.jp"]
    issued = add_months(shop.renewal_date, -12) - timedelta(days=9)
    bill = _past_renewal([(shop, 12)], PaymentMethod.CARD, issued)
    _paid(bill, issued, bill.bill_no, card=CardToken("tok_demo", "VISA", "4242", "12/29"))

    blog, photo = contracts["yamada-blog.com"], contracts["yamada-photo.net"]
    issued = add_months(blog.renewal_date, -12) - timedelta(days=12)
    bill = _past_renewal([(blog, 12), (photo, 12)], PaymentMethod.PAYPAL, issued)
    _paid(bill, issued, bill.bill_no)

    domain = contracts["yamada.net (domain)"]
    issued = add_months(domain.renewal_date, -12) - timedelta(days=20)
    bill = _past_renewal([(domain, 12)], PaymentMethod.CONVENIENCE_STORE, issued)
    slip = issue_store_payment(bill, issued)
    db.session.flush()
    slip.created_at = _at(issued, 11)
    _paid(bill, issued + timedelta(days=1), slip.payment_number)

    old = contracts["yamada-old.jp"]
    issued = add_months(old.renewal_date, -1) - timedelta(days=6)
    bill = _past_renewal([(old, 1)], PaymentMethod.BANK_TRANSFER, issued)
    db.session.add(
        TransferNotice(
            bill=bill,
            user_id=customer.users[0].id,
            transferred_on=issued + timedelta(days=1),
            payer_name=f"{transfer_reference(bill)} ヤマダタロウ",
            amount=bill.total,
            bank_name="ゆうちょ銀行",
            created_at=_at(issued + timedelta(days=1), 12),
        )
    )
    _paid(
        bill,
        issued + timedelta(days=2),
        transfer_reference(bill),
        payer_name=f"{transfer_reference(bill)} ヤマダタロウ",
    )

    archive = contracts["yamada-archive.jp"]
    issued = archive.renewal_date - timedelta(days=10)
    bill = _past_renewal([(archive, 3)], PaymentMethod.BANK_TRANSFER, issued, paid=False)
    cancelled_at = _at(issued + timedelta(days=3), 9)
    cancel_bill(bill, cancelled_at, None, NOBODY)
    db.session.flush()
    _mails_sent(bill, cancelled_at)
    # Its transfer arrived after all: the money is kept for staff to settle (確認待ちの入金).
    late = _at(issued + timedelta(days=5), 10)
    payer = f"{transfer_reference(bill)} ヤマダタロウ"
    late_money = ReceivedMoney(
        provider="sandbox",
        event_id=f"demo-late-{bill.bill_no}",
        method=PaymentMethod.BANK_TRANSFER,
        amount=bill.total,
        received_at=late,
        reference=transfer_reference(bill),
        payer_name=payer,
    )
    apply_payment(bill, late_money, late, NOBODY)

    # Awaiting a convenience-store payment; its number is already issued.
    domain = contracts["yamada-shop.jp (domain)"]
    bill = _recent_renewal(domain, PaymentMethod.CONVENIENCE_STORE, today - timedelta(days=1))
    slip = issue_store_payment(bill, today)
    db.session.flush()
    slip.created_at = _at(bill.applied_on, 11)


# The account balance: deposits, purchases paid from it, and the monthly statements.


def _deposit(customer: Customer, amount: int, method: str, on: date) -> Bill:
    """A deposit of the past, paid (by card at once, by bank transfer the next day)."""
    bill = start_deposit(customer, amount, method, new_application_token(customer), on)
    db.session.flush()
    bill.created_at = _at(on, 10)
    _mails_sent(bill, bill.created_at)
    if method == PaymentMethod.CARD:
        _paid(bill, on, bill.bill_no, card=CardToken("tok_demo", "VISA", "4242", "12/29"))
    else:
        _paid(
            bill,
            on + timedelta(days=1),
            transfer_reference(bill),
            payer_name=f"{transfer_reference(bill)} ヤマダタロウ",
        )
    return bill


def _bought_from_balance(domain: Contract, on: date) -> Bill:
    """A one-year renewal of `domain` paid from the balance on `on`, which brought it to the
    expiry date it has now."""
    assert domain.tld is not None, "a domain has a TLD"
    earlier = add_months(domain.renewal_date, -12)
    line = renewal_line(
        QuotedRenewal(
            contract=domain,
            months=12,
            target_plan=None,
            price=DOMAIN_PRICES[domain.tld],
            new_renewal_date=domain.renewal_date,
            renews_from=earlier,
        )
    )
    bill = create_bill(
        domain.customer,
        kind=BillKind.RENEWAL,
        payment_method=PaymentMethod.BALANCE,
        applied_on=on,
        due_date=min(last_renewable_day(earlier), on + timedelta(days=MAX_DAYS_TO_PAY)),
        lines=[line],
    )
    db.session.flush()
    bill.created_at = _at(on, 11)
    pay_from_balance(bill, _at(on, 11), NOBODY)
    db.session.flush()
    _mails_sent(bill, bill.created_at)
    return bill


def _seed_balance(customer: Customer, today: date) -> None:
    """About ten weeks of the balance: a bank-transfer deposit, two domains renewed from it, a
    card deposit that tops it up again to 10,000円, and a statement for each month closed on
    the way. With the credit limit (10,000円) it reproduces the registrar's two examples: a
    1,000円 domain (yamada.xyz) leaves 9,000円; a 20,000円 one (yamada.ai, 2 years) takes
    it to -10,000円, billed at month end."""
    db.session.flush()  # the account is locked (and re-read) to book each entry
    days = lambda n: today + timedelta(days=n)  # noqa: E731
    mail = _domain(customer, "yamada-mail.com", days(330))
    news = _domain(customer, "yamada-news.jp", days(350))
    _domain(customer, "yamada.xyz", days(50))
    _domain(customer, "yamada.ai", days(70))
    db.session.flush()
    events = [
        (days(-70), lambda: _deposit(customer, 10_000, PaymentMethod.BANK_TRANSFER, days(-70))),
        (days(-40), lambda: _bought_from_balance(mail, days(-40))),
        (days(-20), lambda: _bought_from_balance(news, days(-20))),
        (days(-10), lambda: _deposit(customer, 5_170, PaymentMethod.CARD, days(-10))),
    ]
    month_end = end_of_month(days(-70))
    for day, happen in events:
        while month_end < day:
            _closed(customer, month_end)
            month_end = end_of_month(month_end + timedelta(days=1))
        happen()
    while month_end < today:
        _closed(customer, month_end)
        month_end = end_of_month(month_end + timedelta(days=1))


def _closed(customer: Customer, month_end: date) -> None:
    statement = close_month(customer, month_end)
    if statement is not None:
        statement.created_at = _at(month_end, 3)


def _seed_individual(plans: dict[str, Plan], today: date) -> None:
    customer = _customer(
        "demo",
        "山田 太郎",
        CustomerKind.INDIVIDUAL,
        "demo@example.jp",
        "demo-sub@example.com",
        credit_limit=10_000,
        name_kana="ヤマダ タロウ",
        phone="090-1234-5678",
        postal_code="150-0001",
        postal_address="東京都渋谷区神宮前1-2-3 サンプルハイツ101",
    )
    days = lambda n: today + timedelta(days=n)  # noqa: E731
    _server(customer, "yamada-trial.jp", plans["standard"], days(9), is_trial=True)
    # Uses more domains and mail accounts than the lite plan allows: a downgrade is refused.
    shop = _server(
        customer,
        "yamada-shop.jp",
        plans["standard"],
        days(45),
        domains_used=12,
        mail_accounts_used=80,
    )
    # Two servers with the same renewal date: renewed and auto-charged together.
    blog = _server(customer, "yamada-blog.com", plans["lite"], days(20))
    photo = _server(customer, "yamada-photo.net", plans["lite"], days(20))
    old = _server(customer, "yamada-old.jp", plans["standard"], days(-3))  # in the grace period
    archive = _server(customer, "yamada-archive.jp", plans["lite"], days(-30))  # expired
    office = _server(customer, "yamada-office.jp", plans["premium"], days(12))
    shop_domain = _domain(customer, "yamada-shop.jp", days(60))
    blog_domain = _domain(customer, "yamada-blog.com", days(100))
    net_domain = _domain(customer, "yamada.net", days(25))
    db.session.flush()
    # 自動更新 for the account (as every account starts), 自動失効 for .net, and the blog's
    # domain let go on its own setting; yamada.net's transfer lock is off (about to move out).
    db.session.add(
        DomainTldPolicy(customer_id=customer.id, tld="net", policy=DomainPolicy.AUTO_EXPIRE)
    )
    blog_domain.domain_policy = DomainPolicy.AUTO_EXPIRE
    net_domain.transfer_locked = False

    _seed_bill_history(
        customer,
        {
            "yamada-shop.jp": shop,
            "yamada-blog.com": blog,
            "yamada-photo.net": photo,
            "yamada-old.jp": old,
            "yamada-archive.jp": archive,
            "yamada.net (domain)": net_domain,
            "yamada-shop.jp (domain)": shop_domain,
        },
        today,
    )

    # A renewal applied two days ago, awaiting a bank transfer: the customer sent it yesterday
    # and said so (振込連絡), and asked for the invoice on paper; staff confirm it.
    awaiting = _recent_renewal(office, PaymentMethod.BANK_TRANSFER, days(-2))
    db.session.flush()
    db.session.add(
        TransferNotice(
            bill=awaiting,
            user_id=customer.users[0].id,
            transferred_on=days(-1),
            payer_name=f"{transfer_reference(awaiting)} ヤマダタロウ",
            amount=awaiting.total,
            bank_name="みずほ銀行",
            created_at=_at(days(-1), 15),
        )
    )
    db.session.add(
        PaperInvoiceRequest(
            bill_id=awaiting.id, user_id=customer.users[0].id, requested_at=_at(days(-2), 11)
        )
    )

    # Auto-renewal on for a year at a time, with a sandbox card saved at the gateway; the shop
    # server is renewed by hand (its own setting OFF), the trial is left out.
    saved = payment_gateway().save_card(
        CardDetails("4242424242424242", 12, today.year + 3, "123"), today
    )
    customer.saved_card_token = saved.token
    customer.saved_card_brand = saved.brand
    customer.saved_card_last4 = saved.last4
    customer.saved_card_expiry = saved.expiry
    customer.auto_renewal = True
    customer.auto_renewal_months = 12
    shop.auto_renewal = False

    _seed_balance(customer, today)


def _seed_corporate(plans: dict[str, Plan], today: date) -> None:
    customer = _customer(
        "demo-corp",
        "株式会社デモ商事",
        CustomerKind.CORPORATE,
        "keiri@demo-corp.example.jp",
        "it@demo-corp.example.jp",
        credit_limit=100_000,
        name_kana="カブシキガイシャデモショウジ",
        phone="03-1234-5678",
        postal_code="100-0005",
        postal_address="東京都千代田区丸の内1-1-1 デモビル10階",
    )
    days = lambda n: today + timedelta(days=n)  # noqa: E731
    server = _server(
        customer,
        "demo-corp.co.jp",
        plans["premium"],
        days(120),
        domains_used=8,
        mail_accounts_used=140,
    )
    # The accounting clerk (経理): a sub-user, named within the account's own login IDs.
    db.session.add(
        User(
            customer=customer,
            login_id=sub_user_login_id(customer, "keiri"),
            email="tanaka@demo-corp.example.jp",
            role=Role.BILLING,
            password_hash=hash_password(DEMO_PASSWORD),
        )
    )
    # The IT staff (情報システム): domains, their locks and AuthCodes; no bills.
    db.session.add(
        User(
            customer=customer,
            login_id=sub_user_login_id(customer, "it"),
            email="it@demo-corp.example.jp",
            role=Role.TECHNICAL,
            password_hash=hash_password(DEMO_PASSWORD),
        )
    )
    domains = {
        name: _domain(customer, name, days(expires_in))
        for name, expires_in in (
            ("demo-corp.co.jp", 150),
            ("demo-corp.com", 40),
            ("demo-corp.net", 80),
            ("demo-corp-cloud.net", 130),
            ("demo-corp-shop.net", 300),
            ("demo-corp.jp", 10),
            ("demo-corp.biz", 200),
            ("demo-corp-campaign.com", 45),
            # On 自動更新, due at once: the balance cannot pay for it (330,000円 against
            # 110,000円), so the first `jobs daily` tells the company so, and again weekly.
            ("demo-corp.inc", 20),
        )
    }
    # Registered up to nine and a half years ahead: within a year of the registries' 10-year
    # limit, so the renewal page says why it cannot be renewed now.
    domains["demo-corp-brand.com"] = _domain(
        customer, "demo-corp-brand.com", add_months(today, 114)
    )
    db.session.flush()
    # 自動更新 for the account; 自動失効 for .biz, and for a campaign's domain on its own
    # setting; .net is left to the account (the place to try a TLD's setting). One domain has
    # its update lock off.
    db.session.add(
        DomainTldPolicy(customer_id=customer.id, tld="biz", policy=DomainPolicy.AUTO_EXPIRE)
    )
    domains["demo-corp-campaign.com"].domain_policy = DomainPolicy.AUTO_EXPIRE
    domains["demo-corp-shop.net"].update_locked = False
    issued = add_months(server.renewal_date, -12) - timedelta(days=14)
    bill = _past_renewal([(server, 12)], PaymentMethod.BANK_TRANSFER, issued)
    _paid(bill, issued + timedelta(days=3), transfer_reference(bill), payer_name="カ)デモシヨウジ")

    # 10,000円 in the balance (and a credit limit of 100,000円): renewing the server from it
    # takes it below zero.
    deposit = start_deposit(
        customer,
        10_000,
        PaymentMethod.BANK_TRANSFER,
        new_application_token(customer),
        days(-12),
    )
    db.session.flush()
    deposit.created_at = _at(days(-12), 10)
    _mails_sent(deposit, deposit.created_at)
    _paid(
        deposit,
        days(-11),
        transfer_reference(deposit),
        payer_name=f"{transfer_reference(deposit)} カ)デモシヨウジ",
    )
    _seed_invoice_terms(customer, today)


def _bought_on_account(customer: Customer, name: str, months: int, on: date, token: str) -> None:
    """A domain renewed on account on `on`, 20 days before it expired: the purchase brought it
    to the expiry date it has now (it was applied when bought)."""
    expired_on = on + timedelta(days=20)
    domain = _domain(customer, name, add_months(expired_on, months))
    db.session.flush()
    assert domain.tld is not None, "a domain has a TLD"
    line = renewal_line(
        QuotedRenewal(
            contract=domain,
            months=months,
            target_plan=None,
            price=DOMAIN_PRICES[domain.tld] * (months // 12),
            new_renewal_date=domain.renewal_date,
            renews_from=expired_on,
        )
    )
    db.session.add(
        OnAccountPurchase(
            customer=customer,
            purchased_on=on,
            application_token=token,
            position=1,
            user_id=customer.users[0].id,
            kind=line.kind,
            description=line.description,
            amount=line.amount,
            tax_rate=line.tax_rate,
            contract_id=domain.id,
            period_months=line.period_months,
            new_renewal_date=line.new_renewal_date,
            period_start=line.period_start,
            period_end=line.period_end,
            created_at=_at(on, 11),
        )
    )


def _seed_invoice_terms(customer: Customer, today: date) -> None:
    """demo-corp is on invoice terms (請求書払い, 月末締め翌月末払い), with its contact person: a
    bank account registered for direct debit through the sandbox's form, last month's bill
    awaiting collection from it at the end of this month, and this month's purchases on
    account, which `jobs daily` bills on the 1st of next month."""
    customer.invoice_terms = True
    customer.contact_name = "経理部 田中 一郎"
    db.session.flush()
    owner = customer.users[0]
    last_closing = last_closed_month(today)
    back = sandbox_gateway().register_bank_account(
        {"customer_ref": customer_ref(customer), "return_url": "/settings/direct-debit/return"},
        bank_name="三井住友銀行",
        branch_name="本店",
        account_type="ordinary",
        account_number="1234567",
        holder_kana="カ)デモシヨウジ",
    )
    result = parse_qs(urlsplit(back).query)["result"][0]
    complete_registration(customer, result, _at(last_closing.replace(day=1), 10), owner, NOBODY)

    _bought_on_account(customer, "demo-corp-recruit.com", 12, last_closing.replace(day=5), "d1")
    _bought_on_account(customer, "demo-corp-global.jp", 12, last_closing.replace(day=20), "d2")
    db.session.flush()
    bill = bill_month_end(customer.id, last_closing)
    assert bill is not None, "last month's purchases make a bill"
    db.session.flush()
    bill.created_at = _at(today.replace(day=1), 6)
    _mails_sent(bill, bill.created_at)

    first = today.replace(day=1)
    _bought_on_account(customer, "demo-corp-event.net", 12, first, "d3")
    _bought_on_account(
        customer, "demo-corp-cloud.biz", 24, min(first + timedelta(days=9), today), "d4"
    )


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
        # A 管理者 (every page of the console); two-factor login is set up at the first login.
        db.session.add(
            StaffMember(
                login_id="staff",
                name="佐藤 美咲",
                role=StaffRole.ADMIN,
                password_hash=hash_password(STAFF_PASSWORD),
            )
        )
    return not (had_plans and had_staff and {"demo", "demo-corp"} <= existing)
