"""A customer switches a bank-transfer bill to card, is declined once, pays, and sees the
contract renewed on the dashboard."""

from playwright.sync_api import expect
from sqlalchemy import select

from panel.dates import today_in_japan
from panel.extensions import db
from panel.filters import japanese_date
from panel.models import Bill
from panel.services.demo import seed_demo


def test_pay_a_bank_transfer_bill_by_card_instead_and_see_the_contract_renewed(live_server, page):
    today = today_in_japan()
    seed_demo(today)
    db.session.commit()
    expiry = f"12/{(today.year + 3) % 100:02d}"
    page.goto(f"{live_server}/login")
    page.get_by_label("会員ID").fill("demo")
    page.get_by_label("パスワード").fill("demo-pass-2026")
    page.get_by_role("button", name="ログイン").click()
    menu = page.get_by_role("navigation", name="メインメニュー")
    menu.get_by_role("link", name="お支払・ご請求明細").click()

    office_bill = page.locator("#bill-list tbody tr").filter(has_text="yamada-office.jp")
    expect(office_bill).to_have_count(1)
    expect(office_bill).to_contain_text("銀行振込")
    expect(office_bill).to_contain_text("ご入金待ち")
    bill_no = office_bill.get_by_role("link").inner_text()
    office_bill.get_by_role("link", name=bill_no).click()
    expect(page).to_have_url(f"{live_server}/bills/{bill_no}")
    status = page.locator("#bill-status")
    expect(status).to_have_text("ご入金待ち")
    page.evaluate("window.stillTheSamePage = true")

    page.get_by_text("お支払方法を変更する").click()
    page.get_by_label("クレジットカード").check()
    page.get_by_role("button", name="この方法に変更する").click()
    expect(page.locator("#bill-method")).to_have_text("クレジットカード")

    page.get_by_label("カード番号").fill("4000000000000002")  # the sandbox's declined card
    page.get_by_label("有効期限(月/年)").fill(expiry)
    page.get_by_label("セキュリティコード").fill("123")
    page.get_by_role("button", name="をカードで支払う").click()
    # The decline is shown next to the card number, and linked from the form's summary.
    expect(page.locator("#number-error")).to_contain_text(
        "カード会社により決済が承認されませんでした"
    )
    expect(status).to_have_text("ご入金待ち")

    page.get_by_label("カード番号").fill("4242424242424242")  # VISA, approved
    page.get_by_label("有効期限(月/年)").fill(expiry)
    page.get_by_label("セキュリティコード").fill("123")
    page.get_by_role("button", name="をカードで支払う").click()
    expect(status).to_have_text("お支払済")
    expect(page.get_by_text("お支払が完了しました。ご契約に反映しました。")).to_be_visible()
    assert page.evaluate("window.stillTheSamePage") is True  # htmx swapped the bill in

    db.session.rollback()  # see what the server committed
    bill = db.session.scalar(select(Bill).where(Bill.bill_no == bill_no))
    (line,) = [line for line in bill.lines if line.new_renewal_date is not None]
    renewed_to = japanese_date(line.new_renewal_date)
    menu.get_by_role("link", name="ダッシュボード").click()
    office = page.locator('#contracts tr[data-contract="yamada-office.jp"][data-kind="hosting"]')
    expect(office.locator('td[data-label="更新日"]')).to_have_text(renewed_to)
