"""Every page a customer can open, as the users who open them, and every page of the staff
console: the tour the page checkers (tests/e2e/test_page_checks.py) take, once through the test
client for the Nu HTML Checker and once in Chromium for axe-core.

The data is the demo's (`seed_demo`), with what it lacks added by the factories: bills awaiting
payment by card, PayPal and a convenience store (no payment number yet), a sub-user of each
role, two-factor login on for the corporate owner, staff of two roles with their authenticator
set up (and one without, for the first login), and a mail that could not be delivered.
"""

import html
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import pyotp
from flask import current_app
from sqlalchemy import select

from panel import labels
from panel.dates import add_months, today_in_japan
from panel.extensions import db
from panel.gateways.sandbox import AUTHENTICATED_CARD, sandbox_gateway
from panel.models import (
    Bill,
    Contract,
    ContractKind,
    Customer,
    Payment,
    StaffMember,
    StaffRole,
    StorePayment,
)
from panel.models.bills import BillKind, BillStatus, PaymentMethod
from panel.models.customers import Role
from panel.models.mail import RecipientStatus
from panel.models.types import utc_now
from panel.services.balance import start_deposit
from panel.services.billing import create_bill, new_application_token
from panel.services.demo import DEMO_PASSWORD, seed_demo
from panel.services.direct_debit import customer_ref
from panel.services.mail import queue_mail
from panel.services.month_end import settlement_due_date, settlement_line
from tests import factories

OWNER = "demo"
#: The corporate owner, with two-factor login on: logs in only to show the code step.
TWO_FACTOR_OWNER = "demo-corp"
BILLING = "demo-billing"
TECHNICAL = "demo-tech"
READ_ONLY = "demo-viewer"
#: demo-corp's users (its owner logs in with a code): the accounting clerk of the demo, and a
#: second owner added for the pages only owners open.
CORP_BILLING = "demo-corp+keiri"
CORP_OWNER = "demo-corp+kanri"
PASSWORD = DEMO_PASSWORD
#: Staff logins of the tour (their two-factor login set up), and one at its first login.
STAFF_ADMIN = "tour-admin"
STAFF_SUPPORT = "tour-support"
STAFF_LOGINS = (STAFF_ADMIN, STAFF_SUPPORT)
NEW_STAFF = "tour-new"


def staff_code(login_id: str) -> str:
    """A code of the staff member's authenticator the server has not seen yet."""
    db.session.rollback()
    member = db.session.scalar(select(StaffMember).where(StaffMember.login_id == login_id))
    totp = pyotp.TOTP(member.totp_secret)
    return totp.generate_otp(max(totp.timecode(time.time()), (member.totp_last_step or 0) + 1))


@dataclass(frozen=True)
class Visit:
    """One page of the tour. `user` opens `path` (None: a visitor with no session yet); with
    `post`, the form on that page is then sent to `post` with `fields` (a dict, or a function
    of the page's HTML) and the CSRF token, redirects followed. The page that results must
    answer `status`, have `heading` as its h1 and contain `shows`: the checkers check the page
    meant, not a login page or an error instead."""

    name: str
    user: str | None
    path: str
    heading: str
    shows: str = ""
    post: str | None = None
    fields: dict | Callable[[str], dict] = field(default_factory=dict)
    status: int = 200

    def form_fields(self, page_html: str) -> dict:
        fields = self.fields(page_html) if callable(self.fields) else self.fields
        return {"csrf_token": hidden_value(page_html, "csrf_token")} | fields


def hidden_value(page_html: str, name: str) -> str:
    """The value of the hidden input `name` on the page (whatever the attribute order)."""
    tag = re.search(rf'<input[^>]*\bname="{re.escape(name)}"[^>]*>', page_html)
    assert tag, f"no hidden field {name} on the page"
    value = re.search(r'\bvalue="([^"]*)"', tag.group(0))
    return html.unescape(value.group(1)) if value else ""


def _enrolment_secret(page_html: str) -> str:
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page_html)
    assert secret, "no setup key on the two-factor page"
    return secret.group(1).replace(" ", "")


def _right_code(page_html: str) -> dict:
    return {"code": pyotp.TOTP(_enrolment_secret(page_html)).now()}


def _wrong_code(page_html: str) -> dict:
    totp = pyotp.TOTP(_enrolment_secret(page_html))
    now = time.time()
    accepted = {totp.at(now + steps * totp.interval) for steps in (-1, 0, 1)}
    return {"code": next(code for code in ("000000", "111111", "222222") if code not in accepted)}


