"""The daily job (`run_daily`) over 100,000 servers and 30,000 domains of 30,000 customers, then
the same again with twice the data.

Each size is timed twice on the same day: the first run does everything due (overdue bills
cancelled, expiries told, auto-renewal charges, reminders, the monthly domain notice: the day
is the 1st of a month) and delivers the outbox; the second finds it all done. A tenth of the
customers are on auto-renewal with a saved card, and the sandbox gateway answers each charge
after 50 ms, as a real one would. The outbox goes to a local aiosmtpd (a process of its own,
which accepts and drops every mail), and its delivery is timed on its own too: the job's own
work is the run minus the outbox. Usage:
    .venv/bin/python bench/daily_job.py                         # SQLite (a temporary file)
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench \
        .venv/bin/python bench/daily_job.py                     # PostgreSQL (emptied first)
    .venv/bin/python bench/daily_job.py --scale 0.1             # a tenth of the data
"""

import argparse
import socket
import subprocess
import sys
import time
from datetime import date, timedelta
from functools import wraps

from common import backend, bench_app
from sqlalchemy import event, func, insert, select

import panel.jobs.daily as daily
from panel.database import writing
from panel.extensions import db
from panel.gateways import CardDetails, SavedCard, payment_gateway
from panel.gateways.sandbox import DECLINED_CARD
from panel.models import Bill, BillLine, Contract, Customer, DomainPrice, Plan, PlanPrice

DAY = date(2026, 12, 1)  # the 1st: the monthly domain notice runs too
CUSTOMERS = 30_000
SERVERS = 100_000
DOMAINS = 30_000
#: renewal dates are spread over a year that began this many days before DAY, so a month's
#: worth of contracts are in their grace period or expired
DAYS_BEFORE = 30
#: customers who opted in to the 40-day reminder, and who have a sub e-mail: one in ...
OPTED_IN_EVERY = 3
SUB_EMAIL_EVERY = 4
#: servers with a renewal bill awaiting payment (its due date the renewal date), one in ...
AWAITING_EVERY = 20
#: customers on auto-renewal with a saved card (so about a tenth of the servers), one in ...
AUTO_RENEWAL_EVERY = 10
#: ... and of those, the ones whose card is declined, one in ...
DECLINED_EVERY = 50
#: the sandbox gateway answers each charge after this long, as a real one would
GATEWAY_LATENCY_SECONDS = 0.05
CHUNK = 10_000


def _spread(n: int) -> date:
    """A renewal date in the year around DAY, spread evenly but not in insertion order."""
    return DAY + timedelta(days=(n * 7919) % 365 - DAYS_BEFORE)


def _auto_renewal(n: int, cards: dict[bool, SavedCard]) -> dict:
    """Customer n's auto-renewal columns: on for a year, with a saved card, for one in
    AUTO_RENEWAL_EVERY customers."""
    if n % AUTO_RENEWAL_EVERY:
        return {"auto_renewal": False, "auto_renewal_months": 12, "saved_card_token": None}
    card = cards[n % (AUTO_RENEWAL_EVERY * DECLINED_EVERY) == 0]
    return {
        "auto_renewal": True,
        "auto_renewal_months": 12,
        "saved_card_token": card.token,
        "saved_card_brand": card.brand,
        "saved_card_last4": card.last4,
        "saved_card_expiry": card.expiry,
    }


def _insert(model, rows) -> None:
    for start in range(0, len(rows), CHUNK):
        db.session.execute(insert(model), rows[start : start + CHUNK])


def seed(scale: float) -> dict[str, int]:
    """Customers, servers, domains and awaiting bills, inserted in bulk; how many of each."""
    customers, servers, domains = (int(n * scale) for n in (CUSTOMERS, SERVERS, DOMAINS))
    plan = Plan(
        code="standard",
        name="スタンダード",
        rank=1,
        max_domains=10,
        max_mail_accounts=100,
        one_month_price=1_100,
    )
    plan.prices = [PlanPrice(months=months, price=1_100 * months) for months in (1, 3, 6, 12)]
    db.session.add(plan)
    # Every domain is on 自動更新 (the account's default) and no balance pays for it: each one
    # due is short, and its customer is told.
    db.session.add(DomainPrice(tld="com", price_per_year=1_628))
    db.session.flush()
    gateway = payment_gateway()
    cards = {
        declines: gateway.save_card(CardDetails(number, 12, DAY.year + 3, "123"), DAY)
        for declines, number in ((False, "4242424242424242"), (True, DECLINED_CARD))
    }
    _insert(
        Customer,
        [
            {
                "id": n,
                "member_id": f"m{n:07d}",
                "name": f"顧客{n}",
                "kind": "individual",
                "contract_email": f"c{n}@example.jp",
                "sub_email": f"s{n}@example.jp" if n % SUB_EMAIL_EVERY == 0 else None,
                "notify_40_days_before": n % OPTED_IN_EVERY == 0,
                **_auto_renewal(n, cards),
            }
            for n in range(1, customers + 1)
        ],
    )
    _insert(
        Contract,
        [
            {
                "id": n,
                "customer_id": n % customers + 1,
                "kind": "hosting",
                "name": f"site{n}.example.jp",
                "plan_id": plan.id,
                "renewal_date": _spread(n),
            }
            for n in range(1, servers + 1)
        ]
        + [
            {
                "id": servers + n,
                "customer_id": n % customers + 1,
                "kind": "domain",
                "name": f"domain{n}.example.com",
                "tld": "com",
                "renewal_date": _spread(n * 3),
            }
            for n in range(1, domains + 1)
        ],
    )
    awaiting = range(AWAITING_EVERY, servers + 1, AWAITING_EVERY)
    bills, lines = [], []
    for bill_id, contract_id in enumerate(awaiting, start=1):
        renewal_date = _spread(contract_id)
        applied_on = min(renewal_date, DAY) - timedelta(days=14)
        bills.append(
            {
                "id": bill_id,
                "bill_no": f"{applied_on:%Y%m%d}-{bill_id:06d}",
                "customer_id": contract_id % customers + 1,
                "kind": "renewal",
                "payment_method": "bank_transfer",
                "applied_on": applied_on,
                "due_date": max(renewal_date, applied_on),
            }
        )
        lines.append(
            {
                "bill_id": bill_id,
                "position": 1,
                "kind": "renewal",
                "description": f"site{contract_id}.example.jp 12ヶ月",
                "amount": 13_200,
                "contract_id": contract_id,
                "period_months": 12,
                "new_renewal_date": renewal_date + timedelta(days=365),
                "period_start": renewal_date + timedelta(days=1),
                "period_end": renewal_date + timedelta(days=365),
            }
        )
    _insert(Bill, bills)
    _insert(BillLine, lines)
    if db.engine.dialect.name == "postgresql":  # rows inserted with their IDs: move the counters on
        for model in (Customer, Contract, Bill):
            sequence = func.pg_get_serial_sequence(model.__tablename__, "id")
            db.session.execute(select(func.setval(sequence, func.max(model.id))))
    db.session.commit()
    past_due = sum(bill["due_date"] < DAY for bill in bills)
    return {
        "customers": customers,
        "servers": servers,
        "domains": domains,
        "bills awaiting": len(bills) - past_due,
        "bills past due": past_due,
    }


