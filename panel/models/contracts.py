"""Contracts (ご契約): rental servers and registered domains."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from panel.extensions import Model
from panel.models.customers import Customer
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
    #: when the contract was created
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)

    customer: Mapped[Customer] = relationship()
    plan: Mapped[Plan | None] = relationship()

    @classmethod
    def registered_domain(cls, customer: Customer, name: str, expires_on: date) -> "Contract":
        """A domain contract; its TLD is everything after the first label ("co.jp")."""
        return cls(
            customer=customer,
            kind=ContractKind.DOMAIN,
            name=name,
            tld=name.split(".", 1)[1],
            renewal_date=expires_on,
        )

    @property
    def is_domain(self) -> bool:
        return self.kind == ContractKind.DOMAIN
