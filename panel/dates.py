"""Japan calendar dates: today in Asia/Tokyo and month arithmetic with month-end clamping."""

import calendar
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

JAPAN = ZoneInfo("Asia/Tokyo")


def today_in_japan(now: datetime | None = None) -> date:
    """The Japan date at `now` (default: this instant)."""
    return (now or datetime.now(UTC)).astimezone(JAPAN).date()


def days_in_month(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def end_of_month(day: date) -> date:
    return day.replace(day=days_in_month(day.year, day.month))


def add_months(day: date, months: int) -> date:
    """`day` moved by whole months, clamped to the month's end (1/31 + 1 month = 2/28 or 2/29)."""
    month_index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(month_index, 12)
    month += 1
    return date(year, month, min(day.day, days_in_month(year, month)))
