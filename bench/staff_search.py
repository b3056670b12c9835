"""The staff's customer search (`/staff/?q=`, as htmx asks for it while staff type) over 30,000
customers with 90,000 contracts.

Prints how long making the search terms of every customer took, then for each kind of query
(member ID, name, kana, e-mail, phone, domain, one letter, nothing found) the p50 and p95 of
the whole request over 50 runs, and the database's plan for the lookup: a range of the terms'
index, never a scan of the customers. Usage:
    .venv/bin/python bench/staff_search.py                      # SQLite (a temporary file)
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench \
        .venv/bin/python bench/staff_search.py                  # PostgreSQL (emptied first)
"""

import re
import time
from datetime import date, timedelta

import pyotp
from common import backend, bench_app, percentile
from sqlalchemy import insert, select, text

from panel.database import writing
from panel.extensions import db
from panel.models import Contract, Customer, Plan, PlanPrice, StaffMember
from panel.services.auth import hash_password
from panel.services.staff.search import normalised, reindex_customers

CUSTOMERS = 30_000
CONTRACTS_EACH = 3
RUNS = 50
CHUNK = 5_000
TODAY = date(2026, 11, 21)
FAMILY = [
    ("佐藤", "サトウ"), ("鈴木", "スズキ"), ("高橋", "タカハシ"), ("田中", "タナカ"),
    ("伊藤", "イトウ"), ("渡辺", "ワタナベ"), ("山本", "ヤマモト"), ("中村", "ナカムラ"),
    ("小林", "コバヤシ"), ("加藤", "カトウ"), ("吉田", "ヨシダ"), ("山田", "ヤマダ"),
]  # fmt: skip
GIVEN = [
    ("太郎", "タロウ"), ("花子", "ハナコ"), ("健", "ケン"), ("美咲", "ミサキ"),
    ("大輔", "ダイスケ"), ("陽子", "ヨウコ"), ("翔", "ショウ"), ("愛", "アイ"),
]  # fmt: skip
QUERIES = {
    "member ID": "c012",
    "name": "佐藤 健",
    "kana": "やまだ",
    "e-mail": "user1234",
    "phone": "090-1234",
    "domain": "shop-12345",
    "one letter": "s",
    "nothing found": "zzz-nobody",
}
PASSWORD = "bench-staff-pass"  # noqa: S105


def _seed() -> None:
    plan = Plan(
        code="standard",
        name="スタンダード",
        rank=1,
        max_domains=30,
        max_mail_accounts=300,
        one_month_price=1_100,
        prices=[PlanPrice(months=12, price=12_540)],
    )
    db.session.add(plan)
    db.session.add(
        StaffMember(
            login_id="bench-staff",
            name="ベンチ",
            role="support",
            password_hash=hash_password(PASSWORD),
            totp_secret=pyotp.random_base32(),
        )
    )
    db.session.flush()
    customers, contracts = [], []
    for n in range(CUSTOMERS):
        family, given = FAMILY[n % len(FAMILY)], GIVEN[(n // len(FAMILY)) % len(GIVEN)]
        customers.append(
            {
                "id": n + 1,
                "member_id": f"c{n:06d}",
                "name": f"{family[0]} {given[0]}",
                "name_kana": f"{family[1]} {given[1]}",
                "kind": "individual",
                "contract_email": f"user{n}@example{n % 97}.jp",
                "sub_email": None,
                "phone": f"090-{n % 10_000:04d}-{n // 10_000:04d}",
                "notify_40_days_before": False,
                "credit_limit": 0,
                "login_ip_restricted": False,
                "auto_renewal": False,
                "auto_renewal_months": 12,
            }
        )
        for k in range(CONTRACTS_EACH):
            number = n * CONTRACTS_EACH + k
            hosting = k == 0
            contracts.append(
                {
                    "customer_id": n + 1,
                    "kind": "hosting" if hosting else "domain",
                    "name": f"shop-{number}.jp" if hosting else f"site-{number}.com",
                    "plan_id": plan.id if hosting else None,
                    "tld": None if hosting else "com",
                    "renewal_date": TODAY + timedelta(days=number % 365),
                    "is_trial": False,
                    "domains_used": 1,
                    "mail_accounts_used": 1,
                }
            )
    for start in range(0, len(customers), CHUNK):
        db.session.execute(insert(Customer), customers[start : start + CHUNK])
    for start in range(0, len(contracts), CHUNK):
        db.session.execute(insert(Contract), contracts[start : start + CHUNK])
    db.session.commit()


def _staff_client(app):
    client = app.test_client()

    def token(path):
        page = client.get(path).get_data(as_text=True)
        return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)

    data = {"login_id": "bench-staff", "password": PASSWORD, "csrf_token": token("/staff/login")}
    client.post("/staff/login", data=data)
    secret = db.session.scalar(select(StaffMember.totp_secret))
    code = pyotp.TOTP(secret).now()
    client.post("/staff/login/code", data={"code": code, "csrf_token": token("/staff/login/code")})
    assert client.get("/staff/").status_code == 200, "the bench staff member cannot log in"
    return client


def _plan(query: str) -> str:
    prefix = normalised(query)
    sql = (
        "SELECT customer_id FROM customer_search_terms WHERE term >= :low AND term < :high "
        "ORDER BY term LIMIT 200"
    )
    params = {"low": prefix, "high": prefix[:-1] + chr(ord(prefix[-1]) + 1)}
    if db.engine.dialect.name == "postgresql":
        rows = db.session.scalars(text(f"EXPLAIN {sql}"), params)
        return " / ".join(line.strip() for line in rows)
    rows = db.session.execute(text(f"EXPLAIN QUERY PLAN {sql}"), params)
    return " / ".join(row[-1] for row in rows)


def main() -> None:
    app = bench_app()
    with app.app_context():
        with writing():
            _seed()
            started = time.perf_counter()
            with db.engine.begin() as connection:
                reindex_customers(connection, range(1, CUSTOMERS + 1))
            indexed = time.perf_counter() - started
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect() as connection:
                connection.execute(text("ANALYZE"))
        terms = db.session.scalar(text("SELECT count(*) FROM customer_search_terms"))
        db.session.remove()
        client = _staff_client(app)
        print(
            f"staff search on {backend(app)}: {CUSTOMERS:,} customers, "
            f"{CUSTOMERS * CONTRACTS_EACH:,} contracts, {terms:,} search terms "
            f"(made in {indexed:.1f} s)"
        )
        for kind, query in QUERIES.items():
            timings = []
            for _ in range(RUNS):
                started = time.perf_counter()
                response = client.get(
                    "/staff/", query_string={"q": query}, headers={"HX-Request": "true"}
                )
                timings.append(time.perf_counter() - started)
                assert response.status_code == 200
            shown = response.get_data(as_text=True).count('href="/staff/customers/')
            print(
                f"  {kind:14} q={query!r:14} {shown:2} shown   "
                f"p50 {percentile(timings, 0.5):6.1f} ms   p95 {percentile(timings, 0.95):6.1f} ms"
            )
        print(f"  plan: {_plan('yamada')}")


if __name__ == "__main__":
    main()
