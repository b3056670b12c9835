from datetime import UTC, date, datetime

import pytest

from panel.dates import add_months, end_of_month, today_in_japan


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2026, 11, 21), 1, date(2026, 12, 21)),
        (date(2026, 11, 21), 12, date(2027, 11, 21)),
        (date(2027, 1, 31), 1, date(2027, 2, 28)),  # clamped to a short February
        (date(2028, 1, 31), 1, date(2028, 2, 29)),  # leap year
        (date(2028, 2, 29), 12, date(2029, 2, 28)),
        (date(2028, 2, 29), 48, date(2032, 2, 29)),
        (date(2026, 8, 31), 3, date(2026, 11, 30)),
        (date(2026, 12, 31), 1, date(2027, 1, 31)),  # across the year end
        (date(2026, 11, 30), 60, date(2031, 11, 30)),
        (date(2026, 3, 31), -1, date(2026, 2, 28)),
        (date(2026, 1, 15), -1, date(2025, 12, 15)),
    ],
)
def test_add_months_clamps_to_the_month_end(start, months, expected):
    assert add_months(start, months) == expected


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 11, 21), date(2026, 11, 30)),
        (date(2027, 2, 1), date(2027, 2, 28)),
        (date(2028, 2, 10), date(2028, 2, 29)),
        (date(2026, 12, 31), date(2026, 12, 31)),
    ],
)
def test_end_of_month(day, expected):
    assert end_of_month(day) == expected


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 11, 21, 14, 59, tzinfo=UTC), date(2026, 11, 21)),
        (datetime(2026, 11, 21, 15, 0, tzinfo=UTC), date(2026, 11, 22)),  # midnight in Tokyo
        (datetime(2026, 12, 31, 15, 0, tzinfo=UTC), date(2027, 1, 1)),
    ],
)
def test_today_is_the_japan_date(now, expected):
    assert today_in_japan(now) == expected
