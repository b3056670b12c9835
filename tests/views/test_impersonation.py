"""Impersonation (代理ログイン), generated from the URL map: every page of the customer panel is
the customer's own HTML but for the banner, every request that would change something is
refused whatever its route, and who looked is in the customer's own audit log."""

import re
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
import time_machine
from sqlalchemy import func, select

from panel import create_app
from panel.extensions import db
from panel.models import AuditEvent, Bill, StaffRole, StaffSession, User
from panel.models.bills import BillStatus
from panel.models.customers import Role
from panel.services.staff.accounts import IDLE_TIMEOUT
from tests import factories
from tests.conftest import csrf_token, staff_log_in
from tests.services.test_documents import pdf_text
from tests.views.test_access_control import OBJECT_IDS, _account

ROUTE_APP = create_app(
    {"TESTING": True, "SECRET_KEY": "routes", "SQLALCHEMY_DATABASE_URI": "sqlite://"}
)
#: The customer panel's routes: everything but the staff console and static files.
PANEL_RULES = [
    rule
    for rule in ROUTE_APP.url_map.iter_rules()
    if not rule.endpoint.startswith("staff.") and rule.endpoint != "static"
]


def _writes_on_get(endpoint: str) -> bool:
    return bool(getattr(ROUTE_APP.view_functions[endpoint], "writes_on_get", False))


#: Pages: GET routes that only read. (Public ones too: a signed-in user is sent on.)
READING_RULES = [
    rule for rule in PANEL_RULES if "GET" in rule.methods and not _writes_on_get(rule.endpoint)
]
#: What changes state: every other method of every route, and every GET that writes.
CHANGING = [
    (rule, method)
    for rule in PANEL_RULES
    for method in sorted(rule.methods - {"GET", "HEAD", "OPTIONS"})
] + [
    (rule, "GET") for rule in PANEL_RULES if "GET" in rule.methods and _writes_on_get(rule.endpoint)
]

BANNER = re.compile(r'<div class="impersonation-banner".*?</div>\n', re.DOTALL)
#: the session's CSRF token, and a form's one-time token (a deposit's application token)
ONE_TIME_FIELD = re.compile(r'<input[^>]*\bname="[^"]*(?:csrf_token|application_token)"[^>]*>')
CSRF_HEADER = re.compile(r'"X-CSRFToken": "[^"]+"')
HTMX = {"HX-Request": "true"}


def _comparable(html: str) -> str:
    """The page without the banner, and with every CSRF token and one-time form token alike
    (each session and each rendering has its own)."""
    html = BANNER.sub("", html, count=1)
    html = ONE_TIME_FIELD.sub(lambda tag: re.sub(r'value="[^"]*"', 'value="…"', tag.group(0)), html)
    return CSRF_HEADER.sub('"X-CSRFToken": "…"', html)


def _seen(response) -> str:
    """What the response shows: its text, or a PDF's text (each rendering is a new file)."""
    if response.mimetype == "application/pdf":
        return pdf_text(response.get_data())
    return response.get_data(as_text=True)


def _path(rule, account) -> str:
    values = {name: OBJECT_IDS[name](account) for name in rule.arguments}
    return ROUTE_APP.url_map.bind("localhost").build(rule.endpoint, values)


@pytest.fixture
def plan():
    return factories.plan()


@pytest.fixture
def ours(plan):
    return _account("ours", plan)


def _impersonate(client, customer) -> None:
    page = f"/staff/customers/{customer.id}"
    response = client.post(f"{page}/impersonate", data={"csrf_token": csrf_token(client, page)})
    assert response.status_code == 302 and response.headers["Location"] == "/"


@pytest.fixture
def support(ours):
    return factories.staff_member("support", StaffRole.SUPPORT, name="鈴木 一郎")


@pytest.fixture
def staff_browser(app, ours, support):
    """A browser with only a staff login, impersonating `ours`."""
    client = staff_log_in(app.test_client(), support)
    _impersonate(client, ours.customer)
    return client


def _events(customer, action: str) -> list[AuditEvent]:
    db.session.rollback()
    return list(
        db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.customer_id == customer.id, AuditEvent.action == action)
            .order_by(AuditEvent.id)
        )
    )


