"""What staff find a customer by: one row per normalised search term (`services/staff/search.py`
keeps them up to date)."""

from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from panel.extensions import Model
from panel.models.types import one_of


class SearchTermKind(StrEnum):
    MEMBER_ID = "member_id"  #: 会員ID
    NAME = "name"  #: お名前, whole and each part
    KANA = "kana"  #: フリガナ, whole and each part
    EMAIL = "email"  #: the contract and sub e-mail, whole and their domains
    PHONE = "phone"  #: the telephone number's digits
    DOMAIN = "domain"  #: a server's master domain or a registered domain


#: Binary order on PostgreSQL, as SQLite's default is: a prefix is then one range of the index,
#: whatever the database's locale.
TERM = String(254).with_variant(String(254, collation="C"), "postgresql")


class CustomerSearchTerm(Model):
    """One normalised term a customer is found by (NFKC, lower case, without spaces; kana as
    katakana): a prefix search is a range scan of one index, not a scan of every customer."""

    __tablename__ = "customer_search_terms"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: whose term it is
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    #: what the term is: member_id, name, kana, email, phone or domain
    kind: Mapped[str] = mapped_column(String(16))
    #: the normalised text
    term: Mapped[str] = mapped_column(TERM, index=True)
    #: the text as the customer wrote it, shown with the search result
    shown: Mapped[str] = mapped_column(String(254))

    __table_args__ = (one_of("kind", SearchTermKind),)
