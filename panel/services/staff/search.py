"""Customer search for staff: by member ID, name, kana, e-mail, phone or domain, as they type.

Every customer has a few normalised search terms (`CustomerSearchTerm`), kept in step with the
customer and their contracts whenever the ORM flushes a change to what they are made of. A
search is one range scan of the terms' index (`term >= q AND term < q⁺`, the prefix's range in
binary order), never a scan of the customers: as fast on 30,000 customers as on 30 (see
`bench/staff_search.py`).
"""

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from itertools import chain

from sqlalchemy import Connection, delete, event, insert, inspect, select
from sqlalchemy.orm import Session, selectinload

from panel.extensions import db
from panel.models import (
    AuditEvent,
    Bill,
    Contract,
    Customer,
    CustomerSearchTerm,
    OutboxMail,
    Payment,
    User,
)
from panel.models.search import SearchTermKind
from panel.services.balance import Balance, account_balance
from panel.services.contracts import ContractRow, list_contracts

#: Customers shown for one search (the box asks for more letters when there are more).
RESULTS = 20
#: Terms read from the index for one search: enough for RESULTS customers, each of whom may
#: match with several terms (a name and its parts, two e-mails, many domains).
TERMS_READ = 200
#: The longest term kept (the column's length).
TERM_LENGTH = 254
#: Hyphens and dashes a phone number, a name or a query may be typed with; they are not kept.
DASHES = str.maketrans("", "", "-‐‑‒–—―−")
#: What a customer's terms are made of: a change to one of these re-makes them.
CUSTOMER_FIELDS = ("member_id", "name", "name_kana", "contract_email", "sub_email", "phone")
CONTRACT_FIELDS = ("name", "customer_id")


def _katakana(text: str) -> str:
    """Hiragana as katakana, so やまだ finds ヤマダ."""
    return "".join(chr(ord(c) + 0x60) if "ぁ" <= c <= "ゖ" else c for c in text)


def normalised(text: str | None) -> str:
    """A search term or query as compared: NFKC (full-width letters and digits as half-width,
    half-width kana as full-width), lower case, hiragana as katakana, without spaces or
    dashes."""
    if not text:
        return ""
    text = _katakana(unicodedata.normalize("NFKC", text).casefold())
    return "".join(text.split()).translate(DASHES)[:TERM_LENGTH]


def _parts(text: str | None) -> list[str]:
    """A name whole and, when it has several, each part (山田 太郎: 山田太郎, 山田, 太郎)."""
    if not text:
        return []
    words = unicodedata.normalize("NFKC", text).split()
    return [text, *words] if len(words) > 1 else [text]


def customer_terms(
    member_id: str,
    name: str,
    name_kana: str | None,
    emails: Iterable[str | None],
    phone: str | None,
    domains: Iterable[str],
) -> dict[tuple[str, str], str]:
    """The (kind, term) pairs a customer is found by, each with the text it was made from."""
    found: list[tuple[SearchTermKind, str]] = [(SearchTermKind.MEMBER_ID, member_id)]
    found += [(SearchTermKind.NAME, part) for part in _parts(name)]
    found += [(SearchTermKind.KANA, part) for part in _parts(name_kana)]
    for email in filter(None, emails):
        # taro@example.jp is found by example.jp too: the company's mail domain.
        found += [(SearchTermKind.EMAIL, email), (SearchTermKind.EMAIL, email.rpartition("@")[2])]
    found += [(SearchTermKind.DOMAIN, domain) for domain in domains]
    terms = {(kind.value, normalised(text)): text[:TERM_LENGTH] for kind, text in found}
    digits = "".join(c for c in unicodedata.normalize("NFKC", phone or "") if c.isdigit())
    if phone and digits:
        terms[(SearchTermKind.PHONE.value, digits[:TERM_LENGTH])] = phone
    return {key: shown for key, shown in terms.items() if key[1]}


def _chunks(ids: list[int], size: int = 500) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def reindex_customers(connection: Connection, customer_ids: Iterable[int]) -> None:
    """Make the search terms of these customers again from what they are now."""
    for chunk in _chunks(sorted(set(customer_ids))):
        customers = connection.execute(
            select(
                Customer.id,
                Customer.member_id,
                Customer.name,
                Customer.name_kana,
                Customer.contract_email,
                Customer.sub_email,
                Customer.phone,
            ).where(Customer.id.in_(chunk))
        ).all()
        domains: dict[int, list[str]] = {}
        for customer_id, name in connection.execute(
            select(Contract.customer_id, Contract.name).where(Contract.customer_id.in_(chunk))
        ):
            domains.setdefault(customer_id, []).append(name)
        connection.execute(
            delete(CustomerSearchTerm).where(CustomerSearchTerm.customer_id.in_(chunk))
        )
        rows = [
            {"customer_id": row.id, "kind": kind, "term": term, "shown": shown}
            for row in customers
            for (kind, term), shown in sorted(
                customer_terms(
                    row.member_id,
                    row.name,
                    row.name_kana,
                    (row.contract_email, row.sub_email),
                    row.phone,
                    domains.get(row.id, []),
                ).items()
            )
        ]
        if rows:
            connection.execute(insert(CustomerSearchTerm), rows)


