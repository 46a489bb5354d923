"""The money a plan carries: figures read, one summary row per section, guard rails judged.

The planner builds a ``MoneyReport`` after a refresh (``make_report``, pure); renderers
show it beside the changes (the pull-request money table, in the spirit of Infracost's
comment) and ``plan --format json`` writes it as ``money``. It is computed where the
config is at hand, so ``show FILE`` renders it from the saved plan alone, and it keeps
the figures read (``read``) so ``apply FILE`` re-plans with them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from reconciler.billing.figures import Money, exact, money_from_json, show
from reconciler.billing.rails import (
    BROKEN,
    CREDIT_FLOOR,
    UNMANAGED,
    WARN,
    GuardRail,
    KnownSpenders,
    guard_rail_from_dict,
    guard_rails,
)
from reconciler.model import Desired
from reconciler.providers.minimax_bills import MAIN_ACCOUNT


@dataclass(frozen=True)
class SectionMoney:
    """A config section's row in the money table; amounts in ``unit`` (cash, usd, credits)."""

    section: str
    unit: str
    month_to_date: Decimal | None = None
    credit: Decimal | None = None
    limit: Decimal | None = None
    limit_after: Decimal | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        def amount(value: Decimal | None) -> str | None:
            return None if value is None else exact(value, self.unit)

        return {
            "section": self.section,
            "unit": self.unit,
            "month_to_date": amount(self.month_to_date),
            "credit": amount(self.credit),
            "limit": amount(self.limit),
            "limit_after": amount(self.limit_after),
            "note": self.note,
        }


@dataclass(frozen=True)
class MoneyReport:
    read: Money
    sections: tuple[SectionMoney, ...]
    guard_rails: tuple[GuardRail, ...]

    @property
    def drifted(self) -> bool:
        """A guard rail that counts as drift (an unmanaged spender under ``unmanaged: fail``)."""
        return any(rail.drift for rail in self.guard_rails)

    def broken(self) -> list[GuardRail]:
        return [rail for rail in self.guard_rails if rail.status == BROKEN]

    def to_json(self) -> dict[str, Any]:
        return {
            "month": self.read.month,
            "through": self.read.through.isoformat(),
            "sections": [section.to_dict() for section in self.sections],
            "guard_rails": [rail.to_dict() for rail in self.guard_rails],
            "read": self.read.to_json(),
        }


def make_report(
    config: Desired, money: Money, known: KnownSpenders
) -> tuple[MoneyReport, list[str]]:
    """The report, and the plan warnings its guard rails call for."""
    rails = guard_rails(config, money, known)
    warnings = [
        f"{rail.subject}: {rail.message}" + (f"; {rail.advice}" if rail.advice else "")
        for rail in rails
        if rail.status in (BROKEN, WARN) and rail.rule in (UNMANAGED, CREDIT_FLOOR)
    ]
    return MoneyReport(money, tuple(_sections(config, money, rails)), tuple(rails)), warnings


def _sections(config: Desired, money: Money, rails: list[GuardRail]) -> list[SectionMoney]:
    rows = []
    strangers: dict[str, list[Decimal]] = {}  # section -> unmanaged spenders' figures
    for rail in rails:
        if rail.rule == UNMANAGED:
            strangers.setdefault(rail.subject.split(".sub_account[")[0], []).append(rail.figure)
    for alias, group in money.minimax.items():
        notes = []
        main = group.spenders.get(MAIN_ACCOUNT)
        if main is not None and main.month:
            notes.append(f"main account {show(main.month, 'cash')}")
        unmanaged = strangers.get(f"minimax.{alias}", [])
        if unmanaged:
            total = sum(unmanaged, Decimal(0))
            notes.append(f"{len(unmanaged)} unmanaged spender(s) {show(total, 'cash')}")
        rows.append(SectionMoney(f"minimax.{alias}", "cash", group.month, note="; ".join(notes)))
    for alias, team in money.xai.items():
        wanted = config.xai[alias].monthly_usd if alias in config.xai else None
        rows.append(
            SectionMoney(
                f"xai.{alias}",
                "usd",
                team.month_spend,
                team.prepaid_credit,
                team.soft_limit,
                wanted,
                f"hard limit {show(team.hard_limit, 'usd')}",
            )
        )
    for alias, credits in money.useapi.items():
        for read in credits:
            section = f"useapi.{alias}" + (f'["{read.account}"]' if read.account else "")
            note = (
                f"{show(read.expiring_soon, 'credits')} expire within 7 days"
                if read.expiring_soon
                else ""
            )
            rows.append(SectionMoney(section, "credits", credit=read.credits, note=note))
    return rows


def report_from_json(data: Mapping[str, Any]) -> MoneyReport:
    """A report read back from a saved plan; ``ValueError`` when it does not read."""
    read = money_from_json(data["read"])
    sections = tuple(_section(row) for row in data.get("sections", []))
    rails = tuple(guard_rail_from_dict(rail) for rail in data.get("guard_rails", []))
    return MoneyReport(read, sections, rails)


def _section(row: Mapping[str, Any]) -> SectionMoney:
    amounts = {
        key: None if row.get(key) is None else Decimal(str(row[key]))
        for key in ("month_to_date", "credit", "limit", "limit_after")
    }
    return SectionMoney(
        str(row["section"]), str(row["unit"]), note=str(row.get("note") or ""), **amounts
    )
