"""Reading xAI's billing answers: prepaid balance, invoice preview, usage and invoices.

``xai.py`` sends the calls; this module turns their answers into small values, with
money as ``Decimal`` throughout (``shared/providers/xai.md``): amounts in USD cents as
strings, mostly wrapped (``{"val": "2500"}``), become dollars; the ``usage`` series are
dollars already, JSON numbers parsed as ``Decimal`` (never through a float). What an
answer lacks is ``None`` (unknown), never zero; what it holds in an unexpected shape is
refused with ``BillingShapeError`` naming the field, for the client to report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from reconciler.providers.amounts import wire_amount

CENT = Decimal("0.01")
_WHOLE_CENTS = re.compile(r"-?[0-9]{1,20}")
_DAY = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})")


class BillingShapeError(ValueError):
    """An answer that parsed but does not hold what the API documents."""


@dataclass(frozen=True)
class InvoicePreview:
    """This billing cycle's postpaid invoice so far (``amountAfterVat``)."""

    amount: Decimal | None
    year: int | None = None
    month: int | None = None


@dataclass(frozen=True)
class UsagePoint:
    """Dollars spent on ``day``; ``key`` is the model (``description``) or "" ungrouped."""

    key: str
    day: date
    usd: Decimal


@dataclass(frozen=True)
class Usage:
    """The usage series; ``partial`` when xAI says ``limitReached`` (series were left off)."""

    points: tuple[UsagePoint, ...]
    partial: bool


@dataclass(frozen=True)
class Invoice:
    number: str
    status: str
    total: Decimal
    year: int | None
    month: int | None


def cents(value: Any) -> Decimal | None:
    """``{"val": "50000"}``, ``"50000"`` or ``50000`` cents as dollars; None if not an amount.

    Whole cents only, written as digits, at most 20 of them: a fraction, an exponent or a
    float is not what the API documents, and money is never guessed.
    """
    if isinstance(value, dict):
        value = value.get("val")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and _WHOLE_CENTS.fullmatch(value.strip()):
        return (Decimal(value.strip()) * CENT).quantize(CENT)
    return None


def prepaid_credit(answer: dict[str, Any]) -> Decimal:
    """Purchases are negative on xAI's ledger: the credit left is ``-total``."""
    total = cents(answer.get("total"))
    if total is None:
        raise BillingShapeError("no total amount in the prepaid balance")
    return -total


def invoice_preview(answer: dict[str, Any]) -> InvoicePreview:
    invoice = answer.get("coreInvoice")
    amount = cents(invoice.get("amountAfterVat")) if isinstance(invoice, dict) else None
    cycle = answer.get("billingCycle")
    year, month = (
        (_int(cycle.get(k)) for k in ("year", "month")) if isinstance(cycle, dict) else (None, None)
    )
    return InvoicePreview(amount, year, month)


def usage(answer: dict[str, Any], grouped: bool) -> Usage:
    series = answer.get("timeSeries") or []
    if not isinstance(series, list):
        raise BillingShapeError("timeSeries is not a list")
    points = []
    for one in series:
        if not isinstance(one, dict):
            raise BillingShapeError("a timeSeries entry is not an object")
        key = _series_key(one) if grouped else ""
        for point in one.get("dataPoints") or []:
            points.append(_point(point, key))
    return Usage(tuple(points), answer.get("limitReached") is True)


def invoices(answer: dict[str, Any]) -> list[Invoice]:
    found = answer.get("invoices") or []
    if not isinstance(found, list):
        raise BillingShapeError("invoices is not a list")
    read = []
    for invoice in found:
        if not isinstance(invoice, dict):
            raise BillingShapeError("an invoice is not an object")
        total = cents(invoice.get("total"))
        if total is None:
            raise BillingShapeError("an invoice has no total amount")
        cycle = invoice.get("billingCycle")
        year, month = (
            (_int(cycle.get(k)) for k in ("year", "month"))
            if isinstance(cycle, dict)
            else (None, None)
        )
        number = str(invoice.get("invoiceNumber") or invoice.get("invoiceId") or "")
        status = str(invoice.get("invoiceStatus") or "").removeprefix("INVOICE_STATUS_")
        read.append(Invoice(number, status, total, year, month))
    return read


def _series_key(series: dict[str, Any]) -> str:
    for field in ("groupLabels", "group"):
        labels = series.get(field)
        if isinstance(labels, list) and labels and isinstance(labels[0], str) and labels[0]:
            return labels[0]
    return "(no description)"


def _point(point: Any, key: str) -> UsagePoint:
    if not isinstance(point, dict):
        raise BillingShapeError("a usage data point is not an object")
    match = _DAY.match(str(point.get("timestamp") or ""))
    values = point.get("values")
    if match is None or not isinstance(values, list) or not values:
        raise BillingShapeError("a usage data point lacks its timestamp or values")
    try:
        day = date.fromisoformat(match.group(1))
    except ValueError:
        raise BillingShapeError(f"a usage timestamp is not a day: {match.group(1)}") from None
    return UsagePoint(key, day, _dollars(values[0]))


def _dollars(value: Any) -> Decimal:
    """A usage value: xAI sends dollars as JSON numbers, parsed as Decimal on arrival."""
    amount = wire_amount(value)
    if amount is None:
        raise BillingShapeError(f"a usage value is not an amount: {str(value)[:40]!r}")
    return amount


def _int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None
