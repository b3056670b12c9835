"""ドメイン一覧・設定: 自動更新 / 自動失効 at three levels, the registry locks and the AuthCode,
and what the daily job does with them.

A domain's policy is the most specific one set: the domain's own, else its TLD's, else the
account's (自動更新 until the customer chooses otherwise). `domains_with_policy` resolves it in
SQL, the one place it is resolved: the page, the daily job and the notices all read it there.
"""

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.orm import aliased

from panel import labels
from panel.extensions import db
from panel.models import Contract, ContractKind, Customer, DomainPrice, DomainTldPolicy, User
from panel.models.contracts import ContractStatus
from panel.models.domains import DomainPolicy, PolicySource, new_auth_code
from panel.refusals import DomainError
from panel.services.audit import Client, record_event
from panel.services.contracts import GRACE_DAYS, contract_status
from panel.services.notices import queue_domain_lapse_notice, queue_domain_lapsed_notice
from panel.services.renewal.pricing import bills_awaiting_for

#: A domain on 自動失効 is announced this many days before its expiry date.
LAPSE_NOTICE_DAYS = (30, 7)
#: A domain on 自動更新 is renewed this many days before its expiry date.
AUTO_RENEW_DAYS_BEFORE = 30
#: The three registry locks, by their column (and form field) names.
LOCKS = ("transfer_locked", "update_locked", "delete_locked")

TRANSFER_LOCKED = (
    "移管ロックがONのため、AuthCodeは表示できません。"
    "他社へ移管する場合は、先に移管ロックをOFFにしてください。"
)
EXPIRED_DOMAIN = "期限切れのドメインの設定は変更できません。"
CHOOSE_POLICY = "自動更新か自動失効を選んでください。"
JOB_CLIENT = Client(ip_address=None, user_agent="jobs daily")


# The policy, resolved in SQL

_TLD_POLICY = aliased(DomainTldPolicy, name="tld_policy")

#: A domain's effective policy: its own, else its TLD's, else the account's.
EFFECTIVE_POLICY = func.coalesce(
    Contract.domain_policy, _TLD_POLICY.policy, Customer.domain_policy
).label("policy")
#: The level the effective policy comes from.
POLICY_SOURCE = case(
    (Contract.domain_policy.is_not(None), PolicySource.DOMAIN.value),
    (_TLD_POLICY.policy.is_not(None), PolicySource.TLD.value),
    else_=PolicySource.ACCOUNT.value,
).label("policy_source")


def domains_with_policy(*columns) -> Select:
    """`select(*columns)` over every domain, with its account and its TLD's setting joined, so
    that `EFFECTIVE_POLICY` and `POLICY_SOURCE` can be selected and filtered on."""
    return (
        select(*columns)
        .select_from(Contract)
        .join(Customer, Customer.id == Contract.customer_id)
        .outerjoin(
            _TLD_POLICY,
            and_(_TLD_POLICY.customer_id == Contract.customer_id, _TLD_POLICY.tld == Contract.tld),
        )
        .where(Contract.kind == ContractKind.DOMAIN)
    )


@dataclass(frozen=True)
class EffectivePolicy:
    #: auto_renew or auto_expire
    policy: str
    #: account, tld or domain: where it is set
    source: str


def effective_domain_policy(domain: Contract) -> EffectivePolicy:
    """What happens to `domain` on its expiry date, and which level says so."""
    policy, source = db.session.execute(
        domains_with_policy(EFFECTIVE_POLICY, POLICY_SOURCE).where(Contract.id == domain.id)
    ).one()
    return EffectivePolicy(policy, source)


def effective_domain_policies(customer: Customer, *where) -> list[tuple[Contract, EffectivePolicy]]:
    """The customer's domains (those matching `where`, if given) with their effective policy,
    by expiry date and name."""
    rows = db.session.execute(
        domains_with_policy(Contract, EFFECTIVE_POLICY, POLICY_SOURCE)
        .where(Contract.customer_id == customer.id, *where)
        .order_by(Contract.renewal_date, Contract.name)
    )
    return [(domain, EffectivePolicy(policy, source)) for domain, policy, source in rows]


def _lock(row: Customer | Contract) -> None:
    """Lock the row for the rest of the transaction (PostgreSQL; SQLite's write lock is held
    already) and read it afresh. What this transaction changed is flushed first: a refresh
    would otherwise throw away the row's unflushed changes."""
    db.session.flush()
    db.session.refresh(row, with_for_update=True)


def is_expired(domain: Contract, today: date) -> bool:
    return (
        contract_status(domain.renewal_date, False, today, domain.lapsed_on)
        == ContractStatus.EXPIRED
    )


