"""請求書払い in the browser: the method only companies on invoice terms see at the confirm step,
buying with it, this month's purchases on the bill list, a month-end bill's page, and what a
forged or hostile request gets."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from panel.dates import add_months, today_in_japan
from panel.extensions import db
from panel.jobs.daily import bill_month_ends
from panel.models import Bill, Contract, OnAccountPurchase
from panel.models.bills import BillKind, PaymentMethod
from panel.models.customers import CustomerKind, Role
from panel.services.on_account import closing_day
from tests import factories
from tests.conftest import csrf_token

HTMX = {"HX-Request": "true"}
APPLICATION_TOKEN = re.compile(r'name="application_token" value="([^"]+)"')
ON_ACCOUNT_LABEL = "請求書払い(月末締め翌月末払い)"


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


@pytest.fixture
def setup():
    today = today_in_japan()
    plan = factories.plan()
    company = factories.company_on_invoice_terms(contact_name="経理部 田中 一郎")
    server = factories.server(company, "corp.co.jp", plan, today + timedelta(days=20))
    return {"today": today, "plan": plan, "company": company, "server": server}


def _form(client, server, plan, **extra):
    return {
        "csrf_token": csrf_token(client, "/renewal"),
        "renew": str(server.id),
        f"months-{server.id}": "12",
        f"plan-{server.id}": str(plan.id),
    } | extra


def _apply(client, server, plan, method="on_account", headers=None, **extra):
    page = client.post("/renewal/confirm", data=_form(client, server, plan)).get_data(as_text=True)
    token = APPLICATION_TOKEN.search(page).group(1)
    data = _form(client, server, plan, application_token=token, payment_method=method) | extra
    return client.post("/renewal/apply", data=data, headers=headers or {})


def _purchases() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(OnAccountPurchase))


@pytest.mark.parametrize("role", [Role.OWNER, Role.BILLING])
def test_the_confirm_step_offers_invoice_terms_first_to_the_company(client, login_as, setup, role):
    user = factories.owner(setup["company"])
    if role != Role.OWNER:
        user = factories.sub_user(setup["company"], "corp+keiri", role)
    login_as(user)
    page = _text(
        client.post("/renewal/confirm", data=_form(client, setup["server"], setup["plan"]))
    )
    assert ON_ACCOUNT_LABEL in page
    assert page.index(ON_ACCOUNT_LABEL) < page.index("クレジットカード")


def test_choosing_it_says_when_the_bill_comes_and_is_due(client, login_as, setup):
    login_as(factories.owner(setup["company"]))
    data = _form(client, setup["server"], setup["plan"], payment_method="on_account")
    page = _text(client.post("/renewal/confirm", data=data, headers=HTMX))
    closing = closing_day(setup["today"])
    due = add_months(closing.replace(day=1), 1)
    assert "ご契約はお申込と同時に更新されます。" in page
    assert f"{closing.year}年{closing.month}月{closing.day}日締め" in page
    assert f"お支払期限日は {due.year}年{due.month}月" in page


@pytest.mark.parametrize("kind", [CustomerKind.INDIVIDUAL, CustomerKind.CORPORATE])
def test_others_are_not_offered_it_and_a_forged_choice_is_refused(client, login_as, setup, kind):
    customer = factories.customer("someone", kind=kind)
    server = factories.server(customer, "someone.jp", setup["plan"], setup["today"])
    login_as(factories.owner(customer))
    page = _text(client.post("/renewal/confirm", data=_form(client, server, setup["plan"])))
    assert "請求書払い" not in page

    response = _apply(client, server, setup["plan"])
    assert response.status_code == 200
    assert "請求書払いは、法人のお客様向けドメイン管理サービス(月末締め翌月末払い)を" in _text(
        response
    )
    assert _purchases() == 0
    assert db.session.get(Contract, server.id).renewal_date == setup["today"]


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_buying_on_account_renews_at_once_and_shows_the_purchase_on_the_bill_list(
    client, login_as, setup, headers
):
    login_as(factories.owner(setup["company"]))
    server = setup["server"]
    renewal_date = server.renewal_date
    response = _apply(client, server, setup["plan"], headers=headers)
    if headers:
        assert (response.status_code, response.headers["HX-Redirect"]) == (204, "/bills")
    else:
        assert (response.status_code, response.headers["Location"]) == (302, "/bills")
    db.session.rollback()
    assert db.session.get(Contract, server.id).renewal_date == add_months(renewal_date, 12)
    assert db.session.scalar(select(func.count()).select_from(Bill)) == 0

    page = _text(client.get("/bills"))
    assert "請求書払いでお申込を承り、ご契約を更新しました。" in page
    assert "請求書払い(月末締め翌月末払い)のご利用" in page
    assert "corp.co.jp Standardプラン 1年 更新" in page
    assert "ご利用金額(税込) 12,540円" in page


def test_a_double_submit_buys_once(client, login_as, setup):
    login_as(factories.owner(setup["company"]))
    page = client.post(
        "/renewal/confirm", data=_form(client, setup["server"], setup["plan"])
    ).get_data(as_text=True)
    token = APPLICATION_TOKEN.search(page).group(1)
    data = _form(
        client, setup["server"], setup["plan"], application_token=token, payment_method="on_account"
    )
    for _ in range(3):
        assert client.post("/renewal/apply", data=data).status_code == 302
    assert _purchases() == 1


@pytest.mark.parametrize("role", [Role.TECHNICAL, Role.READ_ONLY])
def test_roles_that_may_not_apply_cannot_buy_on_account(client, login_as, setup, role):
    login_as(factories.sub_user(setup["company"], f"corp+{role}", role))
    response = client.post(
        "/renewal/apply",
        data=_form(client, setup["server"], setup["plan"], payment_method="on_account"),
    )
    assert response.status_code == 403
    assert _purchases() == 0


@pytest.mark.parametrize(
    "method",
    ["on_account\x00", "ON_ACCOUNT", "on_account ", "ｏｎ＿ａｃｃｏｕｎｔ", "9" * 400],
    ids=["nul", "upper", "space", "full-width", "huge"],
)
def test_a_mangled_method_buys_nothing(client, login_as, setup, method):
    login_as(factories.owner(setup["company"]))
    response = _apply(client, setup["server"], setup["plan"], method=method)
    assert response.status_code in (200, 400)
    assert _purchases() == 0


def test_another_customers_contract_cannot_be_bought_on_account(client, login_as, setup):
    theirs = factories.server(
        factories.customer("other"), "other.jp", setup["plan"], setup["today"]
    )
    login_as(factories.owner(setup["company"]))
    token_page = client.post(
        "/renewal/confirm", data=_form(client, setup["server"], setup["plan"])
    ).get_data(as_text=True)
    token = APPLICATION_TOKEN.search(token_page).group(1)
    response = client.post(
        "/renewal/apply",
        data=_form(
            client, theirs, setup["plan"], application_token=token, payment_method="on_account"
        ),
    )
    assert response.status_code == 200
    assert "選択されたご契約が見つかりません。" in _text(response)
    assert _purchases() == 0


# A month-end bill's page


@pytest.fixture
def month_end_bill(client, login_as, setup):
    login_as(factories.owner(setup["company"]))
    _apply(client, setup["server"], setup["plan"])
    bill_month_ends(closing_day(setup["today"]) + timedelta(days=1))
    db.session.rollback()
    return db.session.scalar(select(Bill).where(Bill.kind == BillKind.MONTH_END))


def test_a_month_end_bill_shows_its_purchases_and_can_be_neither_cancelled_nor_paid_in_store(
    client, month_end_bill
):
    page = _text(client.get(f"/bills/{month_end_bill.bill_no}"))
    assert "締め日" in page and "ご利用日" in page
    assert "corp.co.jp Standardプラン 1年 更新" in page
    assert "お申込の取消" not in page
    assert "紙面の請求書郵送を依頼する" in page  # a company on invoice terms
    assert "口座振替" in page and "クレジットカード" in page  # the methods it may take
    assert "PayPal" not in page and "コンビニ決済" not in page

    response = client.post(
        f"/bills/{month_end_bill.bill_no}/cancel",
        data={"csrf_token": csrf_token(client, f"/bills/{month_end_bill.bill_no}")},
        headers=HTMX,
    )
    assert "取り消せません" in _text(response)
    response = client.post(
        f"/bills/{month_end_bill.bill_no}/payment-method",
        data={
            "csrf_token": csrf_token(client, f"/bills/{month_end_bill.bill_no}"),
            "method": "convenience_store",
        },
        headers=HTMX,
    )
    assert "お支払方法を選択してください。" in _text(response)
    db.session.rollback()
    bill = db.session.get(Bill, month_end_bill.id)
    assert bill.payment_method == PaymentMethod.BANK_TRANSFER and bill.cancelled_at is None


def test_a_month_end_bill_past_due_still_shows_how_to_pay(client, month_end_bill, monkeypatch):
    import panel.views.bills as bills_view

    later = month_end_bill.due_date + timedelta(days=3)
    monkeypatch.setattr(bills_view, "today_in_japan", lambda: later)
    page = _text(client.get(f"/bills/{month_end_bill.bill_no}"))
    assert "を過ぎています。お早めにお振込みをお願いいたします。" in page
    assert "振込連絡" in page
    assert "自動で取り消されます" not in page
