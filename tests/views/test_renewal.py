import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from panel.dates import add_months, today_in_japan
from panel.extensions import db
from panel.models import Bill, OutboxMail
from panel.models.customers import CustomerKind
from tests import factories
from tests.conftest import csrf_token


@pytest.fixture
def setup():
    today = today_in_japan()
    plans = factories.plan_lineup()
    lite, standard = plans["lite"], plans["standard"]
    customer = factories.customer(sub_email="taro-sub@example.com")
    servers = [
        factories.server(customer, "a.jp", standard, today + timedelta(days=10)),
        factories.server(customer, "b.jp", standard, today + timedelta(days=20), domains_used=12),
        factories.server(customer, "gone.jp", standard, today - timedelta(days=8)),
    ]
    return {
        "today": today,
        "lite": lite,
        "standard": standard,
        "customer": customer,
        "servers": servers,
    }


@pytest.fixture
def owner_client(client, login_as, setup):
    return login_as(factories.owner(setup["customer"]))


def _form(client, *rows, month_end=False, **extra):
    data = {"csrf_token": csrf_token(client, "/renewal")}
    data["renew"] = [str(contract.id) for contract, _, _ in rows]
    for contract, months, plan in rows:
        data[f"months-{contract.id}"] = str(months)
        data[f"plan-{contract.id}"] = str(plan.id)
    if month_end:
        data["month_end"] = "on"
    return data | extra


HTMX = {"HX-Request": "true"}


def test_the_page_lists_the_renewable_contracts_with_their_pickers(owner_client, setup):
    page = owner_client.get("/renewal").get_data(as_text=True)
    assert "<h1>ご契約更新・プラン変更</h1>" in page
    assert 'data-contract="a.jp"' in page and 'data-contract="b.jp"' in page
    assert 'data-contract="gone.jp"' not in page  # expired: no longer offered, and says why
    assert "次のご契約は、ご契約更新日の7日後を過ぎたため更新できません(期限切れ)。" in page
    assert "<li>gone.jp(ご契約更新日" in page
    assert "次回ご契約更新日を末日にする" in page


def test_changing_a_picker_with_htmx_returns_the_new_price_and_total(owner_client, setup):
    a = setup["servers"][0]
    response = owner_client.post(
        "/renewal", headers=HTMX, data=_form(owner_client, (a, 3, setup["standard"]))
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert page.startswith('<div id="renewal-selection">')
    assert '<strong id="renewal-total">3,300円</strong>' in page
    new_date = add_months(a.renewal_date, 3)
    assert f"{new_date.year}年{new_date.month}月{new_date.day}日" in page
    assert "HX-Request" in response.headers["Vary"]


def test_recalculating_without_javascript_returns_the_whole_page(owner_client, setup):
    a = setup["servers"][0]
    page = owner_client.post("/renewal", data=_form(owner_client, (a, 12, setup["standard"])))
    text = page.get_data(as_text=True)
    assert "<html" in text
    assert '<strong id="renewal-total">12,540円</strong>' in text


def test_a_downgrade_beyond_the_limits_says_why(owner_client, setup):
    b = setup["servers"][1]
    page = owner_client.post(
        "/renewal", headers=HTMX, data=_form(owner_client, (b, 12, setup["lite"]))
    ).get_data(as_text=True)
    assert "Liteプランへは変更できません。" in page
    assert "12個ご利用中です" in page
    assert '<strong id="renewal-total">0円</strong>' in page


def test_confirm_shows_the_lines_total_and_payment_methods(owner_client, setup):
    a, b, _ = setup["servers"]
    page = owner_client.post(
        "/renewal/confirm",
        data=_form(owner_client, (a, 3, setup["standard"]), (b, 12, setup["standard"])),
    ).get_data(as_text=True)
    assert "お申込内容" in page
    assert '<td class="num" id="confirm-total">15,840円</td>' in page
    for method in ("クレジットカード", "PayPal", "銀行振込", "コンビニ決済"):
        assert method in page
    assert "コンビニ決済手数料" not in page  # the fee line only once it is chosen


def test_choosing_the_convenience_store_adds_its_fee_live(owner_client, setup):
    a = setup["servers"][0]
    data = _form(owner_client, (a, 1, setup["standard"]), payment_method="convenience_store")
    page = owner_client.post("/renewal/confirm", headers=HTMX, data=data).get_data(as_text=True)
    assert page.startswith('<section id="confirm-summary"')
    assert "コンビニ決済手数料" in page
    assert '<td class="num" id="confirm-total">1,300円</td>' in page


def test_confirm_with_nothing_ticked_asks_to_choose(owner_client, setup):
    page = owner_client.post("/renewal/confirm", data=_form(owner_client)).get_data(as_text=True)
    assert "更新するご契約を選択してください。" in page


APPLICATION_TOKEN = re.compile(r'name="application_token" value="([^"]+)"')


def _confirmed_token(client, *rows) -> str:
    """The application token the confirm page made for these rows, as a browser gets it."""
    page = client.post("/renewal/confirm", data=_form(client, *rows)).get_data(as_text=True)
    return APPLICATION_TOKEN.search(page).group(1)


def _apply(client, *rows, token=None, method="bank_transfer", headers=None, **extra):
    token = token or _confirmed_token(client, *rows)
    data = _form(client, *rows, application_token=token, payment_method=method, **extra)
    return client.post("/renewal/apply", data=data, headers=headers or {})


def test_applying_creates_one_bill_and_goes_to_it(owner_client, setup):
    a, b, _ = setup["servers"]
    response = _apply(owner_client, (a, 3, setup["standard"]), (b, 12, setup["standard"]))
    assert response.status_code == 302
    bill = db.session.scalar(select(Bill))
    assert response.headers["Location"] == f"/bills/{bill.bill_no}"
    assert bill.total == 3_300 + 12_540
    assert db.session.scalar(select(func.count()).select_from(OutboxMail)) == 1
    page = owner_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "ご入金待ち" in page and "15,840円" in page and "サンプル銀行" in page


def test_applying_with_htmx_redirects_by_header(owner_client, setup):
    a = setup["servers"][0]
    response = _apply(owner_client, (a, 1, setup["standard"]), headers=HTMX)
    assert response.status_code == 204
    assert response.headers["HX-Redirect"].startswith("/bills/")


def test_a_double_submitted_apply_makes_one_bill(owner_client, setup):
    a = setup["servers"][0]
    token = _confirmed_token(owner_client, (a, 1, setup["standard"]))
    first = _apply(owner_client, (a, 1, setup["standard"]), token=token)
    second = _apply(owner_client, (a, 1, setup["standard"]), token=token)
    assert first.headers["Location"] == second.headers["Location"]
    assert db.session.scalar(select(func.count()).select_from(Bill)) == 1


def test_tampered_prices_or_dates_change_nothing(owner_client, setup):
    a = setup["servers"][0]
    _apply(
        owner_client,
        (a, 12, setup["standard"]),
        total="1",
        price="1",
        amount="1",
        new_renewal_date="2099-01-01",
    )
    bill = db.session.scalar(select(Bill))
    assert bill.total == 12_540
    assert bill.lines[0].new_renewal_date == add_months(a.renewal_date, 12)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda s: {"months": 2},  # a period no plan offers
        lambda s: {"plan": type("P", (), {"id": 999_999})},  # no such plan
        lambda s: {"contract": s["servers"][2]},  # expired
        lambda s: {
            "contract": factories.server(
                factories.customer("hanako"), "hanako.jp", s["standard"], s["today"]
            )
        },  # someone else's
    ],
)
def test_a_tampered_choice_is_refused_and_makes_no_bill(owner_client, setup, tamper):
    change = tamper(setup)
    row = (
        change.get("contract", setup["servers"][0]),
        change.get("months", 1),
        change.get("plan", setup["standard"]),
    )
    token = _confirmed_token(owner_client, (setup["servers"][0], 1, setup["standard"]))
    response = _apply(owner_client, row, token=token)
    assert response.status_code == 200
    assert re.search(
        "お申込できないご契約があります|見つかりません", response.get_data(as_text=True)
    )
    assert db.session.scalar(select(func.count()).select_from(Bill)) == 0