# The page


@dataclass(frozen=True)
class DomainRow:
    domain: Contract
    policy: EffectivePolicy
    status: ContractStatus
    #: days from today to the expiry date; negative once it has passed
    days_left: int

    @property
    def manageable(self) -> bool:
        """Settings can be changed until the domain has expired."""
        return self.status != ContractStatus.EXPIRED


@dataclass(frozen=True)
class TldSetting:
    tld: str
    #: the TLD's own policy; None: its domains follow the account's
    policy: str | None
    #: how many of the customer's domains (not expired) are under it
    domains: int


@dataclass(frozen=True)
class DomainsPage:
    customer: Customer
    rows: list[DomainRow]
    tlds: list[TldSetting]


def domains_page(customer: Customer, today: date) -> DomainsPage:
    """Every domain of the customer with its expiry date, status and effective policy; every
    TLD the customer has, with its own setting."""
    rows = [
        DomainRow(
            domain=domain,
            policy=policy,
            status=contract_status(domain.renewal_date, False, today, domain.lapsed_on),
            days_left=(domain.renewal_date - today).days,
        )
        for domain, policy in effective_domain_policies(customer)
    ]
    # Domains not yet expired first, then the expired ones, each by expiry date.
    rows.sort(key=lambda row: not row.manageable)
    own: dict[str, str] = {
        tld: policy
        for tld, policy in db.session.execute(
            select(DomainTldPolicy.tld, DomainTldPolicy.policy).where(
                DomainTldPolicy.customer_id == customer.id
            )
        )
    }
    counts: dict[str, int] = dict.fromkeys(own, 0)
    for row in rows:
        assert row.domain.tld is not None, "a domain has a TLD"
        counts.setdefault(row.domain.tld, 0)
        counts[row.domain.tld] += row.manageable
    tlds = [TldSetting(tld, own.get(tld), counts[tld]) for tld in sorted(counts, key=_tld_order)]
    return DomainsPage(customer, rows, tlds)


def _tld_order(tld: str) -> tuple[str, ...]:
    """TLDs in the order a customer reads them: com, net, jp, then co.jp after jp."""
    return tuple(reversed(tld.split(".")))


def own_domain(customer: Customer, domain_id: int) -> Contract | None:
    """The customer's domain with this ID; None for another customer's, or a server."""
    return db.session.scalar(
        select(Contract).where(
            Contract.id == domain_id,
            Contract.customer_id == customer.id,
            Contract.kind == ContractKind.DOMAIN,
        )
    )


# Changing the policy


@dataclass(frozen=True)
class PolicyChange:
    """A domain whose effective policy a change of setting changed."""

    domain_id: int
    name: str
    before: str
    after: str


@dataclass(frozen=True)
class PolicyUpdate:
    #: the setting itself changed (the same choice again changes nothing)
    setting_changed: bool
    #: the domains (not expired) whose effective policy changed with it
    changes: list[PolicyChange]

    @property
    def changed_ids(self) -> set[int]:
        return {change.domain_id for change in self.changes}


def _policies(customer: Customer, today: date) -> dict[int, tuple[str, str]]:
    """Domain ID → (name, effective policy) of the customer's domains not yet expired."""
    rows = db.session.execute(
        domains_with_policy(Contract.id, Contract.name, EFFECTIVE_POLICY).where(
            Contract.customer_id == customer.id,
            Contract.lapsed_on.is_(None),
            Contract.renewal_date >= today - timedelta(days=GRACE_DAYS),
        )
    )
    return {domain_id: (name, policy) for domain_id, name, policy in rows}


def _update_policy(
    customer: Customer, today: date, change: Callable[[], str | None], by: User, client: Client
) -> PolicyUpdate:
    """Make `change` (which answers the audit detail, or None when it changed nothing) under
    the account's lock, and tell which domains' effective policy it changed."""
    # Changes of one account's settings run one at a time (PostgreSQL; SQLite's write lock).
    _lock(customer)
    before = _policies(customer, today)
    detail = change()
    if detail is None:
        return PolicyUpdate(False, [])
    db.session.flush()
    after = _policies(customer, today)
    record_event("domain_policy_changed", client, user=by, detail=detail)
    return PolicyUpdate(
        True,
        [
            PolicyChange(domain_id, name, policy, after[domain_id][1])
            for domain_id, (name, policy) in before.items()
            if after[domain_id][1] != policy
        ],
    )


def _policy_label(policy: str | None, unset: str) -> str:
    return unset if policy is None else labels.DOMAIN_POLICY[policy]


