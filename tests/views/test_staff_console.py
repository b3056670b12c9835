"""The staff console over HTTP: login with two-factor (enrolled at the first login), the
search as staff type, payment confirmation as 経理 (not as サポート), the paper and mail queues,
staff management, and hostile input."""

import re
import time
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from panel.dates import today_in_japan
from panel.extensions import db
from panel.models import (
    AuditEvent,
    Bill,
    OutboxMail,
    PaperInvoiceRequest,
    StaffMember,
    StaffRole,
)
from panel.models.bills import BillStatus
from panel.services.mail import queue_mail
from tests import factories
from tests.conftest import csrf_token

HTMX = {"HX-Request": "true"}


@pytest.fixture
def bill():
    customer = factories.customer("taro", name="山田 太郎")
    server = factories.server(
        customer, "yamada-shop.jp", factories.plan(), today_in_japan() + timedelta(days=10)
    )
    return factories.renewal_bill(customer, server)


def _post(client, path: str, data: dict | None = None, token: str | None = None):
    """A form sent to `path` with the CSRF token (`token`, or one read from a page first)."""
    token = token or csrf_token(client, "/staff/")
    return client.post(path, data={"csrf_token": token} | (data or {}))


def _log_in_with_password(client, login_id="sato"):
    data = {
        "login_id": login_id,
        "password": factories.PASSWORD,
        "csrf_token": csrf_token(client, "/staff/login"),
    }
    return client.post("/staff/login", data=data)


def test_the_first_login_sets_up_two_factor_then_every_login_asks_for_a_code(client):
    member = factories.staff_member(two_factor=False)

    response = _log_in_with_password(client)
    assert response.headers["Location"] == "/staff/login/two-factor"
    page = client.get("/staff/login/two-factor").get_data(as_text=True)
    assert 'class="qr-code"' in page and "<h1>二要素認証の設定</h1>" in page
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    assert client.get("/staff/").status_code == 302  # no session before the code

    totp = pyotp.TOTP(secret)
    step = totp.timecode(time.time())
    token = csrf_token(client, "/staff/login/two-factor")
    response = client.post(
        "/staff/login/two-factor", data={"code": totp.generate_otp(step), "csrf_token": token}
    )
    assert response.headers["Location"] == "/staff/"
    assert client.get("/staff/").status_code == 200
    db.session.rollback()
    assert db.session.get(StaffMember, member.id).totp_secret == secret

    _post(client, "/staff/logout")
    response = _log_in_with_password(client)
    assert response.headers["Location"] == "/staff/login/code"
    token = csrf_token(client, "/staff/login/code")
    used = client.post(
        "/staff/login/code", data={"code": totp.generate_otp(step), "csrf_token": token}
    )
    assert "既に使われています" in used.get_data(as_text=True)  # the enrolment's code
    fresh = client.post(
        "/staff/login/code", data={"code": totp.generate_otp(step + 1), "csrf_token": token}
    )
    assert fresh.headers["Location"] == "/staff/"


def test_the_code_step_without_a_password_goes_back_to_the_login(client):
    assert client.get("/staff/login/code").headers["Location"] == "/staff/login"
    assert client.get("/staff/login/two-factor").headers["Location"] == "/staff/login"


def test_a_customer_cannot_log_in_as_staff_and_staff_get_their_own_cookie(client, bill):
    response = _log_in_with_password(client, login_id="taro")
    assert "ログインIDまたはパスワードが正しくありません。" in response.get_data(as_text=True)

    factories.staff_member()
    response = _log_in_with_password(client)
    cookies = response.headers.getlist("Set-Cookie")
    staff_cookie = next(c for c in cookies if c.startswith("panel_staff_session="))
    assert "HttpOnly" in staff_cookie and "SameSite=Lax" in staff_cookie


def test_the_search_answers_htmx_with_the_results_alone(client, staff_login_as, bill):
    staff_login_as(factories.staff_member())

    page = client.get("/staff/?q=yamada-sh")
    partial = client.get("/staff/?q=yamada-sh", headers=HTMX)

    assert "<h1>顧客検索</h1>" in page.get_data(as_text=True)
    results = partial.get_data(as_text=True)
    assert results.lstrip().startswith('<div id="search-results"')
    assert "ドメイン: <span" in results and "yamada-shop.jp" in results
    assert f'href="/staff/customers/{bill.customer_id}"' in results
    assert "HX-Request" in partial.headers["Vary"]
    nothing = client.get("/staff/?q=nobody", headers=HTMX).get_data(as_text=True)
    assert "「nobody」で始まる会員は見つかりません。" in nothing


