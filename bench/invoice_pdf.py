"""Invoice PDF of a 10-line bill: the first download (rendered and stored) and a later one
(the stored bytes), p50 over 20 runs each, through the real view. Usage:
    .venv/bin/python bench/invoice_pdf.py                        # SQLite (a temporary file)
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench \\
        .venv/bin/python bench/invoice_pdf.py                    # PostgreSQL (emptied first)
Targets (issue 5): first render under 0.5 s, re-download under 20 ms.
"""

import time
from datetime import timedelta

from common import backend, bench_app, bench_customer, logged_in_client, percentile

from panel.dates import today_in_japan
from panel.extensions import db
from panel.models.bills import BillKind, BillLineKind, PaymentMethod
from panel.services.billing import LineDraft, create_bill

RUNS = 20
LINES = 10


def _bills(today) -> list[str]:
    customer = bench_customer()
    bills = [
        create_bill(
            customer,
            kind=BillKind.RENEWAL,
            payment_method=PaymentMethod.BANK_TRANSFER,
            applied_on=today,
            due_date=today + timedelta(days=14),
            lines=[
                LineDraft(
                    kind=BillLineKind.RENEWAL,
                    description=f"site{n}.jp スタンダードプラン 1年 更新",
                    amount=12_540,
                    period_start=today,
                    period_end=today + timedelta(days=364),
                )
                for n in range(LINES)
            ],
        )
        for _ in range(RUNS + 1)
    ]
    db.session.commit()
    return [bill.bill_no for bill in bills]


def _download(client, bill_no: str) -> float:
    start = time.perf_counter()
    response = client.get(f"/bills/{bill_no}/invoice.pdf")
    elapsed = time.perf_counter() - start
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    return elapsed


def main() -> None:
    app = bench_app()
    with app.app_context():
        bill_nos = _bills(today_in_japan())
        db.session.remove()
    client, _ = logged_in_client(app)

    cold = _download(client, bill_nos[0])  # the process's first render loads the fonts
    first = [_download(client, bill_no) for bill_no in bill_nos[1:]]
    again = [_download(client, bill_nos[1]) for _ in range(RUNS)]
    print(
        f"invoice PDF, {LINES} lines, {RUNS} runs on {backend(app)}: "
        f"first render p50 {percentile(first, 0.5):.0f} ms (the process's very first "
        f"{cold * 1000:.0f} ms), re-download p50 {percentile(again, 0.5):.1f} ms"
    )


if __name__ == "__main__":
    main()
