"""A customer logs in with the demo credentials and reads their contracts."""

from playwright.sync_api import expect

from panel.dates import today_in_japan
from panel.extensions import db
from panel.services.demo import seed_demo


def test_the_demo_customer_logs_in_and_sees_every_contract_status(live_server, page):
    seed_demo(today_in_japan())
    db.session.commit()

    page.goto(f"{live_server}/")
    expect(page).to_have_url(f"{live_server}/login?next=/")
    page.get_by_label("会員ID").fill("demo")
    page.get_by_label("パスワード").fill("wrong-password")
    page.get_by_role("button", name="ログイン").click()
    expect(page.get_by_role("alert")).to_contain_text("会員IDまたはパスワードが正しくありません。")

    page.get_by_label("パスワード").fill("demo-pass-2026")
    page.get_by_role("button", name="ログイン").click()
    expect(page.get_by_role("heading", name="ダッシュボード")).to_be_visible()

    def badge(name, kind="hosting"):
        return page.locator(f'tr[data-contract="{name}"][data-kind="{kind}"] .badge')

    expect(badge("yamada-trial.jp")).to_have_text("お試し")
    expect(badge("yamada-shop.jp")).to_have_text("有効")
    expect(badge("yamada-old.jp")).to_have_text("猶予期間")
    expect(badge("yamada-archive.jp")).to_have_text("期限切れ")
    expect(badge("yamada.net", "domain")).to_have_text("有効")
    expect(page.get_by_text("お支払待ちのご請求")).to_be_visible()

    page.get_by_role("button", name="ログアウト").click()
    expect(page.get_by_text("ログアウトしました。")).to_be_visible()
    page.goto(f"{live_server}/")
    expect(page.get_by_role("heading", name="ユーザーズパネルにログイン")).to_be_visible()
