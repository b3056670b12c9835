"""The account (会員) and the people who log in to it."""

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from flask_login import UserMixin
from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from panel.extensions import Model
from panel.models.domains import DomainPolicy
from panel.models.types import UtcDateTime, one_of, utc_now

if TYPE_CHECKING:
    from panel.models.security import AllowedNetwork
    from panel.models.sessions import LoginSession


#: The periods auto-renewal may extend by (1ヶ月・3ヶ月・6ヶ月・1年), each plan allowing some.
AUTO_RENEWAL_PERIODS_MONTHS = (1, 3, 6, 12)


class CustomerKind(StrEnum):
    INDIVIDUAL = "individual"  #: 個人
    CORPORATE = "corporate"  #: 法人


class Role(StrEnum):
    """What a user may do in the customer's panel (役割管理)."""

    OWNER = "owner"  #: 管理者: everything
    BILLING = "billing"  #: 請求担当: bills, payments, invoices, balance
    TECHNICAL = "technical"  #: 技術担当: domains, domain lock, contract settings
    READ_ONLY = "read_only"  #: 閲覧のみ


class Customer(Model):
    """A member account (会員): the party that holds contracts and pays bills."""

    __tablename__ = "customers"
    __table_args__ = (
        one_of("kind", CustomerKind),
        CheckConstraint("credit_limit >= 0", name="credit_limit_not_negative"),
        # The separator of sub-users' login IDs (services/users.py): a member ID with it could
        # be, or begin, another account's sub-user ID.
        CheckConstraint("member_id NOT LIKE '%+%'", name="member_id_without_plus"),
        CheckConstraint(
            f"auto_renewal_months IN ({', '.join(map(str, AUTO_RENEWAL_PERIODS_MONTHS))})",
            name="auto_renewal_months",
        ),
        # 請求書払い is a service for companies (法人のお客様向けドメイン管理サービス).
        CheckConstraint(
            "NOT invoice_terms OR kind = 'corporate'", name="invoice_terms_corporate_only"
        ),
        CheckConstraint(
            "(direct_debit_token IS NULL) = (direct_debit_account IS NULL)",
            name="direct_debit_token_with_account",
        ),
        one_of("domain_policy", DomainPolicy),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: 会員ID, the account's public identifier and its owner's login ID
    member_id: Mapped[str] = mapped_column(String(32), unique=True)
    #: the name printed on bills: a person's or a company's
    name: Mapped[str] = mapped_column(String(100))
    #: the name's reading in katakana (フリガナ), for staff to find the account by it
    name_kana: Mapped[str | None] = mapped_column(String(100))
    #: a telephone number, as the customer wrote it
    phone: Mapped[str | None] = mapped_column(String(20))
    #: the postal address paper invoices are mailed to: postal code (〒123-4567) and address
    postal_code: Mapped[str | None] = mapped_column(String(8))
    postal_address: Mapped[str | None] = mapped_column(String(200))
    #: individual (個人) or corporate (法人)
    kind: Mapped[str] = mapped_column(String(16))
    #: ご契約者メールアドレス: every notice goes here
    contract_email: Mapped[str] = mapped_column(String(254))
    #: サブメールアドレス: notices are copied here when set
    sub_email: Mapped[str | None] = mapped_column(String(254))
    #: opted in to the reminder 40 days before a server's renewal date
    notify_40_days_before: Mapped[bool] = mapped_column(default=False)
    #: how far below zero the account balance may go, in yen
    credit_limit: Mapped[int] = mapped_column(default=0)
    #: ログインのIP制限: when on, logins are accepted only from the allowed networks
    login_ip_restricted: Mapped[bool] = mapped_column(default=False)
    #: ご契約自動更新: servers are charged to the saved card 7 days before their renewal date
    auto_renewal: Mapped[bool] = mapped_column(default=False)
    #: the period each auto-renewal extends a server by, in months
    auto_renewal_months: Mapped[int] = mapped_column(default=12)
    #: the card saved at the gateway for auto-renewal: its token, brand, last four digits and
    #: expiry (MM/YY), all that is ever kept of it
    saved_card_token: Mapped[str | None] = mapped_column(String(500))
    saved_card_brand: Mapped[str | None] = mapped_column(String(20))
    saved_card_last4: Mapped[str | None] = mapped_column(String(4))
    saved_card_expiry: Mapped[str | None] = mapped_column(String(5))
    #: 請求書払い (月末締め翌月末払い): buys on account during the month and gets one bill at
    #: month end; set by staff, for corporate customers only
    invoice_terms: Mapped[bool] = mapped_column(default=False)
    #: 担当者名: the person (with the department, if given) a corporate customer's invoices,
    #: receipts, quotes and statements are addressed to, below the company name 御中
    contact_name: Mapped[str | None] = mapped_column(String(60))
    #: 口座振替: the bank account registered at the gateway, by its token, and what is shown of
    #: it ("三井住友銀行 本店 普通 ****567"): all that is ever kept of it
    direct_debit_token: Mapped[str | None] = mapped_column(String(500))
    direct_debit_account: Mapped[str | None] = mapped_column(String(100))
    #: when the bank account was registered (or last replaced)
    direct_debit_registered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: 自動更新 or 自動失効 for every domain of the account, unless its TLD or the domain itself
    #: says otherwise; 自動更新 until the customer chooses (docs/rules.md, Domains)
    domain_policy: Mapped[str] = mapped_column(
        String(16), default=DomainPolicy.AUTO_RENEW, server_default=DomainPolicy.AUTO_RENEW.value
    )
    #: when the account was created
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)

    users: Mapped[list["User"]] = relationship(back_populates="customer", order_by="User.id")
    allowed_networks: Mapped[list["AllowedNetwork"]] = relationship(
        back_populates="customer", order_by="AllowedNetwork.id"
    )

    @property
    def is_corporate(self) -> bool:
        return self.kind == CustomerKind.CORPORATE

    @property
    def notice_addresses(self) -> list[str]:
        """Where notices for this account go: the contract e-mail, then the sub e-mail."""
        return [address for address in (self.contract_email, self.sub_email) if address]


