"""A customer renews two contracts on one bill, watching the price change as they pick."""

from playwright.sync_api import expect

from panel.dates import today_in_japan
from panel.extensions import db
from panel.services.demo import seed_demo


def test_renew_two_contracts_with_a_live_total_and_land_on_the_bill(live_server, page):
    seed_demo(today_in_japan())
    db.session.commit()
    page.goto(f"{live_server}/login")
    page.get_by_label("会員ID").fill("demo")
    page.get_by_label("パスワード").fill("demo-pass-2026")
    page.get_by_role("button", name="ログイン").click()
    page.get_by_role("link", name="ご契約更新・プラン変更").click()
    expect(page.get_by_role("heading", name="ご契約更新・プラン変更")).to_be_visible()
    page.evaluate("window.stillTheSamePage = true")
    total = page.locator("#renewal-total")
    expect(total).to_have_text("0円")

    page.get_by_label("yamada-blog.comを更新する").first.check()
    expect(total).to_have_text("6,270円")  # lite, 1 year
    page.get_by_label("yamada-shop.jpを更新する").first.check()
    expect(total).to_have_text("18,810円")  # + standard, 1 year
    page.get_by_label("yamada-shop.jpの延長期間").first.select_option(label="3ヶ月")
    expect(total).to_have_text("9,570円")  # 6,270 + 3,300
    assert page.evaluate("window.stillTheSamePage") is True  # no reload happened

    page.get_by_role("button", name="次へ(お支払方法の選択)").click()
    expect(page.locator("#confirm-total")).to_have_text("9,570円")
    page.get_by_label("コンビニ決済").check()
    expect(page.locator("#confirm-total")).to_have_text("9,770円")
    page.get_by_role("button", name="お申込").click()

    expect(page.get_by_role("heading", name="ご請求の詳細")).to_be_visible()
    expect(page).to_have_url(f"{live_server}/bills/{page.locator('#bill-no').inner_text()}")
    expect(page.locator("#bill-total")).to_have_text("9,770円")
    expect(page.get_by_text("ご入金待ち").first).to_be_visible()