def test_the_customer_page_shows_contracts_balance_bills_payments_mail_and_the_audit_log(
    client, staff_login_as, bill
):
    factories.balance(bill.customer, -1_500, credit_limit=5_000)
    staff_login_as(factories.staff_member())
    page = client.get(f"/staff/customers/{bill.customer_id}").get_data(as_text=True)
    for shown in ("yamada-shop.jp", bill.bill_no, "【ご請求】", "お客様のパネルを表示する"):
        assert shown in page
    for heading in ("ご契約(サーバー・ドメイン)", "ご入金", "送信したメール", "操作履歴"):
        assert heading in page
    assert 'アカウント残高</dt><dd class="amount">-1,500円' in page
    assert "3,500円(マイナス残高の上限 5,000円)" in page


def _confirm(client, bill, amount, confirmation=1, note="", token=None):
    prefix = f"bill-{bill.id}"
    return _post(
        client,
        f"/staff/payments/{bill.bill_no}/confirm",
        {
            f"{prefix}-amount": amount,
            f"{prefix}-received_on": today_in_japan().isoformat(),
            f"{prefix}-note": note,
            f"{prefix}-confirmation": confirmation,
        },
        token,
    )


def test_support_cannot_confirm_payments(client, staff_login_as, bill):
    staff_login_as(factories.staff_member("support", StaffRole.SUPPORT))

    assert client.get("/staff/payments").status_code == 403
    assert _confirm(client, bill, bill.total).status_code == 403
    page = client.get("/staff/").get_data(as_text=True)
    assert "入金確認" not in page  # not in the navigation either
    db.session.rollback()
    assert db.session.get(Bill, bill.id).status == BillStatus.AWAITING_PAYMENT


def test_a_confirmed_transfer_shows_as_paid_in_the_customers_own_panel(
    app, client, staff_login_as, login_as, bill
):
    staff_login_as(factories.staff_member("keiri", StaffRole.ACCOUNTING))
    queue = client.get("/staff/payments").get_data(as_text=True)
    assert bill.bill_no in queue and bill.bill_no.replace("-", "") in queue

    token = csrf_token(client, "/staff/payments")

    first = _confirm(client, bill, f"{bill.total:,}円", token=token)  # typed as people do
    again = _confirm(client, bill, bill.total, token=token)  # the same page sent twice

    assert first.headers["Location"] == again.headers["Location"] == "/staff/payments"
    flashes = client.get("/staff/payments").get_data(as_text=True)
    assert "ご請求はお支払済になりました" in flashes and "確認済みです" in flashes
    own = login_as(factories.owner(bill.customer), client=app.test_client())
    shown = own.get(f"/bills/{bill.bill_no}").get_data(as_text=True)
    assert 'id="bill-status">お支払済</span>' in shown


def test_a_confirmation_form_with_errors_says_so_in_japanese(client, staff_login_as, bill):
    staff_login_as(factories.staff_member("keiri", StaffRole.ACCOUNTING))
    for amount, message in (
        ("", "入金額を入力してください。"),
        ("１２,５４０円x", "金額は半角数字で入力してください"),
        ("99999999999999", "金額は半角数字で入力してください"),
        (bill.total - 1, "保留する理由をメモに入力してください。"),
    ):
        response = _confirm(client, bill, amount)
        assert response.status_code == 422
        assert message in response.get_data(as_text=True)
    held = _confirm(client, bill, bill.total - 1, note="手数料差引")
    assert held.status_code == 302
    assert "反映せずに保留しました" in client.get("/staff/payments").get_data(as_text=True)
    assert client.get("/staff/flagged").status_code == 200
    assert "手数料差引" in client.get("/staff/flagged").get_data(as_text=True)