class Clock:
    """Seconds spent in each step and in the outbox's delivery, and statements sent."""

    def __init__(self):
        self.outbox = 0.0
        self.steps: dict[str, float] = {}
        self.statements = 0

    def count(self, *_args) -> None:
        self.statements += 1

    def timed_outbox(self, deliver):
        @wraps(deliver)
        def timed(now):
            start = time.perf_counter()
            try:
                return deliver(now)
            finally:
                self.outbox += time.perf_counter() - start

        return timed

    def timed_step(self, name, step):
        @wraps(step)
        def timed(today):
            start = time.perf_counter()
            try:
                return step(today)
            finally:
                self.steps[name] = time.perf_counter() - start

        return timed


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def smtp_sink() -> tuple[subprocess.Popen, int]:
    """aiosmtpd in a process of its own (it must not share this one's CPU time), accepting and
    dropping every mail."""
    port = _free_port()
    server = subprocess.Popen(  # noqa: S603 (our own interpreter, fixed arguments)
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}"]
        + ["-c", "aiosmtpd.handlers.Sink"]
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, port
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("aiosmtpd did not start")


def timed_run(clock: Clock) -> tuple[float, float, dict[str, int], int, float]:
    """One run of the job on DAY: seconds, this process's CPU seconds (outbox included), its
    report, statements, seconds in the outbox."""
    clock.outbox, clock.statements = 0.0, 0
    start, cpu = time.perf_counter(), time.process_time()
    with writing():  # as `flask jobs daily` runs it
        report = daily.run_daily(DAY)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    db.session.remove()
    return seconds, cpu, report, clock.statements, clock.outbox


def bench(scale: float, port: int) -> tuple[float, float]:
    """Seed a fresh database at `scale` and time two runs; the job's own seconds of each."""
    app = bench_app(
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=port,
        SANDBOX_ANSWER_DELAY_SECONDS=GATEWAY_LATENCY_SECONDS,
    )
    clock = Clock()
    with app.app_context():
        start = time.perf_counter()
        counts = seed(scale)
        seeded = time.perf_counter() - start
        db.session.remove()
        print(
            f"\n{backend(app)}, ×{scale:g}: "
            + ", ".join(f"{n:,} {what}" for what, n in counts.items())
            + f" (seeded in {seeded:.1f} s)"
        )
        event.listen(db.engine, "before_cursor_execute", clock.count)
        steps, deliver = daily.STEPS, daily.deliver_outbox
        daily.STEPS = tuple((name, clock.timed_step(name, step)) for name, step in steps)
        daily.deliver_outbox = clock.timed_outbox(deliver)
        own = []
        for run in ("first", "second"):
            seconds, cpu, report, statements, outbox = timed_run(clock)
            own.append(seconds - outbox)
            print(
                f"  {run} run: {seconds:.2f} s (outbox {outbox:.2f} s, job {seconds - outbox:.2f}"
                f" s), {statements:,} statements, {cpu:.2f} s CPU in this process"
            )
            for what, n in report.items():
                took = f" in {clock.steps[what]:.2f} s" if what in clock.steps else ""
                if what == "auto-renewals charged" and n:
                    took += f" (one after the other: {n * GATEWAY_LATENCY_SECONDS:.1f} s at least)"
                print(f"    {what}: {n:,}{took}")
        event.remove(db.engine, "before_cursor_execute", clock.count)
        daily.STEPS, daily.deliver_outbox = steps, deliver
    return own[0], own[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="of the data (default: 1)")
    scale = parser.parse_args().scale
    server, port = smtp_sink()
    try:
        first, second = bench(scale, port)
        double, _ = bench(2 * scale, port)
    finally:
        server.terminate()
        server.wait()
    print(
        f"\njob's own time (outbox excluded): first run {first:.2f} s (target < 60 s), "
        f"second run {second / first:.1%} of it (target < 10%), "
        f"twice the data {double / first:.2f}× (target < 2.2×)"
    )


if __name__ == "__main__":
    main()
