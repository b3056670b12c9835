"""Consumption tax (消費税) on tax-included amounts: the one place that rounds tax."""

from collections.abc import Iterable
from dataclasses import dataclass


def consumption_tax(total_at_rate: int, rate: int) -> int:
    """The tax contained in a tax-included total at one rate, rounded down once.

    `floor(total_at_rate * rate / (100 + rate))`, in integers so no float ever rounds.
    """
    return total_at_rate * rate // (100 + rate)


@dataclass(frozen=True)
class RateTotal:
    """The part of a bill at one tax rate: the tax-included total and the tax it contains."""

    rate: int
    total: int
    tax: int


def totals_by_rate(lines: Iterable[tuple[int, int]]) -> list[RateTotal]:
    """Group `(amount, rate)` pairs by rate, highest rate first, with the tax computed once per
    rate over the rate's total (never per line, which would round several times)."""
    totals: dict[int, int] = {}
    for amount, rate in lines:
        totals[rate] = totals.get(rate, 0) + amount
    return [
        RateTotal(rate=rate, total=total, tax=consumption_tax(total, rate))
        for rate, total in sorted(totals.items(), reverse=True)
    ]
