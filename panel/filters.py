"""Jinja filters: the one way yen, dates, times and labels are shown."""

import html
from datetime import date, datetime

from flask import Flask

from panel.dates import JAPAN
from panel.labels import label


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


def machine_datetime(moment: datetime | None) -> str:
    """A timestamp for `<time datetime>`: 2026-11-21T09:05:07+09:00. HTML allows at most
    three digits of a second's fraction, and nobody needs any: whole seconds, Japan time."""
    if moment is None:
        return ""
    return moment.astimezone(JAPAN).isoformat(timespec="seconds")


def as_text(markup: str) -> str:
    """An HTML partial (one without tags) as the plain text a mail includes: the characters the
    partial escaped (&amp;, &lt;, ...) come back as themselves."""
    return html.unescape(str(markup))


def register_filters(app: Flask) -> None:
    app.add_template_filter(yen)
    app.add_template_filter(japanese_date, "jdate")
    app.add_template_filter(japanese_datetime, "jdatetime")
    app.add_template_filter(machine_datetime, "isodatetime")
    app.add_template_filter(label)
    app.add_template_filter(as_text)