class User(UserMixin, Model):
    """A login under a customer: the owner, or a sub-user with a restricted role."""

    __tablename__ = "users"
    __table_args__ = (one_of("role", Role),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the account this login belongs to
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    #: what is typed at the login page; the owner's is the member ID
    login_id: Mapped[str] = mapped_column(String(64), unique=True)
    #: the user's own e-mail (sub-users); the owner uses the contract e-mail
    email: Mapped[str | None] = mapped_column(String(254))
    #: Argon2id hash of the password
    password_hash: Mapped[str] = mapped_column(String(255))
    #: owner, billing, technical or read_only
    role: Mapped[str] = mapped_column(String(16), default=Role.OWNER)
    #: set when the owner disables this login; a disabled user cannot log in
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: the TOTP secret (base32) once two-factor login is on; none while it is off
    totp_secret: Mapped[str | None] = mapped_column(String(32))
    #: the last TOTP time step accepted; a code from this step or an earlier one is a replay
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    #: when the login was created
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)

    customer: Mapped[Customer] = relationship(back_populates="users")

    #: the login session this user object was loaded for, and the token in its cookie (set by
    #: the session loader; neither is a column)
    if TYPE_CHECKING:  # annotated for mypy only: declarative maps annotations to columns
        login_session: LoginSession | None
        session_token: str | None
    login_session = None
    session_token = None

    @property
    def has_two_factor(self) -> bool:
        return self.totp_secret is not None

    @property
    def is_owner(self) -> bool:
        return self.role == Role.OWNER

    @property
    def is_active(self) -> bool:
        return self.disabled_at is None

    def get_id(self) -> str | None:
        # Flask-Login keeps this in the cookie: the server-side session's token, not the user
        # ID, so ending the session on the server logs the cookie out everywhere.
        return self.session_token
