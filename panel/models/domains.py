"""Domains: registration prices per TLD, the auto-renew / auto-expire policy (自動更新・自動失効)
per TLD, and the registry-style AuthCode a domain is transferred out with."""

import secrets
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from panel.extensions import Model
from panel.models.types import one_of

#: A domain renews in whole years, from one to ten.
DOMAIN_RENEWAL_YEARS = range(1, 11)


class DomainPolicy(StrEnum):
    """What happens to a domain on its expiry date (自動更新・自動失効)."""

    AUTO_RENEW = "auto_renew"  #: 自動更新: renewed for a year before it expires
    AUTO_EXPIRE = "auto_expire"  #: 自動失効: lapses on its expiry date


class PolicySource(StrEnum):
    """Where a domain's effective policy is set: the most specific level that has one."""

    ACCOUNT = "account"  #: アカウント全体
    TLD = "tld"  #: the domain's TLD (.net …)
    DOMAIN = "domain"  #: このドメイン


#: An AuthCode's characters: letters and digits that cannot be mistaken for one another
#: (no 0/O, 1/l/I), and symbols registries accept.
AUTH_CODE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
AUTH_CODE_DIGITS = "23456789"
AUTH_CODE_SYMBOLS = "#%+-=@"
AUTH_CODE_LENGTH = 16


def new_auth_code() -> str:
    """A random AuthCode (EPP authInfo) of 16 characters with letters, digits and a symbol,
    as the registries ask for: about 92 bits."""
    alphabet = AUTH_CODE_LETTERS + AUTH_CODE_DIGITS + AUTH_CODE_SYMBOLS
    groups = (AUTH_CODE_LETTERS, AUTH_CODE_DIGITS, AUTH_CODE_SYMBOLS)
    while True:
        code = "".join(secrets.choice(alphabet) for _ in range(AUTH_CODE_LENGTH))
        if all(set(code) & set(group) for group in groups):
            return code


class DomainPrice(Model):
    """The tax-included price of renewing a domain under one TLD for one year."""

    __tablename__ = "domain_prices"
    __table_args__ = (CheckConstraint("price_per_year > 0", name="price_per_year_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the TLD without the leading dot ("com", "co.jp")
    tld: Mapped[str] = mapped_column(String(63), unique=True)
    #: tax-included price of one year, in yen
    price_per_year: Mapped[int]


class DomainTldPolicy(Model):
    """A customer's policy for every domain under one TLD, unless a domain has its own."""

    __tablename__ = "domain_tld_policies"
    __table_args__ = (UniqueConstraint("customer_id", "tld"), one_of("policy", DomainPolicy))

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the account the setting belongs to
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    #: the TLD without the leading dot ("net", "co.jp")
    tld: Mapped[str] = mapped_column(String(63))
    #: auto_renew or auto_expire
    policy: Mapped[str] = mapped_column(String(16))
