"""Hosting plans (プラン) and their price for each contract period."""

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from panel.extensions import Model

#: Periods, in months, that a manual renewal may choose (1ヶ月・3ヶ月・6ヶ月・1年・2年・3年・5年).
RENEWAL_PERIODS_MONTHS = (1, 3, 6, 12, 24, 36, 60)


class Plan(Model):
    """A hosting plan: its limits, and a price for each period it allows."""

    __tablename__ = "plans"
    __table_args__ = (
        CheckConstraint("max_domains > 0", name="max_domains_positive"),
        CheckConstraint("max_mail_accounts > 0", name="max_mail_accounts_positive"),
        CheckConstraint("one_month_price > 0", name="one_month_price_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: stable short name used by code and data (e.g. "standard")
    code: Mapped[str] = mapped_column(String(32), unique=True)
    #: the name customers see (e.g. スタンダード)
    name: Mapped[str] = mapped_column(String(50))
    #: position in the line-up: a higher rank is a bigger plan, so moving down is a downgrade
    rank: Mapped[int] = mapped_column(unique=True)
    #: how many domains a contract on this plan may use
    max_domains: Mapped[int]
    #: how many mail accounts a contract on this plan may use
    max_mail_accounts: Mapped[int]
    #: tax-included price of one month, the base of month-end proration (日割計算)
    one_month_price: Mapped[int]

    prices: Mapped[list["PlanPrice"]] = relationship(
        back_populates="plan", order_by="PlanPrice.months", cascade="all, delete-orphan"
    )

    @property
    def periods_months(self) -> list[int]:
        return [price.months for price in self.prices]


class PlanPrice(Model):
    """The tax-included price of renewing a plan for one period. No row: period not offered."""

    __tablename__ = "plan_prices"
    __table_args__ = (
        UniqueConstraint("plan_id", "months"),
        CheckConstraint(
            f"months IN ({', '.join(str(m) for m in RENEWAL_PERIODS_MONTHS)})", name="months"
        ),
        CheckConstraint("price > 0", name="price_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the plan this price belongs to
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"))
    #: the period, in months
    months: Mapped[int]
    #: tax-included price in yen
    price: Mapped[int]

    plan: Mapped[Plan] = relationship(back_populates="prices")
