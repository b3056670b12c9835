"""Live-price request of the renewal page for a customer with 20 contracts, in-process.

Prints p50 and p95 over 200 htmx requests. Usage:
    .venv/bin/python bench/renewal_live_price.py                 # SQLite (a temporary file)
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench \
        .venv/bin/python bench/renewal_live_price.py             # PostgreSQL (emptied first)
"""

import os
import re
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import text  # noqa: E402

from panel import create_app  # noqa: E402
from panel.extensions import db  # noqa: E402
from panel.models import Contract, Customer, Plan, PlanPrice, User  # noqa: E402
from panel.services.auth import hash_password  # noqa: E402
from panel.services.calendar import today_in_japan  # noqa: E402

REQUESTS = 200
CONTRACTS = 20


def _database_url() -> str:
    return os.environ.get("DATABASE_URL") or f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"


def _seed(today) -> list[Contract]:
    plans = [
        Plan(
            code=code,
            name=code,
            rank=rank,
            max_domains=10 * rank,
            max_mail_accounts=100 * rank,
            one_month_price=1_100 * rank,
            prices=[PlanPrice(months=m, price=1_100 * rank * m) for m in (1, 3, 6, 12, 24)],
        )
        for rank, code in enumerate(("lite", "standard", "premium"), start=1)
    ]
    customer = Customer(
        member_id="bench", name="ベンチ", kind="individual", contract_email="bench@example.jp"
    )
    user = User(customer=customer, login_id="bench", password_hash=hash_password("bench-pass"))
    contracts = [
        Contract(
            customer=customer,
            kind="hosting",
            name=f"site{n}.jp",
            plan=plans[n % 3],
            renewal_date=today + timedelta(days=n),
        )
        for n in range(CONTRACTS)
    ]
    db.session.add_all([*plans, customer, user, *contracts])
    db.session.commit()
    return contracts


def main() -> None:
    url = _database_url()
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "bench",
            "ARGON2_TIME_COST": 1,
            "ARGON2_MEMORY_COST_KIB": 1024,
        }
    )
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
        contracts = _seed(today_in_japan())
        form = {"renew": [str(c.id) for c in contracts[::2]], "month_end": "on"}
        for contract in contracts:
            form[f"months-{contract.id}"] = "12"
            form[f"plan-{contract.id}"] = str(contract.plan_id)
        db.session.remove()

    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    client.post("/login", data={"login_id": "bench", "password": "bench-pass", "csrf_token": token})
    # Login starts a new session, with a new CSRF token.
    page = client.get("/renewal").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form["csrf_token"] = token
    headers = {"HX-Request": "true", "X-CSRFToken": token}

    timings = []
    for _ in range(REQUESTS + 10):
        start = time.perf_counter()
        response = client.post("/renewal", data=form, headers=headers)
        timings.append(time.perf_counter() - start)
        assert response.status_code == 200 and "renewal-total" in response.get_data(as_text=True)
    timings = sorted(timings[10:])  # the first requests warm caches up
    p50 = statistics.median(timings) * 1000
    p95 = timings[int(len(timings) * 0.95) - 1] * 1000
    backend = url.split(":", 1)[0]
    print(
        f"renewal live price, {CONTRACTS} contracts, {REQUESTS} requests on {backend}: "
        f"p50 {p50:.1f} ms, p95 {p95:.1f} ms"
    )


if __name__ == "__main__":
    main()
