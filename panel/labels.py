"""The words the panel shows for its codes: bill statuses, payment methods, contract statuses,
roles (customers' and staff's), a domain's policy and locks, audit events, what a receipt's
money was for, and the staff console's words for settled money, mail recipients and search
matches.

This is the one place they are defined. Templates write `{{ bill.status | label('bill_status') }}`
(the `label` filter); Python code that needs one (form choices, a message naming a method, an
audit detail) reads these mappings.
"""

from panel.models.balance import LedgerKind
from panel.models.bills import BillKind, BillStatus, PaymentMethod
from panel.models.contracts import ContractStatus
from panel.models.customers import Role
from panel.models.domains import DomainPolicy, PolicySource
from panel.models.mail import RecipientStatus
from panel.models.on_account import ON_ACCOUNT
from panel.models.payments import Resolution
from panel.models.search import SearchTermKind
from panel.models.staff import StaffRole

BILL_STATUS: dict[str, str] = {
    BillStatus.AWAITING_PAYMENT: "ご入金待ち",
    BillStatus.PAID: "お支払済",
    BillStatus.CANCELLED: "取消",
}

PAYMENT_METHOD: dict[str, str] = {
    PaymentMethod.CARD: "クレジットカード",
    PaymentMethod.PAYPAL: "PayPal",
    PaymentMethod.BANK_TRANSFER: "銀行振込",
    PaymentMethod.CONVENIENCE_STORE: "コンビニ決済",
    PaymentMethod.BALANCE: "アカウント残高",
    PaymentMethod.DIRECT_DEBIT: "口座振替",
}

#: What a bill is for, as the bill e-mail's subject (but a month-end bill's, which names its
#: month) and the balance page name it.
BILL_KIND: dict[str, str] = {
    BillKind.RENEWAL: "ご契約更新のお申込み",
    BillKind.DEPOSIT: "アカウント残高へのご入金",
    BillKind.MONTH_END: "月末のご請求",
}

#: What moved the account balance, as the ledger (残高の履歴) names it.
LEDGER_KIND: dict[str, str] = {
    LedgerKind.DEPOSIT: "ご入金",
    LedgerKind.PURCHASE: "ご利用",
    LedgerKind.SETTLEMENT: "月末のご請求のお支払",
    LedgerKind.REFUND: "ご返金",
    LedgerKind.CORRECTION: "訂正",
}

#: The methods of the renewal confirm step: the bills' payment methods, and 請求書払い for
#: customers on invoice terms (a purchase on account, billed at month end).
PURCHASE_METHOD: dict[str, str] = {
    ON_ACCOUNT: "請求書払い(月末締め翌月末払い)",
    **PAYMENT_METHOD,
}

CONTRACT_STATUS: dict[str, str] = {
    ContractStatus.TRIAL: "お試し",
    ContractStatus.ACTIVE: "有効",
    ContractStatus.GRACE: "猶予期間",
    ContractStatus.EXPIRED: "期限切れ",
}

ROLE: dict[str, str] = {
    Role.OWNER: "管理者",
    Role.BILLING: "請求担当",
    Role.TECHNICAL: "技術担当",
    Role.READ_ONLY: "閲覧のみ",
}

DOMAIN_POLICY: dict[str, str] = {
    DomainPolicy.AUTO_RENEW: "自動更新",
    DomainPolicy.AUTO_EXPIRE: "自動失効",
}

#: Where a domain's policy comes from (the TLD's label is followed by the TLD itself).
POLICY_SOURCE: dict[str, str] = {
    PolicySource.ACCOUNT: "アカウント全体",
    PolicySource.TLD: "TLD",
    PolicySource.DOMAIN: "このドメイン",
}

#: A TLD's or a domain's own setting when it has none: it follows the level above.
FOLLOW_ACCOUNT = "アカウント全体に従う"
FOLLOW_TLD = "TLD・アカウントに従う"

#: The three registry locks of a domain (ドメインロック), by the name of their form field.
DOMAIN_LOCK: dict[str, str] = {
    "transfer_locked": "移管ロック",
    "update_locked": "更新ロック",
    "delete_locked": "削除ロック",
}