@pytest.mark.parametrize("rule", [pytest.param(rule, id=rule.endpoint) for rule in READING_RULES])
def test_every_page_is_the_customers_own_html_but_for_the_banner(
    app, login_as, ours, support, rule
):
    own = login_as(ours.users[Role.OWNER])
    staff = staff_log_in(app.test_client(), support)
    _impersonate(staff, ours.customer)  # before the pages: its audit entry is on both
    path = _path(rule, ours)

    mine, theirs = own.get(path), staff.get(path)

    assert theirs.status_code == mine.status_code
    assert theirs.headers.get("Location") == mine.headers.get("Location")
    seen = _seen(theirs)
    if theirs.mimetype == "text/html" and mine.status_code == 200:
        assert "代理ログイン中(閲覧のみ)" in seen and "鈴木 一郎" in seen
    assert _comparable(seen) == _comparable(_seen(mine))


def _state(customer) -> dict:
    """What a refused request must leave as it was: every table's row count (but the staff
    sessions', whose last request is noted), and what the customer's rows say."""
    db.session.rollback()
    counts = {
        table.name: db.session.scalar(select(func.count()).select_from(table))
        for table in db.metadata.sorted_tables
        if table.name != "staff_sessions"
    }
    bills = db.session.execute(
        select(Bill.bill_no, Bill.status, Bill.payment_method).where(
            Bill.customer_id == customer.id
        )
    ).all()
    users = db.session.execute(
        select(User.login_id, User.role, User.disabled_at, User.totp_secret).where(
            User.customer_id == customer.id
        )
    ).all()
    db.session.refresh(customer)
    settings = (customer.name, customer.contract_email, customer.auto_renewal)
    return {"counts": counts, "bills": sorted(bills), "users": sorted(users), "me": settings}


@pytest.mark.parametrize(
    ("rule", "method", "htmx"),
    [
        pytest.param(
            rule, method, htmx, id=f"{rule.endpoint}-{method}-{'htmx' if htmx else 'plain'}"
        )
        for rule, method in CHANGING
        for htmx in (False, True)
    ],
)
def test_every_change_is_refused_while_impersonating(ours, staff_browser, rule, method, htmx):
    before = _state(ours.customer)
    path = _path(rule, ours)
    page = f"/bills/{ours.bill.bill_no}"
    data = {"csrf_token": csrf_token(staff_browser, page)} if method != "GET" else None
    headers = HTMX | {"HX-Current-URL": f"http://localhost{page}"} if htmx else {}

    response = staff_browser.open(path, method=method, data=data, headers=headers)

    assert response.status_code == 403
    if htmx:
        # htmx swaps nothing for a 403: the page it came from says why when it loads again.
        assert response.headers["HX-Redirect"] == page
        again = staff_browser.get(page).get_data(as_text=True)
        assert "お客様のパネルの内容を変更する操作はできません。" in again
    else:
        body = response.get_data(as_text=True)
        assert "<h1>代理ログイン中は操作できません</h1>" in body
    assert _state(ours.customer) == before


def test_cancelling_a_bill_is_refused_and_the_bill_still_awaits_payment(ours, staff_browser):
    page = f"/bills/{ours.bill.bill_no}"
    confirm = staff_browser.get(f"{page}/cancel")
    assert confirm.status_code == 200  # looking at the confirmation is looking
    token = csrf_token(staff_browser, page)

    response = staff_browser.post(f"{page}/cancel", data={"csrf_token": token})

    assert response.status_code == 403
    db.session.rollback()
    assert db.session.get(Bill, ours.bill.id).status == BillStatus.AWAITING_PAYMENT
    assert _events(ours.customer, "bill_cancelled") == []


