"""A customer pays a bill with a card whose company asks for 3-D Secure: off to the card
company's page, authenticate, back on the bill, paid."""

from datetime import timedelta

from playwright.sync_api import expect

from panel.dates import today_in_japan
from panel.models.bills import PaymentMethod
from tests import factories


def test_pay_by_card_with_3d_secure(page, live_server):
    customer = factories.customer()
    server = factories.server(
        customer, "taro.jp", factories.plan(), today_in_japan() + timedelta(days=10)
    )
    bill = factories.renewal_bill(customer, server, method=PaymentMethod.CARD)

    page.goto(f"{live_server}/login?next=/bills/{bill.bill_no}")
    page.get_by_label("会員ID").fill(customer.member_id)
    page.get_by_label("パスワード").fill(factories.PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    expect(page.locator("#bill-status")).to_have_text("ご入金待ち")

    page.get_by_label("カード番号").fill("4000 0000 0000 3220")  # asks for 3-D Secure
    page.get_by_label("有効期限(月/年)").fill("12/30")
    page.get_by_label("セキュリティコード").fill("123")
    page.get_by_role("button", name="をカードで支払う").click()

    expect(page.get_by_role("heading", name="カード会社の本人認証(3-Dセキュア)")).to_be_visible()
    expect(page.locator("#challenge-amount")).to_have_text(f"{bill.total:,}円")
    page.get_by_role("button", name="認証する").click()

    expect(page).to_have_url(f"{live_server}/bills/{bill.bill_no}")
    expect(page.get_by_text("お支払が完了しました。ご契約に反映しました。")).to_be_visible()
    expect(page.locator("#bill-status")).to_have_text("お支払済")
    page.reload()  # a reload of the bill shows it paid, and nothing to pay
    expect(page.locator("#bill-status")).to_have_text("お支払済")
    expect(page.locator("#card-form")).to_have_count(0)
