"""The billing data of one emulated xAI team, and the answers computed from it.

``xai.py`` speaks HTTP (routes, auth, request validation); this module holds what a team
is and the money rules, with no I/O, so they read on their own against
``shared/providers/xai.md``. Money is kept as integer USD cents and written as strings
(``{"val": "20000"}`` is $200.00); usage rows are Decimal dollars and become floats only
in the ``usage`` answer, where xAI's own values are floats. Every answer that sums usage
(the ``usage`` series, the invoice preview, an invoice built from usage) sums the same
rows, so a client can check one against the other.

Limits: ``softSl`` is the user's soft limit ("0" until set); ``effectiveHardSl`` is
``hardSlOverride`` when one is set, else ``hardSlAuto``; ``effectiveSl``, what xAI
enforces, is the smaller of the soft and the effective hard limit. Usage rows count as
postpaid usage (prepaid credits are not drawn down by them; add a balance change for
that) and are never capped by the limits: the sandbox reports what it is told was spent.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

DEFAULT_HARD_LIMIT_CENTS = 100_000  # $1,000.00
DEFAULT_MAX_SERIES = 100  # usage series per answer before limitReached
DEFAULT_INVOICE_STATUS = "INVOICE_STATUS_PAID"

_CENTS = re.compile(r"-?[0-9]{1,15}")
_USD = re.compile(r"[0-9]{1,12}(\.[0-9]{1,12})?")


def parse_cents(value: object, name: str, signed: bool = False) -> int:
    """Whole cents from an int or a string of ASCII digits; never a float or a bool."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{name} must be whole USD cents, an integer or a string of digits")
    text = str(value)
    if not _CENTS.fullmatch(text) or (text.startswith("-") and not signed):
        allowed = "an integer" if signed else "a non-negative integer"
        raise ValueError(f"{name} must be {allowed} number of USD cents, got {value!r}")
    return int(text)


def parse_usd(value: object, name: str = "usd") -> Decimal:
    """Non-negative dollars as a decimal string (``"0.0123"``), kept exact as a Decimal."""
    if not isinstance(value, str) or not _USD.fullmatch(value):
        raise ValueError(f"{name} must be a non-negative decimal string of dollars, got {value!r}")
    return Decimal(value)


def wrapped(cents: int) -> dict[str, str]:
    """xAI's usual money shape: ``{"val": "<cents>"}``."""
    return {"val": str(cents)}


