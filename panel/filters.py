"""Jinja filters: the one way yen, dates, times and labels are shown."""

from datetime import date, datetime

from flask import Flask

from panel.labels import label
from panel.services.calendar import JAPAN


def yen(amount: int) -> str:
    """1100 → 1,100円"""
    return f"{amount:,}円"


def japanese_date(day: date | datetime | None) -> str:
    """2026-11-21 → 2026年11月21日; a timestamp is shown as its Japan date."""
    if day is None:
        return ""
    if isinstance(day, datetime):
        day = day.astimezone(JAPAN).date()
    return f"{day.year}年{day.month}月{day.day}日"


def japanese_datetime(moment: datetime | None) -> str:
    """A UTC timestamp as 2026年11月21日 09:05 in Japan time."""
    if moment is None:
        return ""
    local = moment.astimezone(JAPAN)
    return f"{japanese_date(local.date())} {local:%H:%M}"


def register_filters(app: Flask) -> None:
    app.add_template_filter(yen)
    app.add_template_filter(japanese_date, "jdate")
    app.add_template_filter(japanese_datetime, "jdatetime")
    app.add_template_filter(label)
