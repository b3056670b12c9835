"""A company on invoice terms renews a domain on account (請求書払い), finds it among this
month's purchases, and registers the bank account its month-end bills are collected from."""

import re

from playwright.sync_api import expect

from panel.dates import today_in_japan
from panel.extensions import db
from panel.services.demo import seed_demo


def test_buy_on_account_then_register_the_direct_debit_account(live_server, page):
    seed_demo(today_in_japan())
    db.session.commit()
    page.goto(f"{live_server}/login")
    page.get_by_label("会員ID").fill("demo-corp+keiri")
    page.get_by_label("パスワード").fill("demo-pass-2026")
    page.get_by_role("button", name="ログイン").click()

    page.get_by_role("link", name="ご契約更新・プラン変更").click()
    page.get_by_label("demo-corp.bizを更新する").first.check()
    expect(page.locator("#renewal-total")).to_have_text("2,200円")
    page.get_by_role("button", name="次へ(お支払方法の選択)").click()
    page.get_by_label(re.compile("請求書払い")).check()
    expect(page.locator("#on-account-terms")).to_contain_text("ご契約はお申込と同時に更新されます")
    page.get_by_role("button", name="お申込").click()

    expect(page.get_by_role("heading", name="お支払・ご請求明細")).to_be_visible()
    expect(page.get_by_text("請求書払いでお申込を承り、ご契約を更新しました。")).to_be_visible()
    purchases = page.locator("#on-account-purchases")
    expect(purchases).to_contain_text("demo-corp.biz ドメイン更新 1年")
    # the demo's two purchases of the month (1,760 + 4,400) and this one
    expect(page.locator("#on-account-total")).to_have_text("8,360円")

    page.get_by_role("link", name="口座振替の登録・変更").click()
    expect(page.locator("#registered-account")).to_contain_text("三井住友銀行 本店 普通 ****567")
    page.get_by_role("button", name="口座を変更する").click()
    expect(page.get_by_role("heading", name="口座振替の口座登録")).to_be_visible()
    page.get_by_label("金融機関名").fill("ゆうちょ銀行")
    page.get_by_label("支店名").fill("〇一八")
    page.get_by_label("普通").check()
    page.get_by_label("口座番号(7桁)").fill("７６５４３２１")
    page.get_by_label("口座名義(カナ)").fill("ｶ)ﾃﾞﾓｼﾖｳｼﾞ")
    page.get_by_role("button", name="この口座を登録する").click()

    expect(page.get_by_role("heading", name="口座振替の登録")).to_be_visible()
    expect(page.locator("#registered-account")).to_contain_text("ゆうちょ銀行 〇一八 普通 ****321")