def _bill_name(bill: Bill) -> str:
    status, method = labels.BILL_STATUS[bill.status], labels.PAYMENT_METHOD[bill.payment_method]
    name = f"ご請求 {bill.bill_no}({status}・{method}"
    if bill.status == BillStatus.AWAITING_PAYMENT and bill.payment_method == (
        PaymentMethod.CONVENIENCE_STORE
    ):
        issued = db.session.scalar(select(StorePayment.id).where(StorePayment.bill_id == bill.id))
        name += "・お支払番号発行済み" if issued else "・お支払番号未発行"
    return name + ")"


def _customer(member_id: str) -> Customer:
    return db.session.scalar(select(Customer).where(Customer.member_id == member_id))


def _server(customer: Customer, name: str) -> Contract:
    return db.session.scalar(
        select(Contract).where(
            Contract.customer_id == customer.id,
            Contract.name == name,
            Contract.kind == ContractKind.HOSTING,
        )
    )


def _domain(customer: Customer, name: str) -> Contract:
    return db.session.scalar(
        select(Contract).where(
            Contract.customer_id == customer.id,
            Contract.name == name,
            Contract.kind == ContractKind.DOMAIN,
        )
    )


def _awaiting(bills: list[Bill], method: str) -> Bill:
    return next(
        bill
        for bill in bills
        if bill.status == BillStatus.AWAITING_PAYMENT
        and bill.payment_method == method
        and bill.kind == BillKind.RENEWAL
    )


