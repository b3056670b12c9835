"""The corporate demo customer lets its .net domains lapse, keeps one of them, and sees each
domain's effective policy change in place (htmx), without a reload."""

from playwright.sync_api import expect

from panel.dates import today_in_japan
from panel.extensions import db
from panel.services.demo import seed_demo

NET_DOMAINS = ("demo-corp.net", "demo-corp-cloud.net", "demo-corp-shop.net", "demo-corp-event.net")


def test_a_tlds_policy_changes_every_domain_under_it_and_one_domain_keeps_its_own(
    live_server, page
):
    seed_demo(today_in_japan())
    db.session.commit()
    page.goto(f"{live_server}/login")
    page.get_by_label("会員ID").fill("demo-corp")
    page.get_by_label("パスワード").fill("demo-pass-2026")
    page.get_by_role("button", name="ログイン").click()
    page.get_by_role("link", name="ドメイン一覧・設定").click()
    expect(page.get_by_role("heading", name="ドメイン一覧・設定", level=1)).to_be_visible()
    page.evaluate("window.stillTheSamePage = true")

    def row(name: str):
        return page.locator(f'#domain-table tr[data-domain="{name}"]')

    for name in NET_DOMAINS:
        expect(row(name).locator(".policy")).to_contain_text("自動更新")
        expect(row(name).locator(".policy")).to_contain_text("アカウント全体の設定")

    page.get_by_label("TLD .net の設定").select_option(label="自動失効")
    page.locator("#tld-net").get_by_role("button", name="保存").click()

    expect(page.locator("#domains-message")).to_contain_text(
        f"{len(NET_DOMAINS)}件のドメインが変わりました"
    )
    for name in NET_DOMAINS:
        expect(row(name).locator(".policy")).to_contain_text("自動失効")
        expect(row(name).locator(".policy")).to_contain_text("TLD(.net)の設定")
        expect(row(name)).to_have_class("is-changed")
    # Other TLDs are untouched, and not marked.
    expect(row("demo-corp.com").locator(".policy")).to_contain_text("自動更新")
    expect(row("demo-corp.com")).not_to_have_class("is-changed")

    page.get_by_label("demo-corp-shop.net の設定").select_option(label="自動更新")
    row("demo-corp-shop.net").get_by_role("button", name="保存").click()

    expect(page.locator("#domains-message")).to_contain_text(
        "1件のドメインが変わりました: demo-corp-shop.net(自動更新)"
    )
    expect(row("demo-corp-shop.net").locator(".policy")).to_contain_text("自動更新")
    expect(row("demo-corp-shop.net").locator(".policy")).to_contain_text("このドメインの設定")
    expect(row("demo-corp-shop.net")).to_have_class("is-changed")
    expect(row("demo-corp.net").locator(".policy")).to_contain_text("自動失効")
    expect(row("demo-corp.net")).not_to_have_class("is-changed")
    assert page.evaluate("window.stillTheSamePage") is True  # swapped in place, no reload

    # What was saved is what a fresh load of the page shows.
    page.reload()
    expect(row("demo-corp-cloud.net").locator(".policy")).to_contain_text("自動失効")
    expect(row("demo-corp-shop.net").locator(".policy")).to_contain_text("このドメインの設定")
