"""Customer search for staff: what a customer is found by, kept current with the customer and
their contracts, and looked up in the index, not by reading every customer."""

from datetime import date

import pytest
from sqlalchemy import select, text

from panel.extensions import db
from panel.models import Contract, CustomerSearchTerm
from panel.services.staff.search import RESULTS, normalised, search_customers
from tests import factories

TODAY = date(2026, 11, 21)


@pytest.fixture
def taro():
    customer = factories.customer("taro-1", name="山田 太郎", sub_email="Taro.Sub@Example.COM")
    customer.name_kana = "ヤマダ タロウ"
    customer.phone = "090-1234-5678"
    db.session.commit()
    factories.domain(customer, "yamada-shop.jp", TODAY)
    return customer


def _found(query: str) -> list[str]:
    hits, _ = search_customers(query)
    return [hit.customer.member_id for hit in hits]


@pytest.mark.parametrize(
    ("query", "kind"),
    [
        ("taro", "member_id"),
        ("ＴＡＲＯ－１", "member_id"),  # full-width, upper case
        ("山田", "name"),
        ("太郎", "name"),  # the given name alone
        ("山田太郎", "name"),
        ("やまだ", "kana"),  # hiragana finds katakana
        ("ﾔﾏﾀﾞ ﾀﾛｳ", "kana"),  # half-width kana
        ("taro.sub@ex", "email"),
        ("example.com", "email"),  # the address's domain
        ("090-1234", "phone"),
        ("０９０１２３４５６７８", "phone"),
        ("yamada-sh", "domain"),
        ("YAMADA-SHOP.JP", "domain"),
    ],
)
def test_a_customer_is_found_by_the_start_of_each_term(taro, query, kind):
    hits, more = search_customers(query)
    assert [(hit.customer.id, hit.kind) for hit in hits] == [(taro.id, kind)]
    assert not more


def test_nothing_is_found_by_the_middle_of_a_term_or_an_empty_query(taro):
    assert _found("amada-shop") == []
    assert _found("  ") == []
    assert _found("--") == []


def test_terms_follow_the_customer_and_their_contracts(taro):
    taro.name = "佐藤 花子"
    taro.phone = None
    db.session.commit()
    assert _found("佐藤") == ["taro-1"] and _found("山田") == []
    assert _found("090") == []

    contract = db.session.scalar(select(Contract).where(Contract.customer_id == taro.id))
    contract.name = "sato-shop.jp"
    db.session.commit()
    assert _found("sato-sh") == ["taro-1"] and _found("yamada-sh") == []

    factories.domain(taro, "hanako.net", TODAY)
    assert _found("hanako.n") == ["taro-1"]


def test_exact_matches_come_first_and_many_are_cut_short(taro):
    for number in range(RESULTS + 2):
        factories.customer(f"taro-1{number:02d}", name="別の 人")
    hits, more = search_customers("taro-1")
    assert hits[0].customer.id == taro.id  # its member ID is exactly the query
    assert len(hits) == RESULTS and more


def test_the_search_reads_a_range_of_the_index(taro):
    """The prefix is one range of the term index, also under PostgreSQL's locale (the column is
    in binary order there): the planner uses the index when scans are made expensive."""
    prefix = normalised("yamada")
    query = (
        "SELECT customer_id FROM customer_search_terms WHERE term >= :low AND term < :high "
        "ORDER BY term LIMIT 200"
    )
    params = {"low": prefix, "high": prefix[:-1] + chr(ord(prefix[-1]) + 1)}
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = " ".join(db.session.scalars(text(f"EXPLAIN {query}"), params))
    else:
        plan = " ".join(
            row[-1] for row in db.session.execute(text(f"EXPLAIN QUERY PLAN {query}"), params)
        )
    db.session.rollback()
    assert "ix_customer_search_terms_term" in plan, plan
    assert db.session.scalar(select(CustomerSearchTerm.id).limit(1)) is not None
