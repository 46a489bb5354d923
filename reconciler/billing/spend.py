"""Summing MiniMax bill rows exactly: per spender for the plan, per key for ``usage``.

Pure functions over ``BillRow`` values (``providers.minimax_bills``): no I/O, no clock.
Sums are ``Decimal`` additions of the rows' own decimal strings, so a total equals the
sum a spreadsheet would make of the same rows, to the last digit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from reconciler.billing.figures import ZERO, Spend
from reconciler.providers.minimax_bills import BillRow

BY_CHOICES = ("account", "model", "day")


@dataclass(frozen=True)
class Total:
    """Cash and tokens summed over some rows."""

    cash: Decimal = ZERO
    tokens: int = 0

    def add(self, row: BillRow) -> Total:
        return Total(self.cash + row.cash, self.tokens + row.tokens)


def spend_by_spender(
    rows: Iterable[BillRow], month_start: date, window_start: date
) -> dict[str, Spend]:
    """Each spender's spend since ``month_start`` and since ``window_start`` (30 days)."""
    month: dict[str, Decimal] = {}
    window: dict[str, Decimal] = {}
    for row in rows:
        if row.day >= month_start:
            month[row.spender] = month.get(row.spender, ZERO) + row.cash
        if row.day >= window_start:
            window[row.spender] = window.get(row.spender, ZERO) + row.cash
    names = sorted(set(month) | set(window))
    return {name: Spend(month.get(name, ZERO), window.get(name, ZERO)) for name in names}


def totals_by(rows: Iterable[BillRow], by: str) -> dict[str, Total]:
    """Rows summed by spender (``account``), ``model`` or ``day``, keys sorted."""
    key_of: dict[str, Callable[[BillRow], str]] = {
        "account": lambda row: row.spender,
        "model": lambda row: row.model,
        "day": lambda row: row.day.isoformat(),
    }
    key = key_of[by]
    totals: dict[str, Total] = {}
    for row in rows:
        totals[key(row)] = totals.get(key(row), Total()).add(row)
    return dict(sorted(totals.items()))


def grand_total(totals: Iterable[Total]) -> Total:
    cash, tokens = ZERO, 0
    for total in totals:
        cash += total.cash
        tokens += total.tokens
    return Total(cash, tokens)
