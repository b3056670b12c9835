"""Access control for every route of the URL map, against the table in docs/roles.md: who may
open what, another customer's object IDs, and the CSRF token on every POST."""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from panel import create_app
from panel.dates import today_in_japan
from panel.extensions import db
from panel.models import (
    AllowedNetwork,
    OutboxMail,
    PaperInvoiceRequest,
    Payment,
    Role,
    StaffRole,
)
from panel.models.customers import CustomerKind
from panel.services.audit import Client
from panel.services.payments import ReceivedMoney, apply_payment
from tests import factories
from tests.conftest import csrf_token

ROLES_DOC = Path(__file__).resolve().parents[2] / "docs" / "roles.md"
#: Signed by the payment provider (HMAC) instead of a CSRF token.
CSRF_EXEMPT = {"payments.notifications"}
HTMX = {"HX-Request": "true"}


def _table(heading: str) -> list[dict[str, str]]:
    """The rows of the Markdown table under `## heading` in docs/roles.md, keyed by the first
    word of each header cell (`endpoint`, `methods`, `rule`, `owner`, ...)."""
    section = ROLES_DOC.read_text().split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [
        [cell.strip().strip("`") for cell in line.strip().strip("|").split("|")]
        for line in section.splitlines()
        if line.startswith("|")
    ]
    header, _separator, *body = rows
    keys = [cell.split()[0].lower() for cell in header]
    return [dict(zip(keys, row, strict=True)) for row in body]


MATRIX = _table("Access matrix")
STAFF_MATRIX = _table("Staff access matrix")
STAFF_ENDPOINTS = {row["endpoint"] for row in STAFF_MATRIX}
PUBLIC = {row["endpoint"] for row in _table("Public routes")}
#: The URL map, read when the tests are collected (an app that is never served).
RULES = list(
    create_app(
        {"TESTING": True, "SECRET_KEY": "routes", "SQLALCHEMY_DATABASE_URI": "sqlite://"}
    ).url_map.iter_rules()
)


def _methods(rule) -> list[str]:
    return sorted(rule.methods - {"HEAD", "OPTIONS"})


#: How to find a customer's object for each URL argument.
OBJECT_IDS = {
    "bill_no": lambda account: account.bill.bill_no,
    "network_id": lambda account: account.network.id,
    "user_id": lambda account: account.users[Role.READ_ONLY].id,
    "contract_id": lambda account: account.server.id,
    "statement_id": lambda account: account.statement.id,
    "domain_id": lambda account: account.domain.id,
    # The sandbox's 3-D Secure page is the card company's: it belongs to no account.
    "challenge": lambda account: "no-such-challenge",
    # The staff console's objects: staff see every customer's.
    "customer_id": lambda account: account.customer.id,
    "payment_id": lambda account: account.flagged_payment.id,
    "request_id": lambda account: account.paper_request.id,
    "mail_id": lambda account: account.mail.id,
    "member_id": lambda account: account.staff_member.id,
}


def _now() -> datetime:
    return datetime.now(UTC)


def _account(member_id: str, plan) -> SimpleNamespace:
    """A corporate customer with a user of each role, a bill, a domain and an allowed login
    address."""
    customer = factories.customer(member_id, kind=CustomerKind.CORPORATE)
    server = factories.server(customer, f"{member_id}.jp", plan, today_in_japan() + timedelta(10))
    domain = factories.domain(customer, f"{member_id}.net", today_in_japan() + timedelta(60))
    network = AllowedNetwork(customer=customer, network="203.0.113.0/24", label="本社")
    db.session.add(network)
    db.session.commit()
    users = {Role.OWNER: factories.owner(customer)} | {
        role: factories.sub_user(customer, f"{member_id}-{role}", role)
        for role in Role
        if role != Role.OWNER
    }
    bill = factories.renewal_bill(customer, server)
    statement = factories.balance_statement(customer, date(2026, 10, 31))
    # Money that could not pay the bill (another amount), a paper invoice asked for, the
    # bill's mail, and a staff member (for the staff console's routes).
    money = ReceivedMoney("sandbox", f"{member_id}-1", "bank_transfer", 1, _now())
    apply_payment(bill, money, money.received_at, Client(None, None))
    db.session.add(PaperInvoiceRequest(bill_id=bill.id, user_id=users[Role.OWNER].id))
    db.session.commit()
    return SimpleNamespace(
        customer=customer,
        users=users,
        bill=bill,
        network=network,
        server=server,
        statement=statement,
        domain=domain,
        flagged_payment=db.session.scalar(select(Payment).where(Payment.bill_id == bill.id)),
        paper_request=db.session.scalar(
            select(PaperInvoiceRequest).where(PaperInvoiceRequest.bill_id == bill.id)
        ),
        mail=db.session.scalar(select(OutboxMail).where(OutboxMail.bill_id == bill.id)),
        staff_member=factories.staff_member(f"{member_id}-staff", StaffRole.SUPPORT),
    )


@pytest.fixture
def plan():
    return factories.plan()


@pytest.fixture
def ours(plan):
    return _account("ours", plan)


@pytest.fixture
def theirs(plan):
    return _account("theirs", plan)


def _path(app, endpoint: str, account) -> str:
    """The route's path, with `account`'s objects for its URL arguments."""
    (rule,) = app.url_map.iter_rules(endpoint)
    missing = rule.arguments - OBJECT_IDS.keys()
    assert not missing, f"{endpoint}: add an object for {missing} to OBJECT_IDS"
    values = {name: OBJECT_IDS[name](account) for name in rule.arguments}
    return app.url_map.bind("localhost").build(endpoint, values)