def _check_policy(policy: str | None, *, may_be_unset: bool) -> None:
    if policy is None and may_be_unset:
        return
    if policy not in set(DomainPolicy):
        raise DomainError(CHOOSE_POLICY, field="policy")


def set_account_domain_policy(
    customer: Customer, policy: str, today: date, by: User, client: Client
) -> PolicyUpdate:
    """自動更新 or 自動失効 for every domain of the account without a setting of its own or of
    its TLD."""
    _check_policy(policy, may_be_unset=False)

    def change() -> str | None:
        if customer.domain_policy == policy:
            return None
        customer.domain_policy = policy
        return f"{labels.POLICY_SOURCE[PolicySource.ACCOUNT]}: {labels.DOMAIN_POLICY[policy]}"

    return _update_policy(customer, today, change, by, client)


def normalize_tld(text: str) -> str:
    """`.NET`, `ｎｅｔ` and ` net ` are the TLD `net`."""
    return unicodedata.normalize("NFKC", text or "").strip().lstrip(".").lower()


def customer_tlds(customer: Customer) -> set[str]:
    """The TLDs the customer has a domain under, or a setting for."""
    domains = db.session.scalars(
        select(Contract.tld).where(
            Contract.customer_id == customer.id, Contract.kind == ContractKind.DOMAIN
        )
    )
    settings = db.session.scalars(
        select(DomainTldPolicy.tld).where(DomainTldPolicy.customer_id == customer.id)
    )
    return {tld for tld in domains if tld} | set(settings)


def set_tld_domain_policy(
    customer: Customer, tld: str, policy: str | None, today: date, by: User, client: Client
) -> PolicyUpdate:
    """The policy of every domain under `tld` without a setting of its own; None: they follow
    the account's again."""
    _check_policy(policy, may_be_unset=True)
    tld = normalize_tld(tld)
    if tld not in customer_tlds(customer):
        raise DomainError(
            "このTLDのドメインはご契約にありません。ページを開き直してください。", field="tld"
        )

    def change() -> str | None:
        setting = db.session.scalar(
            select(DomainTldPolicy).where(
                DomainTldPolicy.customer_id == customer.id, DomainTldPolicy.tld == tld
            )
        )
        if (setting.policy if setting else None) == policy:
            return None
        if policy is None:
            db.session.delete(setting)
        elif setting is None:
            db.session.add(DomainTldPolicy(customer_id=customer.id, tld=tld, policy=policy))
        else:
            setting.policy = policy
        return f".{tld}: {_policy_label(policy, labels.FOLLOW_ACCOUNT)}"

    return _update_policy(customer, today, change, by, client)


def set_domain_policy(
    domain: Contract, policy: str | None, today: date, by: User, client: Client
) -> PolicyUpdate:
    """The domain's own policy, which wins over its TLD's and the account's; None: it follows
    them again."""
    _check_policy(policy, may_be_unset=True)
    if is_expired(domain, today):
        raise DomainError(EXPIRED_DOMAIN, field="policy")

    def change() -> str | None:
        if domain.domain_policy == policy:
            return None
        domain.domain_policy = policy
        return f"{domain.name}: {_policy_label(policy, labels.FOLLOW_TLD)}"

    return _update_policy(domain.customer, today, change, by, client)


# Locks and the AuthCode


@dataclass(frozen=True)
class LockUpdate:
    #: the locks that changed (names of `LOCKS`), none when nothing did
    changed: list[str]


def change_domain_lock(
    domain: Contract, locks: dict[str, bool], today: date, by: User, client: Client
) -> LockUpdate:
    """Set the domain's three locks. Turning the transfer lock back on gives the domain a new
    AuthCode: one shown while it was off can no longer move it."""
    if set(locks) != set(LOCKS):
        raise DomainError("ロックのONかOFFを選んでください。")
    if is_expired(domain, today):
        raise DomainError(EXPIRED_DOMAIN)
    _lock(domain)
    changed = [name for name in LOCKS if getattr(domain, name) != locks[name]]
    if not changed:
        return LockUpdate([])
    for name in changed:
        setattr(domain, name, locks[name])
    if "transfer_locked" in changed and locks["transfer_locked"]:
        domain.auth_code = new_auth_code()
    states = "、".join(
        f"{labels.DOMAIN_LOCK[name]} {'ON' if locks[name] else 'OFF'}" for name in changed
    )
    record_event("domain_lock_changed", client, user=by, detail=f"{domain.name}: {states}")
    return LockUpdate(changed)