def test_an_application_without_a_method_is_refused_on_the_page(owner_client, setup):
    a = setup["servers"][0]
    page = _apply(owner_client, (a, 1, setup["standard"]), method="").get_data(as_text=True)
    assert "お支払方法を選択してください。" in page
    assert db.session.scalar(select(func.count()).select_from(Bill)) == 0


def test_a_contract_already_billed_links_to_its_bill(owner_client, setup):
    a = setup["servers"][0]
    location = _apply(owner_client, (a, 1, setup["standard"])).headers["Location"]
    page = owner_client.get("/renewal").get_data(as_text=True)
    assert f'href="{location}"' in page
    assert "ご入金待ち)でお申込済みです。" in page


@pytest.mark.parametrize("role", ["technical", "read_only"])
def test_roles_that_may_not_apply_see_prices_but_cannot_apply(client, login_as, setup, role):
    login_as(factories.sub_user(setup["customer"], f"taro-{role}", role))
    page = client.get("/renewal").get_data(as_text=True)
    assert "お申込は管理者または請求担当の方が行えます。" in page
    a = setup["servers"][0]
    assert _apply(client, (a, 1, setup["standard"]), token="any").status_code == 403
    assert db.session.scalar(select(func.count()).select_from(Bill)) == 0


def test_another_customers_bill_is_not_found(client, login_as, setup):
    a = setup["servers"][0]
    login_as(factories.owner(setup["customer"]))
    location = _apply(client, (a, 1, setup["standard"])).headers["Location"]
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login_as(factories.owner(factories.customer("hanako")))
    assert client.get(location).status_code == 404


def test_a_corporate_customer_downloads_a_quote_of_the_selection(client, login_as, setup):
    corp = factories.customer("corp", name="株式会社テスト", kind=CustomerKind.CORPORATE)
    server = factories.server(corp, "corp.co.jp", setup["standard"], setup["today"])
    login_as(factories.owner(corp))
    assert "見積書(PDF)" in client.get("/renewal").get_data(as_text=True)
    response = client.post(
        "/renewal/quote.pdf", data=_form(client, (server, 12, setup["standard"]))
    )
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    assert (
        "filename*=UTF-8''%E5%BE%A1%E8%A6%8B%E7%A9%8D%E6%9B%B8_"
        in response.headers["Content-Disposition"]
    )
    empty = client.post("/renewal/quote.pdf", data={"csrf_token": csrf_token(client, "/renewal")})
    assert "見積書を作成するご契約を選択してください" in empty.get_data(as_text=True)


def test_an_individual_is_offered_no_quote(owner_client, setup):
    assert "見積書(PDF)" not in owner_client.get("/renewal").get_data(as_text=True)
    server = setup["servers"][0]
    response = owner_client.post(
        "/renewal/quote.pdf", data=_form(owner_client, (server, 12, setup["standard"]))
    )
    assert response.status_code == 403
    assert "見積書は法人のお客様がご利用いただけます。" in response.get_data(as_text=True)
