"""請求書/残高 and paying from the balance, as a browser uses them: the figures, the ledger and
its pages, deposits (plain and htmx, hostile input, the same form sent 8 times at once),
paying a bill from the balance, and the statements' PDF."""

import re
import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from panel.dates import today_in_japan
from panel.extensions import db
from panel.models import Bill, Customer, LedgerEntry
from panel.models.bills import BillKind, BillStatus, PaymentMethod
from panel.models.customers import Role
from panel.services.balance import ENTRIES_PER_PAGE, account_balance, ledger_sum
from tests import factories
from tests.concurrency import WAIT, run_together
from tests.conftest import csrf_token

HTMX = {"HX-Request": "true"}
HIDDEN_CHARACTER = "使用できない文字(制御文字や文字の向きを変える記号)が含まれています。"


@pytest.fixture
def customer():
    return factories.customer()


@pytest.fixture
def owner(login_as, customer):
    return login_as(factories.owner(customer))


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def _token(client) -> str:
    page = client.get("/balance").get_data(as_text=True)
    match = re.search(r'name="application_token" type="hidden" value="([^"]+)"', page)
    assert match, "no deposit form"
    return match.group(1)


def _deposit(client, amount: str, method: str = "card", headers=None, token: str | None = None):
    data = {
        "csrf_token": csrf_token(client, "/balance"),
        "amount": amount,
        "method": method,
        "application_token": _token(client) if token is None else token,
    }
    return client.post("/balance/deposit", data=data, headers=headers or {})


def _count(model, *where) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _domain_bill(customer, name: str = "taro.xyz", price: int = 3_000):
    tld = name.split(".", 1)[1]
    factories.domain_price(tld, price)
    domain = factories.domain(customer, name, today_in_japan() + timedelta(days=40))
    return factories.renewal_bill(customer, domain, method=PaymentMethod.BANK_TRANSFER)


def _logged_in(app, user, count: int) -> list:
    """`count` browsers, each logged in as `user` (a session of its own)."""
    clients = []
    for _ in range(count):
        client = app.test_client()
        data = {
            "login_id": user.login_id,
            "password": factories.PASSWORD,
            "csrf_token": csrf_token(client),
        }
        assert client.post("/login", data=data).status_code == 302
        clients.append(client)
    return clients


# The page


def test_the_page_shows_the_balance_what_is_available_and_the_ledger(owner, customer):
    factories.balance(customer, -2_500, credit_limit=10_000)
    page = owner.get("/balance")
    text = _text(page)
    assert page.status_code == 200
    assert "<h1>請求書/残高</h1>" in page.get_data(as_text=True)
    assert re.search(r'id="account-balance" class="is-negative">-2,500円<', page.text)
    assert re.search(r'id="available-amount">7,500円<', page.text)
    assert re.search(r'id="credit-limit">10,000円<', page.text)
    assert "アカウント残高がマイナスです。" in text
    assert "請求書でご請求します(お支払期限日は翌月末日" in text
    assert "残高の調整" in text and "訂正" in text
    assert 'href="/balance"' in page.text and "請求書/残高</a>" in page.text  # navigation


def test_the_ledger_is_paged_newest_first_and_htmx_gets_only_the_ledger(owner, customer):
    for n in range(ENTRIES_PER_PAGE + 3):
        factories.balance(customer, 100 * (n + 1))
    first = _text(owner.get("/balance"))
    assert "全23件中 1〜20件を表示" in first
    assert first.index("2,300円") < first.index("2,200円")  # newest first

    partial = owner.get("/balance?page=2", headers=HTMX)
    assert partial.status_code == 200
    assert partial.text.lstrip().startswith('<div id="ledger">')
    assert "<html" not in partial.text
    assert "全23件中 21〜23件を表示" in _text(partial)
    assert "HX-Request" in partial.headers["Vary"]
    assert "このページには履歴がありません。" in _text(owner.get("/balance?page=9"))


def test_read_only_sees_the_balance_but_no_deposit_form(login_as, customer):
    factories.balance(customer, 3_000)
    viewer = login_as(factories.sub_user(customer, "taro+viewer", Role.READ_ONLY))
    page = viewer.get("/balance")
    assert page.status_code == 200
    assert "入金のお手続きは、管理者または請求担当の方が行えます。" in _text(page)
    assert 'action="/balance/deposit"' not in page.text
    assert (
        viewer.post(
            "/balance/deposit",
            data={"csrf_token": csrf_token(viewer, "/balance"), "amount": "5000", "method": "card"},
        ).status_code
        == 403
    )


# Deposits


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_a_card_deposit_goes_to_its_bill_to_be_paid(owner, customer, headers):
    response = _deposit(owner, "10000", headers=headers)
    bill = db.session.scalar(select(Bill))
    assert (bill.kind, bill.total, bill.payment_method) == (
        BillKind.DEPOSIT,
        10_000,
        PaymentMethod.CARD,
    )
    where = f"/bills/{bill.bill_no}"
    if headers:
        assert (response.status_code, response.headers["HX-Redirect"]) == (204, where)
    else:
        assert (response.status_code, response.headers["Location"]) == (302, where)
    page = owner.get(where)
    assert "続けてクレジットカードでお支払いください。" in _text(page)
    assert 'id="card-form"' in page.text
    assert "アカウント残高から" not in _text(page)  # a deposit is not paid from the balance