def to_cents(usd: Decimal) -> int:
    """Dollars to whole cents, half up, as an invoice rounds them."""
    return int((usd * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def rfc3339(moment: datetime) -> str:
    """``2026-11-02T10:00:00Z``: how xAI's JSON writes a timestamp."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class UsageRow:
    day: date
    description: str
    usd: Decimal


@dataclass
class Team:
    """One team's limits, usage, prepaid balance changes and invoices."""

    soft: int = 0
    hard_auto: int = DEFAULT_HARD_LIMIT_CENTS
    hard_override: int | None = None
    max_series: int = DEFAULT_MAX_SERIES
    usage: list[UsageRow] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    invoices: list[dict[str, Any]] = field(default_factory=list)

    @property
    def effective_hard(self) -> int:
        return self.hard_auto if self.hard_override is None else self.hard_override

    @property
    def effective(self) -> int:
        return min(self.soft, self.effective_hard)

    def spending_limits(self) -> dict[str, Any]:
        """The ``spendingLimits`` object; ``hardSlOverride`` only when one is set."""
        limits = {
            "softSl": wrapped(self.soft),
            "effectiveSl": wrapped(self.effective),
            "hardSlAuto": wrapped(self.hard_auto),
            "effectiveHardSl": wrapped(self.effective_hard),
        }
        if self.hard_override is not None:
            limits["hardSlOverride"] = wrapped(self.hard_override)
        return limits

    # -- usage --

    def month_usage(self, year: int, month: int) -> dict[str, Decimal]:
        """Dollars per description over one calendar month, descriptions sorted."""
        totals: dict[str, Decimal] = {}
        for row in self.usage:
            if (row.day.year, row.day.month) == (year, month):
                totals[row.description] = totals.get(row.description, Decimal(0)) + row.usd
        return dict(sorted(totals.items()))

    def usage_series(
        self, start: datetime, end: datetime, by_description: bool, values: int
    ) -> tuple[list[dict[str, Any]], bool]:
        """Daily sums in ``[start, end)``, one series per description (or one in all).

        A row's day counts as its midnight; only days with rows get a data point. Past
        ``max_series`` series the rest are left off and ``limitReached`` is true.
        """
        buckets: dict[str, dict[date, Decimal]] = {}
        for row in self.usage:
            if start <= datetime(row.day.year, row.day.month, row.day.day) < end:
                days = buckets.setdefault(row.description if by_description else "", {})
                days[row.day] = days.get(row.day, Decimal(0)) + row.usd
        keys = sorted(buckets)
        series = []
        for key in keys[: self.max_series]:
            group = [key] if by_description else []
            points = [
                {"timestamp": f"{day.isoformat()}T00:00:00Z", "values": [float(usd)] * values}
                for day, usd in sorted(buckets[key].items())
            ]
            series.append({"group": group, "groupLabels": list(group), "dataPoints": points})
        return series, len(keys) > self.max_series

    # -- prepaid balance --

    def available_prepaid(self) -> int:
        """Purchases are negative on xAI's ledger: what is left to spend is ``-total``."""
        return -sum(int(change["amount"]["val"]) for change in self.changes)

    def balance(self) -> dict[str, Any]:
        changes = [dict(change) for change in self.changes]
        return {"changes": changes, "total": wrapped(-self.available_prepaid())}

    def add_change(self, cents: int, origin: str, create_time: str) -> None:
        self.changes.append(
            {
                "changeId": str(uuid.uuid4()),
                "changeOrigin": origin,
                "amount": wrapped(cents),
                "createTime": create_time,
            }
        )

    # -- invoices --

    def preview(self, now: datetime) -> dict[str, Any]:
        """The current month's postpaid invoice so far, per description, without VAT."""
        lines = _lines(
            {d: to_cents(usd) for d, usd in self.month_usage(now.year, now.month).items()}
        )
        amount = sum(int(line["amount"]["val"]) for line in lines)
        return {
            "coreInvoice": {
                "lines": lines,
                "amountBeforeVat": str(amount),
                "vat": "0",
                "amountAfterVat": str(amount),
                "prepaidCredits": wrapped(self.available_prepaid()),
                "prepaidCreditsUsed": wrapped(0),
            },
            "effectiveSpendingLimit": str(self.effective),
            "defaultCredits": "0",
            "billingCycle": {"year": now.year, "month": now.month},
        }

    def add_invoice(
        self,
        year: int,
        month: int,
        lines: Sequence[Mapping[str, Any]] | None,
        tax: int,
        status: str,
    ) -> dict[str, Any]:
        """Record an invoice; without ``lines`` they are that month's usage rows."""
        if lines is None:
            amounts = {d: to_cents(usd) for d, usd in self.month_usage(year, month).items()}
        else:
            amounts = {}
            for line in lines:
                if not isinstance(line, Mapping) or set(line) != {"description", "cents"}:
                    raise ValueError('an invoice line must be {"description": ..., "cents": ...}')
                description = str(line["description"])
                cents = parse_cents(line["cents"], "a line's cents", signed=True)
                amounts[description] = amounts.get(description, 0) + cents
        subtotal = sum(amounts.values())
        invoice = {
            "invoiceId": str(uuid.uuid4()),
            "invoiceNumber": f"SBX-{year:04d}{month:02d}-{len(self.invoices) + 1:04d}",
            "invoiceStatus": status,
            "lines": _lines(amounts),
            "subtotal": wrapped(subtotal),
            "tax": wrapped(tax),
            "total": wrapped(subtotal + tax),
            "billingCycle": {"year": year, "month": month},
        }
        self.invoices.append(invoice)
        return invoice

    def find_invoices(
        self,
        year: int | None,
        month: int | None,
        since: tuple[int, int] | None,
        ids: Sequence[str],
    ) -> list[dict[str, Any]]:
        """Invoices matching every filter given, oldest cycle first."""
        found = []
        for invoice in self.invoices:
            cycle = (invoice["billingCycle"]["year"], invoice["billingCycle"]["month"])
            if (year is not None and cycle[0] != year) or (month is not None and cycle[1] != month):
                continue
            if (since is not None and cycle < since) or (ids and invoice["invoiceId"] not in ids):
                continue
            found.append(invoice)
        return sorted(found, key=lambda i: (i["billingCycle"]["year"], i["billingCycle"]["month"]))


def _lines(amounts: Mapping[str, int]) -> list[dict[str, Any]]:
    return [{"description": d, "amount": wrapped(cents)} for d, cents in amounts.items()]