#: What each event is called in the customer's audit log (操作履歴).
AUDIT_EVENT: dict[str, str] = {
    "login": "ログイン",
    "login_failed": "ログイン失敗",
    "login_refused_address": "許可されていないIPアドレスからのログイン",
    "session_ended_address": "IPアドレスの制限によるログアウト",
    "logout": "ログアウト",
    "password_refused": "パスワードの確認に失敗",
    "password_changed": "パスワードの変更",
    "code_failed": "確認コードの誤り",
    "totp_replayed": "使用済みの確認コードを拒否",
    "recovery_code_used": "リカバリーコードでログイン・確認",
    "recovery_code_replayed": "使用済みのリカバリーコードを拒否",
    "two_factor_enabled": "二要素認証を有効化",
    "two_factor_disabled": "二要素認証を無効化",
    "recovery_codes_replaced": "リカバリーコードの再発行",
    "ip_rule_added": "許可するIPアドレスの追加",
    "ip_rule_removed": "許可するIPアドレスの削除",
    "ip_restriction_on": "ログインのIP制限を有効化",
    "ip_restriction_off": "ログインのIP制限を無効化",
    "user_added": "ユーザーの追加",
    "role_changed": "役割の変更",
    "user_disabled": "ユーザーの無効化",
    "user_enabled": "ユーザーの再開",
    "profile_changed": "会員登録情報の変更",
    "payment_applied": "お支払の反映",
    "payment_flagged": "お支払の確認待ち(サポートで確認)",
    "bill_cancelled": "お申込の取消",
    "bill_overdue_cancelled": "お支払期限日を過ぎたお申込の取消",
    "auto_renewal_changed": "ご契約自動更新の設定の変更",
    "auto_renewal_server_changed": "サーバーごとの自動更新の設定の変更",
    "auto_renewal_card_registered": "自動更新のクレジットカードの登録",
    "auto_renewal_card_replaced": "自動更新のクレジットカードの変更",
    "auto_renewal_card_removed": "自動更新のクレジットカードの削除",
    "auto_renewal_declined": "自動更新のクレジットカード決済の失敗",
    "month_end_card_declined": "月末精算のクレジットカード決済の失敗",
    "on_account_purchase": "請求書払いでのお申込",
    "invoice_terms_changed": "請求書払いの開始・終了",
    "direct_debit_registered": "口座振替の口座の登録",
    "direct_debit_replaced": "口座振替の口座の変更",
    "direct_debit_removed": "口座振替の口座の削除",
    "direct_debit_declined": "口座振替の引き落とし不能",
    "domain_policy_changed": "ドメインの自動更新・自動失効の設定の変更",
    "domain_lock_changed": "ドメインロックの変更",
    "domain_auth_code_shown": "AuthCodeの表示",
    "domain_lapsed": "自動失効によるドメインの失効",
    # Staff: in the customer's log (who looked, what staff did for the account)...
    "impersonation_started": "サポートスタッフによる代理ログイン(閲覧)の開始",
    "impersonation_ended": "サポートスタッフによる代理ログイン(閲覧)の終了",
    "payment_confirmed_by_staff": "入金の確認(スタッフ)",
    "flagged_payment_applied": "確認待ちのご入金の充当(スタッフ)",
    "flagged_payment_refunded": "確認待ちのご入金の返金(スタッフ)",
    "flagged_payment_credited": "確認待ちのご入金のアカウント残高への入金(スタッフ)",
    "paper_invoice_mailed": "紙面の請求書の発送(スタッフ)",
    "mail_retried": "メールの再送(スタッフ)",
    "mail_dropped": "メールの送信の中止(スタッフ)",
    # ...and the staff console's own.
    "staff_login": "スタッフのログイン",
    "staff_login_failed": "スタッフのログイン失敗",
    "staff_logout": "スタッフのログアウト",
    "staff_code_failed": "スタッフの確認コードの誤り",
    "staff_totp_replayed": "スタッフの使用済み確認コードを拒否",
    "staff_two_factor_enabled": "スタッフの二要素認証の設定",
    "staff_added": "スタッフの追加",
    "staff_disabled": "スタッフの無効化",
    "staff_two_factor_reset": "スタッフの二要素認証のリセット",
}

STAFF_ROLE: dict[str, str] = {
    StaffRole.SUPPORT: "サポート",
    StaffRole.ACCOUNTING: "経理",
    StaffRole.ADMIN: "管理者",
}

#: How staff settled money that could not pay its bill.
RESOLUTION: dict[str, str] = {
    Resolution.APPLIED: "別のご請求に充当",
    Resolution.REFUNDED: "返金済み",
    Resolution.CREDITED: "アカウント残高へ入金",
}

#: What became of a mail for one recipient.
RECIPIENT_STATUS: dict[str, str] = {
    RecipientStatus.PENDING: "送信待ち",
    RecipientStatus.ACCEPTED: "送信済み",
    RecipientStatus.REFUSED: "送信できず",
}

#: What a customer was found by in the staff's search.
SEARCH_TERM_KIND: dict[str, str] = {
    SearchTermKind.MEMBER_ID: "会員ID",
    SearchTermKind.NAME: "お名前",
    SearchTermKind.KANA: "フリガナ",
    SearchTermKind.EMAIL: "メールアドレス",
    SearchTermKind.PHONE: "電話番号",
    SearchTermKind.DOMAIN: "ドメイン",
}

#: 但し書き: what a receipt's money was for, by the kind of bill.
RECEIPT_PURPOSE: dict[str, str] = {
    BillKind.RENEWAL: "レンタルサーバー・ドメインのご契約更新料として",
    BillKind.DEPOSIT: "アカウント残高へのご入金として",
    BillKind.MONTH_END: "ご利用料金として",
}

#: The label sets by the name templates give the `label` filter.
LABELS: dict[str, dict[str, str]] = {
    "bill_status": BILL_STATUS,
    "bill_kind": BILL_KIND,
    "ledger_kind": LEDGER_KIND,
    "payment_method": PAYMENT_METHOD,
    "purchase_method": PURCHASE_METHOD,
    "contract_status": CONTRACT_STATUS,
    "role": ROLE,
    "domain_policy": DOMAIN_POLICY,
    "policy_source": POLICY_SOURCE,
    "domain_lock": DOMAIN_LOCK,
    "audit_event": AUDIT_EVENT,
    "receipt_purpose": RECEIPT_PURPOSE,
    "staff_role": STAFF_ROLE,
    "resolution": RESOLUTION,
    "recipient_status": RECIPIENT_STATUS,
    "search_term_kind": SEARCH_TERM_KIND,
}


def label(code: str, kind: str) -> str:
    """The word for `code` among the labels of `kind` (a key of `LABELS`). A code without one
    (an audit event recorded by a newer version, say) is shown as it is rather than failing
    the page."""
    return LABELS[kind].get(code, code)