def reveal_auth_code(domain: Contract, today: date, by: User, client: Client) -> str:
    """The domain's AuthCode, while its transfer lock is off; the showing is audited (the code
    itself never is)."""
    if is_expired(domain, today):
        raise DomainError(EXPIRED_DOMAIN)
    _lock(domain)
    if domain.transfer_locked:
        raise DomainError(TRANSFER_LOCKED)
    if domain.auth_code is None:
        domain.auth_code = new_auth_code()
    record_event("domain_auth_code_shown", client, user=by, detail=domain.name)
    return domain.auth_code


# What the daily job does with the policy


def due_to_lapse(today: date) -> Select:
    """(customer ID, domain ID) of the domains on 自動失効 whose expiry date has passed and
    which have not lapsed yet; a run that was missed catches up within the 7 days after."""
    return (
        domains_with_policy(Contract.customer_id, Contract.id)
        .where(
            EFFECTIVE_POLICY == DomainPolicy.AUTO_EXPIRE,
            Contract.lapsed_on.is_(None),
            Contract.renewal_date < today,
            Contract.renewal_date >= today - timedelta(days=GRACE_DAYS),
        )
        .order_by(Contract.customer_id, Contract.renewal_date, Contract.name)
    )


def lapse_domains(customer: Customer, today: date) -> list[Contract]:
    """自動失効: the customer's domains due to lapse lapse, each from the day after its expiry
    date, and the customer is told in one mail. A domain on a renewal bill awaiting payment is
    left alone (the customer asked to keep it; if the bill is cancelled, it lapses then)."""
    # The renewal page's application locks the account too: a domain cannot be applied for
    # while it lapses.
    _lock(customer)
    ids = [
        domain_id
        for _, domain_id in db.session.execute(
            due_to_lapse(today).where(Contract.customer_id == customer.id)
        )
    ]
    awaiting = bills_awaiting_for(ids)
    lapsing = [
        db.session.get_one(Contract, domain_id) for domain_id in ids if domain_id not in awaiting
    ]
    if not lapsing:
        return []
    for domain in lapsing:
        domain.lapsed_on = domain.renewal_date + timedelta(days=1)
    queue_domain_lapsed_notice(customer, lapsing)
    record_event(
        "domain_lapsed",
        JOB_CLIENT,
        customer=customer,
        detail="、".join(domain.name for domain in lapsing),
    )
    return lapsing


def lapsing_on(days: list[date]) -> Select:
    """(customer ID, domain ID) of the domains on 自動失効 that expire on one of `days`."""
    return (
        domains_with_policy(Contract.customer_id, Contract.id)
        .where(
            EFFECTIVE_POLICY == DomainPolicy.AUTO_EXPIRE,
            Contract.lapsed_on.is_(None),
            Contract.renewal_date.in_(days),
        )
        .order_by(Contract.customer_id, Contract.renewal_date, Contract.name)
    )


def tell_of_lapse(customer: Customer, domain_ids: list[int], today: date) -> None:
    """One mail listing the customer's domains that will lapse on their expiry date."""
    domains = db.session.scalars(
        select(Contract)
        .where(Contract.id.in_(domain_ids))
        .order_by(Contract.renewal_date, Contract.name)
    ).all()
    queue_domain_lapse_notice(customer, list(domains), today)


def domains_due_for_auto_renewal(
    today: date, customer_id: int | None = None
) -> list[tuple[int, int]]:
    """(customer ID, domain ID) of the domains on 自動更新 due to be renewed for a year on
    `today`: 30 days before their expiry date, or later while it has not passed (a missed run
    catches up). Left out: a domain on a renewal bill awaiting payment (that bill renews it).
    A year from an expiry date within 30 days always keeps it within the 10-year limit. A
    domain whose TLD has no price cannot be renewed, and is left out too.
    `customer_id`: that customer's only.

    The renewal itself, paid from the account balance, is `services/domain_auto_renewal.py`."""
    statement = domains_with_policy(Contract.customer_id, Contract.id).where(
        EFFECTIVE_POLICY == DomainPolicy.AUTO_RENEW,
        Contract.lapsed_on.is_(None),
        Contract.renewal_date >= today,
        Contract.renewal_date <= today + timedelta(days=AUTO_RENEW_DAYS_BEFORE),
        Contract.tld.in_(select(DomainPrice.tld)),
    )
    if customer_id is not None:
        statement = statement.where(Contract.customer_id == customer_id)
    rows = db.session.execute(
        statement.order_by(Contract.customer_id, Contract.renewal_date, Contract.name)
    ).all()
    awaiting = bills_awaiting_for([domain_id for _, domain_id in rows])
    return [
        (customer_id, domain_id) for customer_id, domain_id in rows if domain_id not in awaiting
    ]
