"""Paying under faults, as a customer meets them: the same card form sent by 8 requests at once,
and a panel process that dies between the card charge and its commit. Both on SQLite and
PostgreSQL; the dying panel is a real process, and the recovery is the operator's command."""

import http.cookiejar
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from sqlalchemy import func, select

from panel.dates import add_months, today_in_japan
from panel.extensions import db
from panel.gateways import payment_gateway
from panel.models import Bill, Contract, Payment, PaymentAttempt, SandboxCharge
from panel.models.bills import BillStatus, PaymentMethod
from panel.models.payments import AttemptState
from tests import factories
from tests.concurrency import run_together
from tests.conftest import csrf_token

ROOT = Path(__file__).resolve().parent.parent
PARALLEL = 8
CARD = {"number": "4242424242424242", "expiry": "12/30", "security_code": "123"}


def _count(model, *where) -> int:
    db.session.rollback()  # see what the requests committed
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _card_bill():
    customer = factories.customer()
    server = factories.server(customer, "taro.jp", factories.plan(), today_in_japan())
    bill = factories.renewal_bill(customer, server, method=PaymentMethod.CARD)
    return customer, server, bill


def test_the_same_card_payment_sent_8_times_at_once_charges_once(app, monkeypatch):
    customer, server, bill = _card_bill()
    renewal_date = server.renewal_date
    # A provider that takes its time widens the window in which the requests overlap.
    monkeypatch.setattr(payment_gateway(), "_answer_delay", 0.3)
    owner = factories.owner(customer)
    browsers = []
    for _ in range(PARALLEL):
        browser = app.test_client()
        token = csrf_token(browser)
        browser.post(
            "/login",
            data={"login_id": owner.login_id, "password": factories.PASSWORD, "csrf_token": token},
        )
        form = CARD | {"csrf_token": csrf_token(browser, f"/bills/{bill.bill_no}")}
        browsers.append((browser, form))
    path = f"/bills/{bill.bill_no}/pay/card"

    def pay(browser, form):
        with app.app_context():  # each browser's thread, as the test's own
            return browser.post(path, data=form)

    responses = run_together(
        [lambda browser=browser, form=form: pay(browser, form) for browser, form in browsers]
    )

    for response in responses:
        assert not isinstance(response, BaseException), response
        assert response.status_code == 302, response.get_data(as_text=True)
    assert _count(SandboxCharge) == 1
    assert _count(Payment) == 1
    assert _count(PaymentAttempt) == 1
    assert db.session.get(Bill, bill.id).status == BillStatus.PAID
    assert db.session.get(Contract, server.id).renewal_date == add_months(renewal_date, 12)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PanelProcess:
    """`flask run` in a process of its own, on the test database."""

    def __init__(self, app, **settings):
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = _environment(app) | settings
        self.process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "flask", "--app", "wsgi", "run", "--port", str(self.port)],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("the panel did not start")

    def stop(self) -> int | None:
        if self.process.poll() is None:
            self.process.terminate()
        return self.process.wait(10)


def _environment(app) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "SECRET_KEY": app.config["SECRET_KEY"],
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_COST_KIB": "1024",
        "SANDBOX_STOP_AFTER_CHARGE": "0",
    }


class Browser:
    """A customer's browser: cookies, and the CSRF token of the page it last opened."""

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        self.token = ""

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=60) as response:
            page = response.read().decode()
        found = re.search(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"', page)
        self.token = found.group(1) if found else self.token
        return page

    def post(self, path: str, form: dict) -> str:
        data = urllib.parse.urlencode(form | {"csrf_token": self.token}).encode()
        with self.opener.open(self.base + path, data=data, timeout=60) as response:
            return response.read().decode()


def _reconcile(app, *options: str) -> str:
    """`flask payments reconcile`, as the operator runs it; what it printed."""
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "flask", "--app", "wsgi", "payments", "reconcile", *options],
        cwd=ROOT,
        env=_environment(app),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_panel_killed_between_charge_and_commit_is_settled_by_reconcile(app):
    customer, server, bill = _card_bill()
    renewal_date = server.renewal_date
    owner = factories.owner(customer)

    dying = PanelProcess(app, SANDBOX_STOP_AFTER_CHARGE="1")
    browser = Browser(dying.base)
    try:
        browser.get("/login")
        browser.post("/login", {"login_id": owner.login_id, "password": factories.PASSWORD})
        assert "ご入金待ち" in browser.get(f"/bills/{bill.bill_no}")  # logged in, on the bill
        try:
            answer = browser.post(f"/bills/{bill.bill_no}/pay/card", CARD)
        except urllib.error.HTTPError:
            raise  # an answer, not a dead process
        except (ConnectionError, urllib.error.URLError):
            answer = None  # the process died mid-request: the customer sees a broken page
        assert answer is None, "the panel answered instead of stopping after the charge"
    finally:
        exit_status = dying.stop()
    assert exit_status == 75  # stopped by the sandbox right after the charge

    # The money was taken and the attempt is written, but nothing was applied.
    assert _count(SandboxCharge) == 1
    assert _count(Payment) == 0
    attempt = db.session.scalar(select(PaymentAttempt))
    assert attempt.state == AttemptState.PENDING
    assert db.session.get(Bill, bill.id).status == BillStatus.AWAITING_PAYMENT

    # By default only attempts past the in-flight time are settled; after a crash, all.
    assert _reconcile(app).startswith("applied 0")
    reconcile = _reconcile(app, "--older-than", "0")
    assert reconcile.startswith("applied 1"), reconcile

    assert _count(SandboxCharge) == 1
    assert _count(Payment) == 1
    assert db.session.get(Bill, bill.id).status == BillStatus.PAID
    assert db.session.get(Contract, server.id).renewal_date == add_months(renewal_date, 12)

    # Started again, the panel shows the customer the bill paid, and nothing to pay.
    restarted = PanelProcess(app)
    try:
        browser.base = restarted.base
        page = browser.get(f"/bills/{bill.bill_no}")
    finally:
        restarted.stop()
    assert "お支払済" in page and 'id="card-form"' not in page
