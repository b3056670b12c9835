"""The navigation: the pages of the URL contract each user may open, in one list."""

from flask import Flask
from flask_login import current_user

from panel.models import Role
from panel.views import auto_renewal, balance, bills, domains, security, settings, users

#: endpoint, label, and the roles that may open the page
NAVIGATION = (
    ("dashboard.index", "ダッシュボード", tuple(Role)),
    ("renewal.index", "ご契約更新・プラン変更", tuple(Role)),
    ("auto_renewal.index", "ご契約自動更新の設定", auto_renewal.AUTO_RENEWAL_VIEWERS),
    ("domains.index", "ドメイン一覧・設定", domains.DOMAIN_VIEWERS),
    ("bills.index", "お支払・ご請求明細", bills.BILL_READERS),
    ("balance.index", "請求書/残高", balance.BALANCE_READERS),
    ("settings.profile", "会員登録情報変更", settings.PROFILE_EDITORS),
    ("security.index", "セキュリティ設定", security.ACCOUNT_GUARDS),
    ("users.index", "ユーザー管理", users.USER_MANAGERS),
    ("security.own_login", "ログイン設定", security.SUB_USERS),
)


def register_navigation(app: Flask) -> None:
    @app.context_processor
    def _navigation():
        if not (current_user and current_user.is_authenticated):
            return {"navigation": []}
        return {
            "navigation": [
                (endpoint, label)
                for endpoint, label, roles in NAVIGATION
                if current_user.role in roles
            ]
        }