def test_paper_invoices_are_printed_and_marked_mailed(app, client, staff_login_as, login_as, bill):
    customer = bill.customer
    customer.postal_code, customer.postal_address = "150-0001", "東京都渋谷区神宮前1-2-3"
    db.session.add(PaperInvoiceRequest(bill_id=bill.id, user_id=factories.owner(customer).id))
    db.session.commit()
    request_id = db.session.scalar(select(PaperInvoiceRequest.id))
    staff_login_as(factories.staff_member())

    queue = client.get("/staff/paper-invoices").get_data(as_text=True)
    assert "東京都渋谷区神宮前1-2-3" in queue and "山田 太郎</a> 様" in queue
    pdf = client.get(f"/staff/paper-invoices/{request_id}/invoice.pdf")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    _post(client, f"/staff/paper-invoices/{request_id}/mailed")

    own = login_as(factories.owner(customer), client=app.test_client())
    shown = own.get(f"/bills/{bill.bill_no}").get_data(as_text=True)
    assert "発送済み" in shown and today_in_japan().strftime("%-m月%-d日発送済み") in shown


def test_failed_mail_is_retried_or_dropped_from_the_mail_page(client, staff_login_as, bill):
    mail = db.session.scalar(select(OutboxMail).where(OutboxMail.bill_id == bill.id))
    mail.failed_at = mail.created_at
    for recipient in mail.addressees:
        recipient.status, recipient.smtp_code = "refused", 550
    other = queue_mail(bill.customer, "notice", "【お知らせ】", "本文です。\n")
    other.failed_at = other.created_at
    other.addressees[0].status = "refused"
    db.session.commit()
    staff_login_as(factories.staff_member())

    page = client.get("/staff/mail").get_data(as_text=True)
    assert "送信できず" in page and "550" in page
    _post(client, f"/staff/mail/{mail.id}/retry")
    refused = _post(client, f"/staff/mail/{other.id}/drop", {f"mail-{other.id}-reason": ""})
    assert refused.status_code == 422
    assert "送信を中止する理由を入力してください。" in refused.get_data(as_text=True)
    _post(client, f"/staff/mail/{other.id}/drop", {f"mail-{other.id}-reason": "電話で連絡済み"})

    db.session.rollback()
    assert db.session.get(OutboxMail, mail.id).failed_at is None
    assert db.session.get(OutboxMail, other.id).drop_reason == "電話で連絡済み"
    assert client.get("/staff/mail?filter=nonsense").status_code == 404


def test_an_admin_adds_disables_and_resets_staff(client, staff_login_as):
    admin = factories.staff_member("admin", StaffRole.ADMIN, name="管理 太郎")
    member = factories.staff_member("sato")
    staff_login_as(admin)

    invalid = _post(
        client,
        "/staff/members",
        {"login_id": "kato", "name": "加藤", "role": "boss", "password": "first-login-pass-2026"},
    )
    assert invalid.status_code == 422 and "役割を選んでください。" in invalid.get_data(as_text=True)
    _post(
        client,
        "/staff/members",
        {
            "login_id": "kato",
            "name": "加藤 次郎",
            "role": "accounting",
            "password": "first-login-pass-2026",
        },
    )
    _post(client, f"/staff/members/{member.id}/reset-two-factor")
    _post(client, f"/staff/members/{member.id}/disable")

    db.session.rollback()
    kato = db.session.scalar(select(StaffMember).where(StaffMember.login_id == "kato"))
    assert kato.role == "accounting" and kato.totp_secret is None
    sato = db.session.get(StaffMember, member.id)
    assert sato.totp_secret is None and sato.disabled_at is not None
    actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"staff_added", "staff_two_factor_reset", "staff_disabled"} <= actions


@pytest.mark.parametrize(
    "path",
    [
        "/staff/customers/99999",
        "/staff/customers/99999999999999999999",
        "/staff/flagged/1/apply",
        "/staff/paper-invoices/42/invoice.pdf",
        "/staff/payments/no-such-bill/confirm",
    ],
)
def test_an_object_that_does_not_exist_is_a_404(client, staff_login_as, path):
    staff_login_as(factories.staff_member("admin", StaffRole.ADMIN))
    response = (
        client.get(path) if "confirm" not in path and "apply" not in path else _post(client, path)
    )
    assert response.status_code == 404


def test_hostile_search_input_gets_a_clean_answer(client, staff_login_as):
    staff_login_as(factories.staff_member())
    assert client.get("/staff/?q=%00").status_code == 400
    assert client.get("/staff/?q=" + "あ" * 5000).status_code == 200
    assert client.get("/staff/?q=%F0%9F%98%80").status_code == 200
    assert client.get("/staff/?q=%EF%BF%BF%F4%8F%BF%BF").status_code == 200
