"""The money figures a refresh reads: spend per MiniMax spender, xAI credit, useapi credits.

``Money`` is to billing what ``Live`` values are to resources: read once by the refresh
stage (``billing.read``), handed to the pure planner (budgets disable accounts, unmanaged
spenders are found, guard rails are judged) and carried in a saved plan, so
``apply FILE`` re-plans with the figures the plan was made with. Unlike live values they
are never compared at apply time: spend moves every hour, and a plan is not stale for it.

Money is ``Decimal`` here and a decimal string in JSON, exact to the provider's digits
(MiniMax bills carry four decimals). How amounts are shown to people is here too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from reconciler.fields import (
    NULLABLE,
    REQUIRED,
    Field,
    InvalidRecord,
    Unexpected,
    nonempty_text,
    read_fields,
)

ZERO = Decimal(0)
_AMOUNT = re.compile(r"-?(0|[1-9][0-9]{0,17})(\.[0-9]{1,12})?")
_MONTH = re.compile(r"[0-9]{4}-[0-9]{2}")


@dataclass(frozen=True)
class Spend:
    """One spender's MiniMax spend: this month to date and over the last 30 days."""

    month: Decimal = ZERO
    last_30_days: Decimal = ZERO

    def to_dict(self) -> dict[str, str]:
        return {"month": plain(self.month), "last_30_days": plain(self.last_30_days)}


@dataclass(frozen=True)
class GroupSpend:
    """Who spent in one MiniMax group, by spender name (``主账号`` is the main account)."""

    group_id: str
    spenders: Mapping[str, Spend] = field(default_factory=dict)

    def of(self, name: str) -> Spend:
        return self.spenders.get(name, Spend())

    @property
    def month(self) -> Decimal:
        return sum((spend.month for spend in self.spenders.values()), ZERO)


@dataclass(frozen=True)
class TeamMoney:
    """An xAI team: this cycle's invoice so far, prepaid credit left, and its limits."""

    team_id: str
    month_spend: Decimal | None
    prepaid_credit: Decimal
    soft_limit: Decimal
    hard_limit: Decimal


@dataclass(frozen=True)
class AccountCredits:
    """A useapi.net account's credits and how many lapse within ``SOON`` of the read."""

    account: str | None
    credits: Decimal
    expiring_soon: Decimal = ZERO


@dataclass(frozen=True)
class Money:
    """Everything a refresh read about money, as of ``through`` (a UTC day)."""

    through: date
    minimax: Mapping[str, GroupSpend] = field(default_factory=dict)
    xai: Mapping[str, TeamMoney] = field(default_factory=dict)
    useapi: Mapping[str, tuple[AccountCredits, ...]] = field(default_factory=dict)

    @property
    def month(self) -> str:
        return f"{self.through:%Y-%m}"

    def spend(self, alias: str, name: str) -> Spend | None:
        """A sub-account's spend; None when its group's bills were not read."""
        group = self.minimax.get(alias)
        return None if group is None else group.of(name)

    def to_json(self) -> dict[str, Any]:
        return {
            "through": self.through.isoformat(),
            "minimax": {
                alias: {
                    "group_id": group.group_id,
                    "spenders": {name: s.to_dict() for name, s in sorted(group.spenders.items())},
                }
                for alias, group in sorted(self.minimax.items())
            },
            "xai": {
                alias: {
                    "team_id": team.team_id,
                    "month_spend": None if team.month_spend is None else plain(team.month_spend),
                    "prepaid_credit": plain(team.prepaid_credit),
                    "soft_limit": plain(team.soft_limit),
                    "hard_limit": plain(team.hard_limit),
                }
                for alias, team in sorted(self.xai.items())
            },
            "useapi": {
                alias: [
                    {
                        "account": c.account,
                        "credits": exact(c.credits, "credits"),
                        "expiring_soon": exact(c.expiring_soon, "credits"),
                    }
                    for c in credits
                ]
                for alias, credits in sorted(self.useapi.items())
            },
        }


def amount(value: Any) -> Decimal:
    """A field parser: an amount written as a decimal string (any number of places)."""
    if isinstance(value, str) and _AMOUNT.fullmatch(value):
        try:
            return Decimal(value)
        except InvalidOperation:
            pass
    raise Unexpected('an amount as a decimal string, like "4.2500"')


def _day(value: Any) -> date:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else _bad_day()
    except ValueError:
        return _bad_day()


def _bad_day() -> date:
    raise Unexpected('a day like "2026-11-14"')


def _mapping(value: Any) -> Mapping[str, Any]:
    if isinstance(value, dict):
        return value
    raise Unexpected("an object")


_SPEND: tuple[Field, ...] = (("month", amount, REQUIRED), ("last_30_days", amount, REQUIRED))
_TEAM: tuple[Field, ...] = (
    ("team_id", nonempty_text, REQUIRED),
    ("month_spend", amount, NULLABLE),
    ("prepaid_credit", amount, REQUIRED),
    ("soft_limit", amount, REQUIRED),
    ("hard_limit", amount, REQUIRED),
)
_CREDITS: tuple[Field, ...] = (
    ("account", nonempty_text, NULLABLE),
    ("credits", amount, REQUIRED),
    ("expiring_soon", amount, ZERO),
)


def money_from_json(data: Mapping[str, Any]) -> Money:
    """``Money`` read back strictly from a saved plan; ``InvalidRecord`` names what is wrong."""
    try:
        return _money(_mapping(data))
    except Unexpected as exc:
        raise InvalidRecord([f"expected {exc.expected}"]) from None


def _money(data: Mapping[str, Any]) -> Money:
    top = read_fields(
        data,
        (
            ("through", _day, REQUIRED),
            ("minimax", _mapping, {}),
            ("xai", _mapping, {}),
            ("useapi", _mapping, {}),
        ),
    )
    groups = {}
    for alias, group in top["minimax"].items():
        spenders = _mapping(group).get("spenders", {})
        groups[alias] = GroupSpend(
            read_fields(group, (("group_id", nonempty_text, REQUIRED),))["group_id"],
            {name: Spend(**read_fields(_mapping(s), _SPEND)) for name, s in spenders.items()},
        )
    teams = {alias: TeamMoney(**read_fields(_mapping(t), _TEAM)) for alias, t in top["xai"].items()}
    useapi = {
        alias: tuple(AccountCredits(**read_fields(_mapping(c), _CREDITS)) for c in items)
        for alias, items in top["useapi"].items()
    }
    return Money(top["through"], groups, teams, useapi)


# -- showing amounts --


def plain(value: Decimal) -> str:
    """Exact, without trailing zeros past the cents: ``4.25``, ``4.0049``, ``12.00``."""
    text = format(value.normalize(), "f")
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"


def exact(value: Decimal, unit: str) -> str:
    """An amount for machines (CSV, JSON): ``plain``, and credits as the whole count they are."""
    return format(value.normalize(), "f") if unit == "credits" else plain(value)


def show(value: Decimal | None, unit: str) -> str:
    """An amount for people: ``$1,234.50`` (usd), ``1,234.5678`` (cash), ``1,250`` (credits)."""
    if value is None:
        return "(unknown)"
    if unit == "credits":
        return f"{value.normalize():,f}"
    text = plain(value)
    whole, _, fraction = text.partition(".")
    grouped = f"{int(whole):,}" if whole.lstrip("-").isdigit() else whole
    if whole == "-0":
        grouped = "-0"
    return f"{'$' if unit == 'usd' else ''}{grouped}.{fraction}"
