"""A customer turns on two-factor login with an authenticator app, keeps the recovery codes,
and from then on logs in with the password and a code: a wrong one is refused, a fresh one works."""

import time

import pyotp
from playwright.sync_api import expect
from sqlalchemy import select

from panel.dates import today_in_japan
from panel.extensions import db
from panel.models import AuditEvent, User
from panel.services.demo import seed_demo


def log_in_with_password(page, live_server):
    page.goto(f"{live_server}/login")
    page.get_by_label("会員ID").fill("demo")
    page.get_by_label("パスワード").fill("demo-pass-2026")
    page.get_by_role("button", name="ログイン").click()


def test_turn_on_two_factor_login_then_log_in_with_a_code(live_server, page):
    seed_demo(today_in_japan())
    db.session.commit()
    browser_errors = []  # CSP violations and script errors show up here

    def note_console_error(message):
        if message.type == "error":
            browser_errors.append(f"{message.text} ({message.location['url']})")

    page.on("console", note_console_error)
    page.on("pageerror", lambda error: browser_errors.append(str(error)))

    log_in_with_password(page, live_server)
    page.get_by_role("navigation", name="メインメニュー").get_by_role(
        "link", name="セキュリティ設定"
    ).click()
    expect(page.get_by_role("heading", name="セキュリティ設定", exact=True)).to_be_visible()
    page.get_by_role("link", name="二要素認証を設定する").click()

    expect(page.get_by_role("img", name="QRコード")).to_be_visible()
    expect(page.locator("svg.qr-code")).to_have_count(1)
    secret = page.locator("code#totp-secret").inner_text().replace(" ", "")
    totp = pyotp.TOTP(secret)
    enrolment_step = totp.timecode(time.time())
    page.get_by_label("確認コード").fill(totp.generate_otp(enrolment_step))
    page.get_by_role("button", name="確認して有効にする").click()

    expect(page.get_by_role("heading", name="リカバリーコード")).to_be_visible()
    recovery_codes = page.locator("ol.recovery-codes li")
    expect(recovery_codes).to_have_count(10)
    kept_code = recovery_codes.first.inner_text()
    assert len(kept_code) == len("xxxx-xxxx-xxxx-xxxx")

    page.get_by_role("button", name="ログアウト").click()
    expect(page.get_by_text("ログアウトしました。")).to_be_visible()
    log_in_with_password(page, live_server)
    expect(page).to_have_url(f"{live_server}/login/code")
    expect(page.get_by_role("heading", name="確認コードの入力")).to_be_visible()

    now = totp.timecode(time.time())
    codes_the_server_may_accept = {totp.generate_otp(step) for step in range(now - 2, now + 3)}
    wrong_code = next(
        c for c in ("000000", "111111", "222222") if c not in codes_the_server_may_accept
    )
    page.get_by_label("確認コード").fill(wrong_code)
    page.get_by_role("button", name="ログイン").click()
    expect(page.locator("#code-error")).to_have_text("確認コードが正しくありません。")
    expect(page).to_have_url(f"{live_server}/login/code")

    # The enrolment's code is spent: a later step, at most one ahead of the clock, is not.
    login_step = max(totp.timecode(time.time()), enrolment_step + 1)
    page.get_by_label("確認コード").fill(totp.generate_otp(login_step))
    page.get_by_role("button", name="ログイン").click()
    expect(page.get_by_role("heading", name="ダッシュボード")).to_be_visible()
    expect(page).to_have_url(f"{live_server}/")

    assert browser_errors == []
    db.session.rollback()  # see what the server committed
    demo = db.session.scalar(select(User).where(User.login_id == "demo"))
    assert demo.totp_last_step == login_step
    actions = set(
        db.session.scalars(select(AuditEvent.action).where(AuditEvent.user_id == demo.id))
    )
    assert {"two_factor_enabled", "code_failed"} <= actions
