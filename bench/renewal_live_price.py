"""Live-price request of the renewal page for a customer with 20 contracts, in-process.

Prints p50 and p95 over 200 htmx requests. Usage:
    .venv/bin/python bench/renewal_live_price.py                 # SQLite (a temporary file)
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench \
        .venv/bin/python bench/renewal_live_price.py             # PostgreSQL (emptied first)
"""

import time
from datetime import timedelta

from common import backend, bench_app, bench_customer, logged_in_client, percentile

from panel.dates import today_in_japan
from panel.extensions import db
from panel.models import Contract, Plan, PlanPrice

REQUESTS = 200
CONTRACTS = 20


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
    customer = bench_customer()
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
    db.session.add_all([*plans, *contracts])
    db.session.commit()
    return contracts


def main() -> None:
    app = bench_app()
    with app.app_context():
        contracts = _seed(today_in_japan())
        form = {"renew": [str(c.id) for c in contracts[::2]], "month_end": "on"}
        for contract in contracts:
            form[f"months-{contract.id}"] = "12"
            form[f"plan-{contract.id}"] = str(contract.plan_id)
        db.session.remove()

    client, token = logged_in_client(app)
    form["csrf_token"] = token
    headers = {"HX-Request": "true", "X-CSRFToken": token}

    timings = []
    for _ in range(REQUESTS + 10):
        start = time.perf_counter()
        response = client.post("/renewal", data=form, headers=headers)
        timings.append(time.perf_counter() - start)
        assert response.status_code == 200 and "renewal-total" in response.get_data(as_text=True)
    timings = timings[10:]  # the first requests warm caches up
    print(
        f"renewal live price, {CONTRACTS} contracts, {REQUESTS} requests on {backend(app)}: "
        f"p50 {percentile(timings, 0.5):.1f} ms, p95 {percentile(timings, 0.95):.1f} ms"
    )


if __name__ == "__main__":
    main()