def prepare_tour() -> list[Visit]:
    """Seed the data and list the visits, in the order they are taken (some build on earlier
    ones: two-factor login is turned on before the pages that show it on)."""
    today = today_in_japan()
    seed_demo(today)
    db.session.commit()
    demo = _customer(OWNER)
    for method, contract in (
        (PaymentMethod.CARD, "yamada-blog.com"),
        (PaymentMethod.PAYPAL, "yamada-photo.net"),
        (PaymentMethod.CONVENIENCE_STORE, "yamada-shop.jp"),
    ):
        factories.renewal_bill(demo, _server(demo, contract), method=method, today=today)
    # A deposit awaiting its card payment, and a month-end bill of a negative balance.
    start_deposit(demo, 30_000, PaymentMethod.CARD, new_application_token(demo), today)
    month_end = today.replace(day=1) - timedelta(days=1)
    create_bill(
        demo,
        kind=BillKind.MONTH_END,
        payment_method=PaymentMethod.BANK_TRANSFER,
        applied_on=month_end,
        due_date=settlement_due_date(month_end),
        lines=[settlement_line(month_end, -4_350, 4_350)],
    )
    factories.sub_user(demo, BILLING, Role.BILLING, PASSWORD)
    factories.sub_user(demo, TECHNICAL, Role.TECHNICAL, PASSWORD)
    factories.sub_user(demo, READ_ONLY, Role.READ_ONLY, PASSWORD)
    corp = _customer(TWO_FACTOR_OWNER)
    factories.owner(corp).totp_secret = pyotp.random_base32()
    factories.sub_user(corp, CORP_OWNER, Role.OWNER, PASSWORD)
    db.session.commit()
    corp_bills = list(
        db.session.scalars(select(Bill).where(Bill.customer_id == corp.id).order_by(Bill.bill_no))
    )
    month_end = next(bill for bill in corp_bills if bill.kind == BillKind.MONTH_END)
    corp_server = _server(corp, "demo-corp.co.jp")
    with current_app.test_request_context():
        bank_account_form = sandbox_gateway().bank_account_form_url(
            customer_ref(corp), "/settings/direct-debit/return", "/settings/direct-debit"
        )
    factories.staff_member(STAFF_ADMIN, StaffRole.ADMIN, name="佐藤 美咲", password=PASSWORD)
    factories.staff_member(STAFF_SUPPORT, StaffRole.SUPPORT, name="鈴木 一郎", password=PASSWORD)
    factories.staff_member(NEW_STAFF, StaffRole.SUPPORT, password=PASSWORD, two_factor=False)
    undelivered = queue_mail(demo, "notice", "【お知らせ】メンテナンスのご案内", "本文です。\n")
    undelivered.failed_at = utc_now()
    for recipient in undelivered.addressees:
        recipient.status, recipient.smtp_code = RecipientStatus.REFUSED, 550
        recipient.smtp_reply = "5.1.1 No such user"
    db.session.commit()
    flagged = db.session.scalar(select(Payment.id).where(~Payment.applied_to_bill))

    bills = list(
        db.session.scalars(select(Bill).where(Bill.customer_id == demo.id).order_by(Bill.bill_no))
    )
    card, paypal = _awaiting(bills, PaymentMethod.CARD), _awaiting(bills, PaymentMethod.PAYPAL)
    transfer = _awaiting(bills, PaymentMethod.BANK_TRANSFER)
    trial = _server(demo, "yamada-trial.jp")
    # Made after the bills above are picked, so that it is picked by none of them.
    late = factories.server(
        demo, "yamada-late.jp", _server(demo, "yamada-blog.com").plan, today + timedelta(days=10)
    )
    past_due = factories.renewal_bill(
        demo, late, method=PaymentMethod.CARD, today=today - timedelta(days=20)
    )
    # Within a year of the 10-year limit: the renewal page says why it cannot be renewed now.
    factories.domain(demo, "yamada-brand.com", add_months(today, 114))
    # The demo's yamada.net has its transfer lock off; yamada-shop.jp's is on.
    unlocked, locked = _domain(demo, "yamada.net"), _domain(demo, "yamada-shop.jp")
    staff_visits = _staff_visits(demo, transfer, flagged)

    return [
        Visit("ログイン", None, "/login", "ユーザーズパネルにログイン"),
        Visit(
            "ログイン(会員IDまたはパスワードの誤り)",
            None,
            "/login",
            "ユーザーズパネルにログイン",
            shows="会員IDまたはパスワードが正しくありません。",
            post="/login",
            fields={"login_id": OWNER, "password": "not-the-password"},
        ),
        Visit(
            "確認コードの入力",
            None,
            "/login",
            "確認コードの入力",
            post="/login",
            fields={"login_id": TWO_FACTOR_OWNER, "password": PASSWORD},
        ),
        Visit(
            "ページが見つかりません(ログインなし)",
            None,
            "/no-such-page",
            "ページが見つかりません",
            status=404,
        ),
        Visit("ダッシュボード", OWNER, "/", "ダッシュボード"),
        Visit("ご契約更新・プラン変更", OWNER, "/renewal", "ご契約更新・プラン変更"),
        Visit(
            "ご契約更新・お申込内容の確認",
            OWNER,
            "/renewal",
            "ご契約更新・プラン変更",
            shows='id="confirm-summary"',
            post="/renewal/confirm",
            fields={
                "renew": str(trial.id),
                f"months-{trial.id}": "12",
                f"plan-{trial.id}": str(trial.plan_id),
            },
        ),
        Visit(
            "ご契約自動更新の設定",
            OWNER,
            "/auto-renewal",
            "ご契約自動更新の設定",
            shows="VISA 末尾 4242",
        ),
        Visit(
            "ご契約自動更新の設定(カード入力なし)",
            OWNER,
            "/auto-renewal",
            "ご契約自動更新の設定",
            shows="カード番号を入力してください。",
            post="/auto-renewal/card",
        ),
        Visit(
            "ご契約自動更新の設定(閲覧のみ)",
            READ_ONLY,
            "/auto-renewal",
            "ご契約自動更新の設定",
            shows="設定の変更は管理者または請求担当の方が行えます。",
        ),
        Visit(
            "ドメイン一覧・設定", OWNER, "/domains", "ドメイン一覧・設定", shows="TLD(.net)の設定"
        ),
        Visit(
            "ドメイン一覧・設定(TLDの設定を変更)",
            OWNER,
            "/domains",
            "ドメイン一覧・設定",
            shows="2件のドメインが変わりました",
            post="/domains/tld-policy",
            fields={"tld": "jp", "policy": "auto_expire"},
        ),
        Visit(
            "ドメイン一覧・設定(ご契約にないTLD)",
            OWNER,
            "/domains",
            "ドメイン一覧・設定",
            shows="このTLDのドメインはご契約にありません。",
            post="/domains/tld-policy",
            fields={"tld": "org", "policy": "auto_expire"},
        ),
        Visit(
            "ドメイン一覧・設定(閲覧のみ)",
            READ_ONLY,
            "/domains",
            "ドメイン一覧・設定",
            shows="設定の変更は、管理者または技術担当の方が行えます。",
        ),
        Visit(
            "ドメインロックの詳細設定",
            OWNER,
            f"/domains/{unlocked.id}",
            "ドメインロックの詳細設定",
            shows="AuthCodeを表示する",
        ),
        Visit(
            "ドメインロックの詳細設定(AuthCodeを表示)",
            OWNER,
            f"/domains/{unlocked.id}",
            "ドメインロックの詳細設定",
            shows='<code id="auth-code">',
            post=f"/domains/{unlocked.id}/auth-code",
        ),
        Visit(
            "ドメインロックの詳細設定(移管ロック中・入力なし)",
            OWNER,
            f"/domains/{locked.id}",
            "ドメインロックの詳細設定",
            shows="移管ロックがONのため、AuthCodeは表示されません。",
            post=f"/domains/{locked.id}/lock",
        ),
        Visit(
            "ドメインロックの詳細設定(閲覧のみ)",
            READ_ONLY,
            f"/domains/{unlocked.id}",
            "ドメインロックの詳細設定",
            shows="AuthCodeの表示は、管理者または技術担当の方が行えます。",
        ),
        Visit("お支払・ご請求明細", OWNER, "/bills", "お支払・ご請求明細"),
        *(
            Visit(_bill_name(bill), OWNER, f"/bills/{bill.bill_no}", "ご請求の詳細")
            for bill in bills
        ),
        Visit(
            "お申込の取消の確認",
            OWNER,
            f"/bills/{transfer.bill_no}/cancel",
            "ご請求の詳細",
            shows="のお申込を取り消しますか?",
        ),
        Visit(
            "ご請求(お支払期限日超過)",
            OWNER,
            f"/bills/{past_due.bill_no}",
            "ご請求の詳細",
            shows="を過ぎたため、このご請求はお支払いいただけません。",
        ),
        Visit(
            "カード払い(入力なし)",
            OWNER,
            f"/bills/{card.bill_no}",
            "ご請求の詳細",
            shows="カード番号を入力してください。",
            post=f"/bills/{card.bill_no}/pay/card",
        ),
        Visit(
            "本人認証(3-Dセキュア・サンドボックス)",
            OWNER,
            f"/bills/{card.bill_no}",
            "カード会社の本人認証(3-Dセキュア)",
            shows="認証する",
            post=f"/bills/{card.bill_no}/pay/card",
            fields={"number": AUTHENTICATED_CARD, "expiry": "12/30", "security_code": "123"},
        ),
        Visit(
            "ご請求(本人認証の途中)",
            OWNER,
            f"/bills/{card.bill_no}",
            "ご請求の詳細",
            shows="カード会社の本人認証(3-Dセキュア)の途中です。",
        ),
        Visit(
            "振込連絡(入力なし)",
            OWNER,
            f"/bills/{transfer.bill_no}",
            "ご請求の詳細",
            shows="振込日を入力してください。",
            post=f"/bills/{transfer.bill_no}/transfer-notice",
        ),
        Visit(
            "PayPalの承認(サンドボックス)",
            OWNER,
            f"/bills/{paypal.bill_no}",
            "PayPalでのお支払の承認",
            post=f"/bills/{paypal.bill_no}/pay/paypal",
        ),
        Visit(
            "ご請求(閲覧のみ)",
            READ_ONLY,
            f"/bills/{transfer.bill_no}",
            "ご請求の詳細",
            shows="お支払のお手続きは、管理者または請求担当の方が行えます。",
        ),
        Visit("請求書/残高", OWNER, "/balance", "請求書/残高", shows='id="account-balance"'),
        Visit(
            "請求書/残高(入金額の入力なし)",
            OWNER,
            "/balance",
            "請求書/残高",
            shows="入金額を入力してください。",
            post="/balance/deposit",
            fields=lambda page: {
                "application_token": hidden_value(page, "application_token"),
                "method": "card",
            },
        ),
        Visit(
            "請求書/残高(閲覧のみ)",
            READ_ONLY,
            "/balance",
            "請求書/残高",
            shows="入金のお手続きは、管理者または請求担当の方が行えます。",
        ),
        Visit(
            "請求書/残高(履歴の2ページ目)",
            OWNER,
            "/balance?page=2",
            "請求書/残高",
            shows="このページには履歴がありません。",
        ),
        Visit(
            "お支払・ご請求明細(請求書払い)",
            CORP_BILLING,
            "/bills",
            "お支払・ご請求明細",
            shows="請求書払い(月末締め翌月末払い)のご利用",
        ),
        *(
            Visit(_bill_name(bill), CORP_BILLING, f"/bills/{bill.bill_no}", "ご請求の詳細")
            for bill in corp_bills
        ),
        Visit(
            "ご請求(月末締め・銀行振込に変更)",
            CORP_BILLING,
            f"/bills/{month_end.bill_no}",
            "ご請求の詳細",
            shows="お支払方法を銀行振込に変更しました。",
            post=f"/bills/{month_end.bill_no}/payment-method",
            fields={"method": "bank_transfer"},
        ),
        Visit(
            "ご契約更新・お申込内容の確認(請求書払い)",
            CORP_BILLING,
            "/renewal",
            "ご契約更新・プラン変更",
            shows='id="on-account-terms"',
            post="/renewal/confirm",
            fields={
                "renew": str(corp_server.id),
                f"months-{corp_server.id}": "12",
                f"plan-{corp_server.id}": str(corp_server.plan_id),
                "payment_method": "on_account",
            },
        ),
        Visit(
            "口座振替の登録",
            CORP_BILLING,
            "/settings/direct-debit",
            "口座振替の登録",
            shows="三井住友銀行 本店 普通 ****567",
        ),
        Visit(
            "口座振替の登録(請求書払いのないお客様)",
            OWNER,
            "/settings/direct-debit",
            "口座振替の登録",
            shows='id="direct-debit-unavailable"',
        ),
        Visit(
            "口座振替の口座登録(サンドボックス)",
            CORP_BILLING,
            "/settings/direct-debit",
            "口座振替の口座登録",
            post="/settings/direct-debit",
        ),
        Visit(
            "口座振替の口座登録(入力なし)",
            CORP_BILLING,
            bank_account_form,
            "口座振替の口座登録",
            shows="口座番号を入力してください。",
            post="/sandbox/direct-debit",
            fields=lambda page: {"request": hidden_value(page, "request")},
        ),
        Visit(
            "会員登録情報変更(法人)",
            CORP_OWNER,
            "/settings/profile",
            "会員登録情報変更",
            shows="ご担当者名(任意)",
        ),
        Visit("会員登録情報変更", OWNER, "/settings/profile", "会員登録情報変更"),
        Visit(
            "会員登録情報変更(入力なし)",
            OWNER,
            "/settings/profile",
            "会員登録情報変更",
            shows="入力内容をご確認ください。",
            post="/settings/profile",
        ),
        Visit("セキュリティ設定", OWNER, "/settings/security", "セキュリティ設定"),
        Visit("二要素認証の設定", OWNER, "/settings/two-factor", "二要素認証の設定"),
        Visit(
            "二要素認証の設定(確認コードの誤り)",
            OWNER,
            "/settings/two-factor",
            "二要素認証の設定",
            shows="確認コードが正しくありません。",
            post="/settings/two-factor",
            fields=_wrong_code,
        ),
        Visit(
            "リカバリーコード",
            OWNER,
            "/settings/two-factor",
            "リカバリーコード",
            post="/settings/two-factor",
            fields=_right_code,
        ),
        Visit(
            "セキュリティ設定(二要素認証が有効)",
            OWNER,
            "/settings/security",
            "セキュリティ設定",
            shows="二要素認証を無効にする",
        ),
        Visit(
            "本人確認(二要素認証が有効)", OWNER, "/settings/confirm", "本人確認", shows="確認コード"
        ),
        Visit("ユーザー管理", OWNER, "/settings/users", "ユーザー管理"),
        Visit("ログイン設定(サブユーザー)", BILLING, "/settings/login", "ログイン設定"),
        Visit(
            "ページが見つかりません",
            OWNER,
            "/bills/no-such-bill",
            "ページが見つかりません",
            status=404,
        ),
        Visit(
            "この操作は許可されていません",
            TECHNICAL,
            "/bills",
            "この操作は許可されていません",
            status=403,
        ),
        *staff_visits,
    ]