def test_paying_the_deposit_bill_by_card_credits_the_balance(owner, customer):
    _deposit(owner, "7000")
    bill = db.session.scalar(select(Bill))
    response = owner.post(
        f"/bills/{bill.bill_no}/pay/card",
        data={
            "csrf_token": csrf_token(owner, f"/bills/{bill.bill_no}"),
            "number": "4242424242424242",
            "expiry": "12/30",
            "security_code": "123",
        },
        follow_redirects=True,
    )
    assert "お支払が完了しました。アカウント残高に反映しました。" in _text(response)
    db.session.rollback()
    assert account_balance(db.session.get(Customer, customer.id)).balance == 7_000


def test_a_bank_transfer_deposit_waits_for_the_money(owner, customer):
    response = _deposit(owner, "20000", method="bank_transfer", headers=HTMX)
    assert response.status_code == 204
    bill = db.session.scalar(select(Bill))
    page = owner.get(f"/bills/{bill.bill_no}")
    assert "お振込みください" in _text(page) and 'id="transfer-reference"' in page.text
    assert account_balance(db.session.get(Customer, customer.id)).balance == 0
    balance_page = _text(owner.get("/balance"))
    assert f"請求No. {bill.bill_no} アカウント残高へのご入金 20,000円(銀行振込" in balance_page


@pytest.mark.parametrize(
    ("typed", "amount"), [("１０，０００", 10_000), ("12,345円", 12_345), (" 5000 ", 5_000)]
)
def test_full_width_digits_commas_and_yen_are_read_as_the_amount(owner, typed, amount):
    assert _deposit(owner, typed).status_code == 302
    assert db.session.scalar(select(Bill)).total == amount


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "入金額を入力してください。"),
        ("999", "入金額は1,000円以上10,000,000円以下で入力してください。"),
        ("99999999", "入金額は1,000円以上10,000,000円以下で入力してください。"),
        ("99999999999999999999", "金額は半角数字で入力してください(例: 12540)。"),
        ("²", "金額は半角数字で入力してください(例: 12540)。"),
        ("١٢٠٠٠", "金額は半角数字で入力してください(例: 12540)。"),
        ("-5000", "金額は半角数字で入力してください(例: 12540)。"),
        ("5000\x00", HIDDEN_CHARACTER),
        ("5000\u202e", HIDDEN_CHARACTER),
    ],
)
@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_a_wrong_amount_is_refused_next_to_the_field(owner, typed, message, headers):
    response = _deposit(owner, typed, headers=headers)
    assert response.status_code == 200
    assert message in _text(response)
    if headers:
        assert response.text.lstrip().startswith('<div id="deposit">')
    assert _count(Bill) == 0


@pytest.mark.parametrize("method", ["paypal", "convenience_store", "balance", "", "card\x00"])
def test_only_card_and_bank_transfer_deposit(owner, method):
    response = _deposit(owner, "5000", method=method)
    assert response.status_code == 200
    assert _count(Bill) == 0
    assert "お支払方法を選択してください。" in _text(response) or HIDDEN_CHARACTER in _text(
        response
    )


@pytest.mark.parametrize("token", ["", "forged.token", "x" * 500])
def test_a_deposit_form_the_server_did_not_make_is_refused(owner, token):
    response = _deposit(owner, "5000", token=token)
    assert response.status_code == 200
    assert "ページの有効期限が切れました。もう一度お試しください。" in _text(response)
    assert _count(Bill) == 0


def test_the_same_deposit_form_sent_8_times_at_once_makes_one_bill(app, customer):
    user = factories.owner(customer)
    clients = _logged_in(app, user, 8)
    token = _token(clients[0])
    forms = [
        {
            "csrf_token": csrf_token(client, "/balance"),
            "amount": "5000",
            "method": "card",
            "application_token": token,
        }
        for client in clients
    ]
    barrier = threading.Barrier(len(clients))

    def send(client, form):
        with app.app_context():  # the client's own session, as the test's is not this thread's
            barrier.wait(WAIT)
            return client.post("/balance/deposit", data=form, headers=HTMX)

    responses = run_together(
        [lambda c=client, f=form: send(c, f) for client, form in zip(clients, forms, strict=True)]
    )
    assert [r.status_code for r in responses] == [204] * 8, responses
    assert len({r.headers["HX-Redirect"] for r in responses}) == 1
    assert _count(Bill) == 1


# Paying a bill from the balance


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_a_bill_is_paid_from_the_balance_at_once(owner, customer, headers):
    factories.balance(customer, 5_000)
    bill = _domain_bill(customer)
    page = owner.get(f"/bills/{bill.bill_no}")
    assert "現在利用できる金額: 5,000円" in _text(page)
    assert "アカウント残高から3,000円を支払う" in _text(page)

    response = owner.post(
        f"/bills/{bill.bill_no}/pay/balance",
        data={"csrf_token": csrf_token(owner, f"/bills/{bill.bill_no}")},
        headers=headers,
        follow_redirects=not headers,
    )
    assert response.status_code == 200
    assert "アカウント残高からお支払いしました。ご契約に反映しました。" in _text(response)
    assert re.search(r'id="bill-status">お支払済<', response.text)
    db.session.rollback()
    assert account_balance(db.session.get(Customer, customer.id)).balance == 2_000


