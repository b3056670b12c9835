"""What the daily job has done: one row per effect, so that no effect happens twice."""

from datetime import date, datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from panel.extensions import Model
from panel.models.types import UtcDateTime, utc_now


class JobEffect(Model):
    """One thing the daily job did (a reminder sent, a bill cancelled, a contract's expiry
    told), keyed by what it was, what it concerned and the day it belongs to. It is written in
    the transaction of the effect itself: the effect is there exactly when its row is."""

    __tablename__ = "job_effects"
    __table_args__ = (UniqueConstraint("kind", "subject", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: what was done, e.g. "renewal_reminder_10", "overdue_cancellation"
    kind: Mapped[str] = mapped_column(String(40))
    #: what it concerned, e.g. "contract:12", "bill:5", "customer:3"
    subject: Mapped[str] = mapped_column(String(60))
    #: the Japan date the effect belongs to (a renewal date, a due date, the 1st of a month)
    day: Mapped[date]
    #: when it was done
    done_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