def _staff_visits(demo: Customer, transfer: Bill, flagged_payment_id: int) -> list[Visit]:
    """The staff console's pages, then the customer's panel as staff see it (代理ログイン)."""
    customer_page = f"/staff/customers/{demo.id}"
    return [
        Visit("スタッフログイン", None, "/staff/login", "スタッフコンソールにログイン"),
        Visit(
            "スタッフログイン(パスワードの誤り)",
            None,
            "/staff/login",
            "スタッフコンソールにログイン",
            shows="ログインIDまたはパスワードが正しくありません。",
            post="/staff/login",
            fields={"login_id": STAFF_SUPPORT, "password": "not-the-password"},
        ),
        Visit(
            "スタッフ 確認コードの入力",
            None,
            "/staff/login",
            "確認コードの入力",
            post="/staff/login",
            fields={"login_id": STAFF_SUPPORT, "password": PASSWORD},
        ),
        Visit(
            "スタッフ 二要素認証の設定(初回ログイン)",
            None,
            "/staff/login",
            "二要素認証の設定",
            shows='id="totp-secret"',
            post="/staff/login",
            fields={"login_id": NEW_STAFF, "password": PASSWORD},
        ),
        Visit("顧客検索", STAFF_ADMIN, "/staff/", "顧客検索"),
        Visit(
            "顧客検索(ドメインで検索)",
            STAFF_ADMIN,
            "/staff/?q=yamada-shop",
            "顧客検索",
            shows="yamada-shop.jp",
        ),
        Visit(
            "顧客検索(該当なし)",
            STAFF_ADMIN,
            "/staff/?q=no-such-customer",
            "顧客検索",
            shows="で始まる会員は見つかりません。",
        ),
        Visit("会員のページ", STAFF_ADMIN, customer_page, "山田 太郎 様", shows="操作履歴"),
        Visit("入金確認", STAFF_ADMIN, "/staff/payments", "入金確認", shows="みずほ銀行"),
        Visit(
            "入金確認(入力なし)",
            STAFF_ADMIN,
            "/staff/payments",
            "入金確認",
            shows="入金額を入力してください。",
            post=f"/staff/payments/{transfer.bill_no}/confirm",
            fields={f"bill-{transfer.id}-confirmation": "1"},
            status=422,
        ),
        Visit(
            "確認待ちの入金", STAFF_ADMIN, "/staff/flagged", "確認待ちの入金", shows="取り消された"
        ),
        Visit(
            "確認待ちの入金(返金メモなし)",
            STAFF_ADMIN,
            "/staff/flagged",
            "確認待ちの入金",
            shows="返金の方法と日付を入力してください。",
            post=f"/staff/flagged/{flagged_payment_id}/refunded",
            status=422,
        ),
        Visit(
            "確認待ちの入金(処理済み)", STAFF_ADMIN, "/staff/flagged?tab=resolved", "確認待ちの入金"
        ),
        Visit(
            "紙面の請求書", STAFF_ADMIN, "/staff/paper-invoices", "紙面の請求書", shows="〒150-0001"
        ),
        Visit(
            "紙面の請求書(発送済み)",
            STAFF_ADMIN,
            "/staff/paper-invoices?tab=mailed",
            "紙面の請求書",
        ),
        Visit("メール", STAFF_ADMIN, "/staff/mail", "メール", shows="5.1.1 No such user"),
        Visit("メール(すべて)", STAFF_ADMIN, "/staff/mail?filter=all", "メール"),
        Visit("スタッフ管理", STAFF_ADMIN, "/staff/members", "スタッフ管理"),
        Visit(
            "スタッフ管理(入力なし)",
            STAFF_ADMIN,
            "/staff/members",
            "スタッフ管理",
            shows="ログインIDを入力してください。",
            post="/staff/members",
            status=422,
        ),
        Visit(
            "スタッフ この操作は許可されていません",
            STAFF_SUPPORT,
            "/staff/payments",
            "この操作は許可されていません",
            status=403,
        ),
        Visit(
            "代理ログイン(ダッシュボード)",
            STAFF_SUPPORT,
            customer_page,
            "ダッシュボード",
            shows="代理ログイン中(閲覧のみ)",
            post=f"{customer_page}/impersonate",
        ),
        Visit(
            "代理ログイン(ご請求)",
            STAFF_SUPPORT,
            f"/bills/{transfer.bill_no}",
            "ご請求の詳細",
            shows="代理ログイン中(閲覧のみ)",
        ),
        Visit(
            "代理ログイン中は操作できません",
            STAFF_SUPPORT,
            f"/bills/{transfer.bill_no}/cancel",
            "代理ログイン中は操作できません",
            post=f"/bills/{transfer.bill_no}/cancel",
            status=403,
        ),
    ]