def _request(client, method: str, path: str, token_from: str = "/"):
    """`method` on `path` as a browser would: a POST carries the form's CSRF token."""
    data = {"csrf_token": csrf_token(client, token_from)} if method == "POST" else None
    return client.open(path, method=method, data=data)


def test_every_route_is_documented_once_and_nothing_else(app):
    documented = sorted(
        (row["endpoint"], row["methods"], row["rule"])
        for row in [*MATRIX, *STAFF_MATRIX, *_table("Public routes")]
    )
    routes = sorted(
        (rule.endpoint, ", ".join(_methods(rule)), rule.rule) for rule in app.url_map.iter_rules()
    )
    assert documented == routes
    assert {row[role] for row in MATRIX for role in Role} == {"✓", "403"}
    assert {row[role] for row in STAFF_MATRIX for role in StaffRole} == {"✓", "403"}


@pytest.mark.parametrize(
    ("endpoint", "method", "role", "cell"),
    [
        pytest.param(
            row["endpoint"],
            "GET" if "GET" in row["methods"] else "POST",
            role,
            row[role],
            id=f"{row['endpoint']}-{role}",
        )
        for row in MATRIX
        for role in Role
    ],
)
def test_each_role_gets_what_the_matrix_says(app, login_as, ours, endpoint, method, role, cell):
    client = login_as(ours.users[role])
    status = _request(client, method, _path(app, endpoint, ours)).status_code
    if cell == "403":
        assert status == 403
    else:
        assert status not in (403, 404) and status < 500, status


@pytest.mark.parametrize(
    "endpoint",
    [pytest.param(row["endpoint"], id=row["endpoint"]) for row in MATRIX],
)
def test_every_route_in_the_matrix_needs_a_login(app, client, ours, endpoint):
    (rule,) = app.url_map.iter_rules(endpoint)
    for method in _methods(rule):
        response = _request(client, method, _path(app, endpoint, ours), token_from="/login")
        assert response.status_code == 302, method
        assert response.headers["Location"].startswith("/login?next="), method


@pytest.mark.parametrize(
    ("endpoint", "method", "role", "cell"),
    [
        pytest.param(
            row["endpoint"],
            "GET" if "GET" in row["methods"] else "POST",
            role,
            row[role],
            id=f"{row['endpoint']}-{role}",
        )
        for row in STAFF_MATRIX
        for role in StaffRole
    ],
)
def test_each_staff_role_gets_what_the_staff_matrix_says(
    app, staff_login_as, ours, endpoint, method, role, cell
):
    client = staff_login_as(factories.staff_member(f"staff-{role}", role))
    path = _path(app, endpoint, ours)
    status = _request(client, method, path, token_from="/staff/").status_code
    if cell == "403":
        assert status == 403
    else:
        assert status not in (403, 404) and status < 500, status


@pytest.mark.parametrize(
    "endpoint",
    [pytest.param(row["endpoint"], id=row["endpoint"]) for row in STAFF_MATRIX],
)
def test_every_staff_route_needs_a_staff_login_not_a_customers(app, login_as, ours, endpoint):
    client = login_as(ours.users[Role.OWNER])  # a customer's login is no staff login
    (rule,) = app.url_map.iter_rules(endpoint)
    for method in _methods(rule):
        response = _request(client, method, _path(app, endpoint, ours), token_from="/")
        assert response.status_code == 302, method
        assert response.headers["Location"].startswith("/staff/login?next="), method
        htmx = client.open(
            _path(app, endpoint, ours),
            method=method,
            data={"csrf_token": csrf_token(client, "/")} if method == "POST" else None,
            headers=HTMX,
        )
        assert htmx.status_code == 401
        assert htmx.headers["HX-Redirect"].startswith("/staff/login")


@pytest.mark.parametrize(
    ("rule", "method"),
    [
        pytest.param(rule, method, id=f"{rule.endpoint}-{method}")
        for rule in RULES
        if rule.arguments and rule.endpoint not in PUBLIC | STAFF_ENDPOINTS
        for method in _methods(rule)
    ],
)
def test_another_customers_object_id_is_a_404(app, login_as, ours, theirs, rule, method):
    client = login_as(ours.users[Role.OWNER])
    response = _request(client, method, _path(app, rule.endpoint, theirs))
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("rule", "htmx"),
    [
        pytest.param(rule, htmx, id=f"{rule.endpoint}-{'htmx' if htmx else 'plain'}")
        for rule in RULES
        if "POST" in rule.methods and rule.endpoint not in CSRF_EXEMPT
        for htmx in (False, True)
    ],
)
def test_a_post_without_the_csrf_token_is_refused(app, client, login_as, ours, rule, htmx):
    if rule.endpoint not in PUBLIC:
        login_as(ours.users[Role.OWNER])
    path = _path(app, rule.endpoint, ours)
    response = client.post(path, headers=HTMX if htmx else {})
    if htmx:
        assert response.status_code == 401
        login = "/staff/login" if rule.endpoint.startswith("staff.") else "/login"
        assert response.headers["HX-Redirect"] == login
    else:
        assert response.status_code == 400
        assert "ページの有効期限が切れました" in response.get_data(as_text=True)
