import pytest

from panel.tax import RateTotal, consumption_tax, totals_by_rate


@pytest.mark.parametrize(
    ("total", "rate", "tax"),
    [
        (1_100, 10, 100),
        (1_099, 10, 99),  # 99.90... rounded down
        (10, 10, 0),
        (0, 10, 0),
        (1_080, 8, 80),
        (1_000, 8, 74),  # 74.07...
        (25_080, 10, 2_280),
        (1_000, 0, 0),
    ],
)
def test_consumption_tax_is_floor_of_total_times_rate_over_100_plus_rate(total, rate, tax):
    assert consumption_tax(total, rate) == tax


def test_tax_is_computed_once_per_rate_not_per_line():
    # Per line: floor(1000*10/110) = 90, three times 270. Once over 3,000: 272.
    assert totals_by_rate([(1_000, 10)] * 3) == [RateTotal(rate=10, total=3_000, tax=272)]


def test_rates_are_kept_apart_highest_first():
    lines = [(1_080, 8), (1_100, 10), (200, 10), (5_000, 0)]
    assert totals_by_rate(lines) == [
        RateTotal(rate=10, total=1_300, tax=118),
        RateTotal(rate=8, total=1_080, tax=80),
        RateTotal(rate=0, total=5_000, tax=0),
    ]


def test_no_lines_no_totals():
    assert totals_by_rate([]) == []