def _changed(instance, fields: tuple[str, ...]) -> bool:
    state = inspect(instance)
    return any(state.attrs[field].history.has_changes() for field in fields)


def _customers_to_reindex(session: Session) -> set[int]:
    ids: set[int] = set()
    for instance in chain(session.new, session.dirty, session.deleted):
        if isinstance(instance, Customer) and instance not in session.deleted:
            if instance in session.new or _changed(instance, CUSTOMER_FIELDS):
                ids.add(instance.id)
        elif isinstance(instance, Contract):
            if instance in session.new or instance in session.deleted:
                ids.add(instance.customer_id)
            elif _changed(instance, CONTRACT_FIELDS):
                history = inspect(instance).attrs.customer_id.history
                ids.update(filter(None, [instance.customer_id, *history.deleted]))
    return ids


def _after_flush(session: Session, flush_context) -> None:
    # Still in the flush's transaction, with the history of what it wrote: the terms change
    # with the customer or contract, in the same commit or rollback.
    ids = _customers_to_reindex(session)
    if ids:
        reindex_customers(session.connection(), ids)


def keep_search_terms_current() -> None:
    """Listen to every session's flushes (once, however many apps are made)."""
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)


@dataclass(frozen=True)
class SearchHit:
    """A customer found, and what found them: the kind of term and its text as written."""

    customer: Customer
    kind: str
    shown: str


def _next_after_prefix(prefix: str) -> str | None:
    """The first string after every string that starts with `prefix`, in code point order (which
    is UTF-8's binary order); None when there is none."""
    last = ord(prefix[-1])
    return prefix[:-1] + chr(last + 1) if last < 0x10FFFF else None


def search_customers(query: str) -> tuple[list[SearchHit], bool]:
    """Customers with a term that starts with the query (normalised), exact matches first, then
    the closest (shortest) ones; and whether there were more than shown."""
    prefix = normalised(query)
    if not prefix:
        return [], False
    statement = select(
        CustomerSearchTerm.customer_id,
        CustomerSearchTerm.kind,
        CustomerSearchTerm.term,
        CustomerSearchTerm.shown,
    ).where(CustomerSearchTerm.term >= prefix)
    upper = _next_after_prefix(prefix)
    if upper is not None:
        statement = statement.where(CustomerSearchTerm.term < upper)
    matches = db.session.execute(
        statement.order_by(CustomerSearchTerm.term, CustomerSearchTerm.customer_id).limit(
            TERMS_READ
        )
    ).all()
    # Each customer is shown with the match closest to the query (exact, else the shortest),
    # and customers in that order.
    best: dict[int, tuple[str, str]] = {}
    closest = sorted(matches, key=lambda row: (row.term != prefix, len(row.term), row.term))
    for customer_id, kind, _term, shown in closest:
        best.setdefault(customer_id, (kind, shown))
    ids = list(best)
    more = len(ids) > RESULTS
    ids = ids[:RESULTS]
    customers = {
        customer.id: customer
        for customer in db.session.scalars(select(Customer).where(Customer.id.in_(ids)))
    }
    return [SearchHit(customers[i], *best[i]) for i in ids if i in customers], more


# The customer page


#: Rows of each list on the customer page.
RECENT = 20


@dataclass(frozen=True)
class CustomerOverview:
    """What the customer page shows: the account, its users, contracts (servers and domains)
    with their status today, the account balance, recent bills, payments and mail, and the
    audit log."""

    customer: Customer
    users: list[User]
    contracts: list[ContractRow]
    balance: Balance
    bills: list[Bill]
    payments: list[Payment]
    mails: list[OutboxMail]
    events: list[AuditEvent]


def customer_overview(customer: Customer, today: date) -> CustomerOverview:
    return CustomerOverview(
        customer=customer,
        users=list(customer.users),
        contracts=list_contracts(customer, today),
        balance=account_balance(customer),
        bills=list(
            db.session.scalars(
                select(Bill)
                .options(selectinload(Bill.lines))
                .where(Bill.customer_id == customer.id)
                .order_by(Bill.applied_on.desc(), Bill.id.desc())
                .limit(RECENT)
            )
        ),
        payments=list(
            db.session.scalars(
                select(Payment)
                .join(Bill, Payment.bill_id == Bill.id)
                .options(selectinload(Payment.bill))
                .where(Bill.customer_id == customer.id)
                .order_by(Payment.recorded_at.desc(), Payment.id.desc())
                .limit(RECENT)
            )
        ),
        mails=list(
            db.session.scalars(
                select(OutboxMail)
                .options(selectinload(OutboxMail.addressees))
                .where(OutboxMail.customer_id == customer.id)
                .order_by(OutboxMail.id.desc())
                .limit(RECENT)
            )
        ),
        events=list(
            db.session.scalars(
                select(AuditEvent)
                .options(selectinload(AuditEvent.user), selectinload(AuditEvent.staff_member))
                .where(AuditEvent.customer_id == customer.id)
                .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
                .limit(RECENT * 2)
            )
        ),
    )
