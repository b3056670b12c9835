"""Contracts (ご契約): rental servers and registered domains."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from panel.extensions import Model
from panel.models.customers import Customer
from panel.models.domains import DomainPolicy, new_auth_code
from panel.models.plans import Plan
from panel.models.types import UtcDateTime, one_of, utc_now


class ContractKind(StrEnum):
    HOSTING = "hosting"  #: a rental server, named by its master domain
    DOMAIN = "domain"  #: a registered domain


class ContractStatus(StrEnum):
    """A contract's status on a given day: derived, never stored
    (`panel.services.contracts.contract_status`)."""

    TRIAL = "trial"  #: お試し: in the free trial, up to its renewal date
    ACTIVE = "active"  #: 有効: paid up to its renewal date
    GRACE = "grace"  #: 猶予期間: past the renewal date, still renewable
    EXPIRED = "expired"  #: 期限切れ: past the grace period, no longer renewable


class Contract(Model):
    """One rental server on a plan, or one registered domain.

    Its status (お試し, 有効, 猶予期間, 期限切れ) is not stored: it follows from the renewal date,
    the trial flag and the day it is looked at (`panel.services.contracts.contract_status`).
    """

    __tablename__ = "contracts"
    __table_args__ = (
        one_of("kind", ContractKind),
        UniqueConstraint("kind", "name"),
        CheckConstraint(
            "(kind = 'hosting' AND plan_id IS NOT NULL AND tld IS NULL)"
            " OR (kind = 'domain' AND plan_id IS NULL AND tld IS NOT NULL AND NOT is_trial)",
            name="hosting_or_domain",
        ),
        CheckConstraint("domains_used >= 0", name="domains_used_not_negative"),
        CheckConstraint("mail_accounts_used >= 0", name="mail_accounts_used_not_negative"),
        one_of("domain_policy", DomainPolicy),
        CheckConstraint(
            "kind = 'domain' OR (domain_policy IS NULL AND auth_code IS NULL"
            " AND lapsed_on IS NULL)",
            name="domain_settings_on_domains_only",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the account that holds the contract
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    #: hosting or domain
    kind: Mapped[str] = mapped_column(String(16))
    #: the master domain (マスタードメイン) of a server, or the domain name itself
    name: Mapped[str] = mapped_column(String(253))
    #: the hosting plan; none for a domain
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id"))
    #: the domain's TLD without the leading dot ("com", "co.jp"); none for a server
    tld: Mapped[str | None] = mapped_column(String(63))
    #: ご契約更新日 (the last paid day) of a server; a domain's expiry date (indexed: the daily
    #: job looks contracts up by the days their renewal dates fall on)
    renewal_date: Mapped[date] = mapped_column(index=True)
    #: still in the free trial (お試し期間): renewed manually the first time
    is_trial: Mapped[bool] = mapped_column(default=False)
    #: domains set up on the server, checked against a lower plan's limit
    domains_used: Mapped[int] = mapped_column(default=0)
    #: mail accounts on the server, checked against a lower plan's limit
    mail_accounts_used: Mapped[int] = mapped_column(default=0)
    #: auto-renewal for this server: on, off, or none to follow the account's setting
    auto_renewal: Mapped[bool | None] = mapped_column(default=None)
    #: a domain's own 自動更新 / 自動失効; none to follow its TLD's setting or the account's
    domain_policy: Mapped[str | None] = mapped_column(String(16))
    #: a domain's registry locks (ドメインロック): no transfer out, no change of its registration
    #: (name servers, contacts), no deletion. New domains are locked; servers ignore them
    transfer_locked: Mapped[bool] = mapped_column(default=True, server_default=true())
    update_locked: Mapped[bool] = mapped_column(default=True, server_default=true())
    delete_locked: Mapped[bool] = mapped_column(default=True, server_default=true())
    #: a domain's AuthCode, to transfer it out; shown only while the transfer lock is off
    auth_code: Mapped[str | None] = mapped_column(String(32))
    #: the day a domain on 自動失効 lapsed (the day after its expiry date): expired from then on
    lapsed_on: Mapped[date | None]
    #: when the contract was created
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)

    customer: Mapped[Customer] = relationship()
    plan: Mapped[Plan | None] = relationship()

    @classmethod
    def registered_domain(cls, customer: Customer, name: str, expires_on: date) -> "Contract":
        """A domain contract, locked, with an AuthCode of its own; its TLD is everything after
        the first label ("co.jp")."""
        return cls(
            customer=customer,
            kind=ContractKind.DOMAIN,
            name=name,
            tld=name.split(".", 1)[1],
            renewal_date=expires_on,
            auth_code=new_auth_code(),
        )

    @property
    def is_domain(self) -> bool:
        return self.kind == ContractKind.DOMAIN