def test_start_and_end_are_in_the_customers_own_audit_log_with_the_staff_members_name(
    app, login_as, ours, staff_browser
):
    token = csrf_token(staff_browser, "/")
    back = staff_browser.post("/staff/impersonation/end", data={"csrf_token": token})
    assert back.headers["Location"] == f"/staff/customers/{ours.customer.id}"

    started, ended = (
        _events(ours.customer, "impersonation_started"),
        _events(ours.customer, "impersonation_ended"),
    )
    assert len(started) == len(ended) == 1
    assert started[0].staff_member.name == ended[0].staff_member.name == "鈴木 一郎"
    assert started[0].detail == "サポートスタッフ 鈴木 一郎"
    # The customer reads it on their own セキュリティ設定...
    own_page = login_as(ours.users[Role.OWNER]).get("/settings/security").get_data(as_text=True)
    assert "サポートスタッフによる代理ログイン(閲覧)の開始" in own_page
    assert "サポートスタッフによる代理ログイン(閲覧)の終了" in own_page
    assert "スタッフ 鈴木 一郎" in own_page
    # ...and the staff console's customer page shows the same log.
    console = staff_browser.get(f"/staff/customers/{ours.customer.id}").get_data(as_text=True)
    assert "サポートスタッフによる代理ログイン(閲覧)の終了" in console
    # Back in the console, the customer panel is no longer shown to this browser.
    assert staff_browser.get("/").status_code == 302


def test_the_customers_two_factor_secret_and_recovery_codes_are_never_shown(app, ours, support):
    owner = ours.users[Role.OWNER]
    secret = pyotp.random_base32()
    db.session.get(User, owner.id).totp_secret = secret
    db.session.commit()
    staff = staff_log_in(app.test_client(), support)
    _impersonate(staff, ours.customer)

    pages = [_seen(staff.get(_path(rule, ours))) for rule in READING_RULES]
    enrolment = staff.get("/settings/two-factor")
    codes = staff.post(
        "/settings/two-factor/recovery-codes", data={"csrf_token": csrf_token(staff, "/")}
    )

    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    assert enrolment.status_code == codes.status_code == 403
    for html in [*pages, enrolment.get_data(as_text=True), codes.get_data(as_text=True)]:
        assert secret not in html and grouped not in html
        assert 'class="recovery-codes"' not in html  # the list of codes


def test_a_disabled_staff_member_stops_impersonating_at_the_next_request(
    ours, support, staff_browser
):
    db.session.get(type(support), support.id).disabled_at = datetime.now(UTC)
    db.session.commit()

    response = staff_browser.get("/")

    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert len(_events(ours.customer, "impersonation_ended")) == 1


def test_impersonation_ends_with_the_staff_logout(ours, staff_browser):
    staff_browser.post("/staff/logout", data={"csrf_token": csrf_token(staff_browser, "/")})

    assert staff_browser.get("/").status_code == 302
    assert len(_events(ours.customer, "impersonation_ended")) == 1
    assert staff_browser.get("/staff/").headers["Location"].startswith("/staff/login")


def test_impersonation_ends_when_the_staff_session_is_idle_for_30_minutes(ours, staff_browser):
    db.session.rollback()
    last_seen = db.session.scalar(select(StaffSession.last_seen_at))

    with time_machine.travel(datetime.now(UTC) + IDLE_TIMEOUT + timedelta(minutes=1)):
        assert staff_browser.get("/").status_code == 302  # to the customer login

    (ended,) = _events(ours.customer, "impersonation_ended")
    assert ended.occurred_at == last_seen + IDLE_TIMEOUT  # when it ran out, not when it was seen


def test_one_browser_holds_a_customer_login_and_a_staff_login_without_mixing(
    app, client, login_as, plan, ours, support
):
    theirs = _account("theirs", plan)
    login_as(ours.users[Role.OWNER])
    staff_log_in(client, support)
    assert "会員ID: <strong>ours</strong>" in client.get("/").get_data(as_text=True)

    _impersonate(client, theirs.customer)
    shown = client.get("/").get_data(as_text=True)
    assert "会員ID: <strong>theirs</strong>" in shown and "代理ログイン中" in shown

    client.post("/staff/impersonation/end", data={"csrf_token": csrf_token(client, "/staff/")})
    shown = client.get("/").get_data(as_text=True)
    assert "会員ID: <strong>ours</strong>" in shown and "代理ログイン中" not in shown
    # Logging the customer out leaves the staff login, and the other way round.
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    assert client.get("/staff/").status_code == 200
    login_as(ours.users[Role.OWNER])
    client.post("/staff/logout", data={"csrf_token": csrf_token(client, "/staff/")})
    assert client.get("/").status_code == 200
