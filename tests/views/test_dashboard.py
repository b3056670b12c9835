import re
from datetime import timedelta

from panel.dates import today_in_japan
from panel.extensions import db
from panel.models.bills import BillKind, BillLineKind, PaymentMethod
from panel.services.billing import LineDraft, create_bill
from tests import factories


def _badge(page: str, contract_name: str, kind: str) -> str:
    row = re.search(
        rf'<tr data-contract="{re.escape(contract_name)}" data-kind="{kind}">(.*?)</tr>',
        page,
        re.S,
    )
    assert row, f"no row for {contract_name}"
    return re.search(r'<span class="badge [^"]+">([^<]+)</span>', row.group(1)).group(1)


def test_the_dashboard_shows_each_contract_with_its_status_for_today(client, login_as):
    today = today_in_japan()
    plan = factories.plan()
    customer = factories.customer()
    factories.server(customer, "trial.jp", plan, today + timedelta(days=9), is_trial=True)
    factories.server(customer, "active.jp", plan, today)
    factories.server(customer, "grace.jp", plan, today - timedelta(days=7))
    factories.server(customer, "expired.jp", plan, today - timedelta(days=8))
    factories.domain(customer, "taro.com", today + timedelta(days=60))
    factories.server(factories.customer("hanako"), "hanako.jp", plan, today)

    page = login_as(factories.owner(customer)).get("/").get_data(as_text=True)

    assert _badge(page, "trial.jp", "hosting") == "お試し"
    assert _badge(page, "active.jp", "hosting") == "有効"
    assert _badge(page, "grace.jp", "hosting") == "猶予期間"
    assert _badge(page, "expired.jp", "hosting") == "期限切れ"
    assert _badge(page, "taro.com", "domain") == "有効"
    assert "あと9日" in page
    assert "本日まで" in page
    assert "7日超過" in page
    assert f"{today.year}年{today.month}月{today.day}日" in page
    assert "hanako.jp" not in page


def test_the_dashboard_lists_bills_awaiting_payment(client, login_as):
    today = today_in_japan()
    customer = factories.customer()
    create_bill(
        customer,
        kind=BillKind.RENEWAL,
        payment_method=PaymentMethod.CONVENIENCE_STORE,
        applied_on=today,
        due_date=today + timedelta(days=7),
        lines=[
            LineDraft(kind=BillLineKind.RENEWAL, description="taro.jp 12ヶ月 更新", amount=12_540),
            LineDraft(
                kind=BillLineKind.CONVENIENCE_STORE_FEE,
                description="コンビニ決済手数料",
                amount=200,
            ),
        ],
    )
    db.session.commit()

    page = login_as(factories.owner(customer)).get("/").get_data(as_text=True)

    assert "taro.jp 12ヶ月 更新" in page
    assert "ほか1件" not in page  # the store fee belongs to the renewal, it is no item of its own
    assert "12,740円" in page
    assert "コンビニ決済" in page
    assert "ご入金待ち" in page


def test_a_new_customer_sees_friendly_empty_states(client, login_as):
    page = login_as(factories.owner(factories.customer())).get("/").get_data(as_text=True)
    assert "お支払待ちのご請求はありません。" in page
    assert "ご契約はまだありません。" in page


def test_the_navigation_only_links_to_pages_that_exist(app, client, login_as):
    page = login_as(factories.owner(factories.customer())).get("/").get_data(as_text=True)
    nav = re.search(r'<nav class="site-nav".*?</nav>', page, re.S).group(0)
    for href in re.findall(r'href="([^"]+)"', nav):
        assert client.get(href).status_code == 200, href
