"""Domain registration prices, per TLD."""

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from panel.extensions import Model

#: A domain renews in whole years, from one to ten.
DOMAIN_RENEWAL_YEARS = range(1, 11)


class DomainPrice(Model):
    """The tax-included price of renewing a domain under one TLD for one year."""

    __tablename__ = "domain_prices"
    __table_args__ = (CheckConstraint("price_per_year > 0", name="price_per_year_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the TLD without the leading dot ("com", "co.jp")
    tld: Mapped[str] = mapped_column(String(63), unique=True)
    #: tax-included price of one year, in yen
    price_per_year: Mapped[int]
