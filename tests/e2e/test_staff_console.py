"""The demo staff member's first day, in Chromium: log in and set up two-factor login, find the
demo customer by a domain as they type, look at the customer's bills as the customer sees them,
fail to cancel one, go back, confirm the bank transfer; the customer then sees the bill paid and
who looked in their own audit log."""

import re

import pyotp
from playwright.sync_api import expect
from sqlalchemy import select

from panel.dates import today_in_japan
from panel.extensions import db
from panel.models import Bill, Customer
from panel.models.bills import BillStatus, PaymentMethod
from panel.services.demo import DEMO_PASSWORD, STAFF_PASSWORD, seed_demo
from tests.e2e.conftest import browser_context


def _awaiting_transfer() -> Bill:
    demo = db.session.scalar(select(Customer).where(Customer.member_id == "demo"))
    return db.session.scalar(
        select(Bill).where(
            Bill.customer_id == demo.id,
            Bill.status == BillStatus.AWAITING_PAYMENT,
            Bill.payment_method == PaymentMethod.BANK_TRANSFER,
        )
    )


def test_staff_find_a_customer_look_without_touching_and_confirm_a_transfer(
    live_server, page, browser
):
    seed_demo(today_in_japan())
    db.session.commit()
    bill_no, total = _awaiting_transfer().bill_no, _awaiting_transfer().total
    browser_errors = []  # CSP violations and script errors show up here
    page.on("console", lambda m: m.type == "error" and browser_errors.append(m.text))
    page.on("pageerror", lambda error: browser_errors.append(str(error)))

    # The first login: the password, then two-factor login set up with the key shown.
    page.goto(f"{live_server}/staff/login")
    page.get_by_label("ログインID").fill("staff")
    page.get_by_label("パスワード").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="次へ").click()
    expect(page.get_by_role("heading", name="二要素認証の設定")).to_be_visible()
    expect(page.get_by_role("img", name="QRコード")).to_be_visible()
    secret = page.locator("code#totp-secret").inner_text().replace(" ", "")
    page.get_by_label("確認コード").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="確認してログインする").click()
    expect(page.get_by_role("heading", name="顧客検索")).to_be_visible()

    # Results as they type, by a domain of the customer's.
    page.get_by_label("検索する語").press_sequentially("yamada-sh", delay=60)
    results = page.locator("#search-results")
    expect(results.get_by_text("ドメイン: yamada-shop.jp")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/staff/\?q=yamada-sh"))
    results.get_by_role("link", name="demo").click()
    expect(page.get_by_role("heading", name="山田 太郎 様")).to_be_visible()

    # The customer's own panel, read-only, with the banner.
    page.get_by_role("button", name="お客様のパネルを表示する(代理ログイン)").click()
    banner = page.get_by_role("region", name="代理ログイン中")
    expect(banner).to_contain_text("サポートスタッフ 佐藤 美咲")
    page.get_by_role("navigation", name="メインメニュー").get_by_role(
        "link", name="お支払・ご請求明細"
    ).click()
    page.get_by_role("link", name=bill_no).click()
    expect(page.locator("#bill-status")).to_have_text("ご入金待ち")
    page.get_by_role("link", name="お申込の取消…").click()
    page.get_by_role("button", name="お申込を取り消す").click()
    expect(page.get_by_text("お客様のパネルの内容を変更する操作はできません。")).to_be_visible()
    expect(page.locator("#bill-status")).to_have_text("ご入金待ち")
    expect(page.get_by_role("region", name="代理ログイン中")).to_be_visible()

    # Back to the console, and the transfer confirmed against the bank statement.
    page.get_by_role("region", name="代理ログイン中").get_by_role("button", name="戻る").click()
    expect(page.get_by_text("代理ログインを終了しました。")).to_be_visible()
    page.get_by_role("navigation", name="スタッフメニュー").get_by_role(
        "link", name="入金確認"
    ).click()
    section = page.locator(f"#bill-{bill_no}")
    expect(section).to_contain_text("みずほ銀行")  # the customer's transfer notice beside it
    section.get_by_label("入金額(円)").fill(str(total))
    section.get_by_role("button", name="入金を確認する").click()
    expect(page.get_by_text("ご請求はお支払済になりました")).to_be_visible()

    # The customer sees it paid, and who looked.
    customer = browser_context(browser).new_page()
    customer.goto(f"{live_server}/login")
    customer.get_by_label("会員ID").fill("demo")
    customer.get_by_label("パスワード").fill(DEMO_PASSWORD)
    customer.get_by_role("button", name="ログイン").click()
    customer.goto(f"{live_server}/bills/{bill_no}")
    expect(customer.locator("#bill-status")).to_have_text("お支払済")
    customer.goto(f"{live_server}/settings/security")
    log = customer.locator("table.audit-log")
    expect(log).to_contain_text("サポートスタッフによる代理ログイン(閲覧)の開始")
    expect(log).to_contain_text("サポートスタッフによる代理ログイン(閲覧)の終了")
    expect(log).to_contain_text("サポートスタッフ 佐藤 美咲")
    customer.context.close()
    # The refused cancellation's 403 is the one failed request the browser reports.
    assert [e for e in browser_errors if "status of 403" not in e] == []