def test_a_bill_the_balance_cannot_cover_says_so_and_is_refused(owner, customer):
    factories.balance(customer, 1_000, credit_limit=1_000)
    bill = _domain_bill(customer)
    page = _text(owner.get(f"/bills/{bill.bill_no}"))
    assert "不足しているため、アカウント残高ではお支払いいただけません。" in page
    response = owner.post(
        f"/bills/{bill.bill_no}/pay/balance",
        data={"csrf_token": csrf_token(owner, f"/bills/{bill.bill_no}")},
        headers=HTMX,
    )
    assert "現在利用できる金額(2,000円)が不足している" in _text(response)
    assert db.session.get(Bill, bill.id).status == BillStatus.AWAITING_PAYMENT


def test_eight_bills_paid_from_one_balance_at_once_take_no_more_than_is_available(app, customer):
    factories.balance(customer, 4_000, credit_limit=5_000)  # 9,000円: three 3,000円 bills
    factories.domain_price("jp", 3_000)
    bills = [
        factories.renewal_bill(
            customer,
            factories.domain(customer, f"p{n}.jp", today_in_japan() + timedelta(days=40)),
            method=PaymentMethod.BANK_TRANSFER,
        )
        for n in range(8)
    ]
    clients = _logged_in(app, factories.owner(customer), len(bills))
    tokens = [csrf_token(client, "/balance") for client in clients]
    barrier = threading.Barrier(len(bills))

    def pay(client, token, bill_no):
        with app.app_context():  # the client's own session, as the test's is not this thread's
            barrier.wait(WAIT)
            return client.post(
                f"/bills/{bill_no}/pay/balance", data={"csrf_token": token}, headers=HTMX
            )

    responses = run_together(
        [
            lambda c=client, t=token, b=bill.bill_no: pay(c, t, b)
            for client, token, bill in zip(clients, tokens, bills, strict=True)
        ]
    )
    texts = [_text(response) for response in responses]
    assert [response.status_code for response in responses] == [200] * 8
    assert sum("アカウント残高からお支払いしました。" in text for text in texts) == 3, texts
    assert sum("が不足している" in text for text in texts) == 5, texts
    db.session.rollback()
    customer = db.session.get(Customer, customer.id)
    assert account_balance(customer).balance == -5_000
    assert ledger_sum(customer) == -5_000
    assert _count(LedgerEntry, LedgerEntry.kind == "purchase") == 3


def test_the_renewal_confirm_step_offers_the_balance_and_applying_pays_at_once(owner, customer):
    factories.balance(customer, 5_000)
    factories.domain_price("xyz", 1_000)
    domain = factories.domain(customer, "taro.xyz", today_in_japan() + timedelta(days=40))
    selection = {"renew": str(domain.id), f"months-{domain.id}": "12"}
    confirm = owner.post(
        "/renewal/confirm", data=selection | {"csrf_token": csrf_token(owner, "/renewal")}
    )
    assert "(現在利用できる金額: 5,000円。お申込と同時にお支払が完了します)" in _text(confirm)
    token = re.search(r'name="application_token" value="([^"]+)"', confirm.text).group(1)

    applied = owner.post(
        "/renewal/apply",
        data=selection
        | {
            "csrf_token": csrf_token(owner, "/renewal"),
            "payment_method": "balance",
            "application_token": token,
        },
        follow_redirects=True,
    )
    assert "アカウント残高からお支払いしました。ご契約に反映しました。" in _text(applied)
    bill = db.session.scalar(select(Bill))
    assert (bill.status, bill.payment_method) == (BillStatus.PAID, PaymentMethod.BALANCE)
    assert account_balance(db.session.get(Customer, customer.id)).balance == 4_000


def test_the_confirm_step_does_not_let_a_short_balance_be_chosen(owner, customer):
    factories.domain_price("xyz", 1_000)
    domain = factories.domain(customer, "taro.xyz", today_in_japan() + timedelta(days=40))
    confirm = owner.post(
        "/renewal/confirm",
        data={
            "renew": str(domain.id),
            f"months-{domain.id}": "12",
            "csrf_token": csrf_token(owner, "/renewal"),
        },
    )
    assert re.search(r'value="balance" disabled', confirm.text)
    assert "不足しているため選べません。" in _text(confirm)


# Statements


def test_a_statement_downloads_as_a_pdf(owner, customer):
    statement = factories.balance_statement(customer, date(2026, 10, 31))
    page = owner.get("/balance")
    assert "2026年10月分のご利用明細書(PDF)" in _text(page)
    response = owner.get(f"/balance/statements/{statement.id}.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    assert "filename*=UTF-8''%E3%81%94%E5%88%A9%E7%94%A8" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"
