"""``reconciler usage``: what each config section spent over a range of days, and its credit.

For every MiniMax group, the bill rows of the range summed per spender (the main account
``主账号`` and spenders the state does not know named as such), per model or per day;
for every xAI team, the ``usage`` series (dollars per day, per model if asked; partial
when xAI says ``limitReached``), its prepaid credit, this month's invoice so far and the
invoices of the range's months; for every useapi.net account a check names (or the
token's only one), its credits and what lapses within 7 days. Totals are exact
``Decimal`` sums. Building the report is I/O through the ``ProviderPool``; showing it is
``render_usage``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from reconciler.billing.figures import ZERO
from reconciler.billing.rails import KnownSpenders
from reconciler.billing.read import SOON, checked_accounts
from reconciler.billing.spend import grand_total, totals_by
from reconciler.model import Desired
from reconciler.providers.minimax_bills import MAIN_ACCOUNT

if TYPE_CHECKING:
    from reconciler.providers.pool import ProviderPool
    from reconciler.providers.xai import XaiProvider

MANAGED, MAIN, UNMANAGED = "managed", "main account", "unmanaged"


@dataclass(frozen=True)
class UsageRow:
    """Spend under one key (a spender, a model or a day); ``role`` says who, by account."""

    key: str
    amount: Decimal
    role: str = ""
    tokens: int | None = None


@dataclass(frozen=True)
class Fact:
    """A figure beside the spend: prepaid credit, an invoice, credits left..."""

    metric: str
    label: str
    amount: Decimal | None
    unit: str


@dataclass(frozen=True)
class UsageSection:
    provider: str
    section: str
    identity: str  # "group 1687...", "team 3f8a...", "account a@b"
    unit: str
    rows: tuple[UsageRow, ...] = ()
    total: Decimal | None = None
    tokens: int | None = None
    facts: tuple[Fact, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class UsageReport:
    first: date
    last: date
    by: str
    sections: tuple[UsageSection, ...]


def build_usage(
    config: Desired,
    providers: ProviderPool,
    known: KnownSpenders,
    span: tuple[date, date],
    by: str,
    now: datetime,
) -> UsageReport:
    """Read every section's spend over ``span`` (inclusive) and its credit as of ``now``."""
    sections = [
        *(_minimax(alias, providers, known, span, by) for alias in config.minimax),
        *(_xai(alias, providers, span, by, now) for alias in config.xai),
        *(s for alias in config.useapi for s in _useapi(config, alias, providers, now)),
    ]
    return UsageReport(span[0], span[1], by, tuple(sections))


def _minimax(
    alias: str, providers: ProviderPool, known: KnownSpenders, span: tuple[date, date], by: str
) -> UsageSection:
    from reconciler.providers.minimax import MINIMAX

    client = providers.get(MINIMAX, alias)
    totals = totals_by(client.bills(*span), by)
    rows = tuple(
        UsageRow(key, total.cash, _role(alias, key, known) if by == "account" else "", total.tokens)
        for key, total in totals.items()
    )
    whole = grand_total(totals.values())
    return UsageSection(
        "minimax",
        f"minimax.{alias}",
        f"group {client.group_id}",
        "cash",
        rows,
        whole.cash,
        whole.tokens,
    )


def _role(alias: str, spender: str, known: KnownSpenders) -> str:
    if spender == MAIN_ACCOUNT:
        return MAIN
    return MANAGED if (f"minimax.{alias}", spender) in known else UNMANAGED


def _xai(
    alias: str, providers: ProviderPool, span: tuple[date, date], by: str, now: datetime
) -> UsageSection:
    from reconciler.providers.xai import XAI

    client = providers.get(XAI, alias)
    usage = client.usage(*span, by_model=by == "model")
    sums: dict[str, Decimal] = {}
    for point in usage.points:
        key = {"account": alias, "model": point.key, "day": point.day.isoformat()}[by]
        sums[key] = sums.get(key, ZERO) + point.usd
    rows = tuple(UsageRow(key, amount) for key, amount in sorted(sums.items()))
    notes = ("partial: xAI answered limitReached, so some series were left off these figures",)
    return UsageSection(
        "xai",
        f"xai.{alias}",
        f"team {client.team_id}",
        "usd",
        rows,
        sum((row.amount for row in rows), ZERO),
        facts=tuple(_xai_facts(client, span, now)),
        notes=notes if usage.partial else (),
    )


def _xai_facts(client: XaiProvider, span: tuple[date, date], now: datetime) -> list[Fact]:
    """Prepaid credit, this cycle's invoice so far, and the invoices of the range's months."""
    preview = client.invoice_preview()
    cycle = _cycle(preview.year, preview.month) if preview.year else f"{now:%Y-%m}"
    facts = [
        Fact("prepaid_credit", "prepaid credit left", client.prepaid_credit(), "usd"),
        Fact("invoice_preview", f"invoice so far, {cycle}", preview.amount, "usd"),
    ]
    for invoice in client.invoices(span[0].replace(day=1)):
        if invoice.year and invoice.month and date(invoice.year, invoice.month, 1) > span[1]:
            continue
        status = invoice.status.lower() or "status unknown"
        label = f"invoice {_cycle(invoice.year, invoice.month)} {invoice.number} ({status})"
        facts.append(Fact("invoice", label, invoice.total, "usd"))
    return facts


def _cycle(year: int | None, month: int | None) -> str:
    return f"{year:04d}-{month:02d}" if year and month else "(no billing cycle)"


def _useapi(
    config: Desired, alias: str, providers: ProviderPool, now: datetime
) -> list[UsageSection]:
    from reconciler.providers.useapi import USEAPI

    client = providers.get(USEAPI, alias)
    sections = []
    for account in checked_accounts(config.useapi[alias]):
        credits = client.credits(account)
        facts = (
            Fact("credits", "credits left", credits.total, "credits"),
            Fact(
                "expiring_7d",
                "expiring within 7 days",
                credits.expiring_within(now, now + SOON),
                "credits",
            ),
        )
        section = f"useapi.{alias}" + (f'["{account}"]' if account else "")
        who = f"account {account}" if account else "the token's only account"
        sections.append(UsageSection("useapi", section, who, "credits", facts=facts))
    return sections
