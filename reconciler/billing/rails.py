"""Guard rails on money, judged from the figures: budgets, credit floors, unmanaged spenders.

Pure: config, ``Money`` and the spenders the state knows in, a list of ``GuardRail`` out,
each ``held``, ``broken`` or (for an unmanaged spender under ``unmanaged: warn``)
``warn``, with its figure, threshold and a sentence for people. ``plan`` shows them and
``check`` exits 2 when one is broken. The budget rule itself (``over_budget``) is shared
with the sub-account kind, whose diff turns an exceeded ``on_exceed: disable`` budget
into an ``update`` to ``disabled``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from reconciler.billing.figures import Money, exact, plain, show
from reconciler.model import Budget, Desired, sub_account_address
from reconciler.providers.minimax_bills import MAIN_ACCOUNT
from reconciler.suggest import command

BUDGET, CREDIT_FLOOR, UNMANAGED = "budget", "credit_floor", "unmanaged"
HELD, BROKEN, WARN = "held", "broken", "warn"

# (section, spender name) -> the address the state records it under
KnownSpenders = Mapping[tuple[str, str], str]


@dataclass(frozen=True)
class GuardRail:
    """One rule judged against one figure; ``drift`` makes ``plan --detailed-exitcode`` exit 2."""

    rule: str
    subject: str
    status: str
    figure: Decimal
    threshold: Decimal | None
    unit: str
    message: str
    drift: bool = False
    advice: str = ""  # what to do about it, when there is something to do

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "subject": self.subject,
            "status": self.status,
            "figure": exact(self.figure, self.unit),
            "threshold": None if self.threshold is None else exact(self.threshold, self.unit),
            "unit": self.unit,
            "message": self.message,
            "drift": self.drift,
            "advice": self.advice,
        }


def over_budget(budget: Budget, month_spend: Decimal) -> bool:
    return month_spend > budget.monthly_cash


def budget_reason(budget: Budget, month_spend: Decimal) -> str:
    """``over budget: 4.25 > 4.00 this month``, as SPEC writes it."""
    return f"over budget: {plain(month_spend)} > {plain(budget.monthly_cash)} this month"


def guard_rails(config: Desired, money: Money, known: KnownSpenders) -> list[GuardRail]:
    """Every guard rail the config sets, judged; unmanaged spenders last."""
    return [
        *_budgets(config, money),
        *_credit_floors(config, money),
        *_unmanaged(config, money, known),
    ]


def _budgets(config: Desired, money: Money) -> list[GuardRail]:
    rails = []
    for address, account in config.sub_accounts().items():
        spend = money.spend(account.alias, account.name)
        if account.budget is None or spend is None:
            continue
        budget, figure = account.budget, spend.month
        if over_budget(budget, figure):
            status = BROKEN
            message = f"{budget_reason(budget, figure)} (on_exceed: {budget.on_exceed})"
        else:
            status = HELD
            message = f"{plain(figure)} of {plain(budget.monthly_cash)} spent this month"
        rails.append(
            GuardRail(BUDGET, address, status, figure, budget.monthly_cash, "cash", message)
        )
    return rails


def _credit_floors(config: Desired, money: Money) -> list[GuardRail]:
    rails = []
    for alias, section in config.useapi.items():
        read = {credits.account: credits for credits in money.useapi.get(alias, ())}
        for check in section.checks:
            credits = read.get(check.account)
            if credits is None:
                continue
            subject = f"useapi.{alias}" + (f'["{check.account}"]' if check.account else "")
            held = credits.credits >= check.min_credits
            message = (
                f"{show(credits.credits, 'credits')} credits "
                f"{'>=' if held else '<'} min_credits {show(check.min_credits, 'credits')}"
            )
            if credits.expiring_soon:
                message += f"; {show(credits.expiring_soon, 'credits')} expire within 7 days"
            status = HELD if held else BROKEN
            rails.append(
                GuardRail(
                    CREDIT_FLOOR,
                    subject,
                    status,
                    credits.credits,
                    check.min_credits,
                    "credits",
                    message,
                )
            )
    return rails


def _unmanaged(config: Desired, money: Money, known: KnownSpenders) -> list[GuardRail]:
    rails = []
    for alias, group in money.minimax.items():
        setting = config.minimax[alias].unmanaged if alias in config.minimax else "warn"
        for name, spend in group.spenders.items():
            if name == MAIN_ACCOUNT or spend.month <= 0 or (f"minimax.{alias}", name) in known:
                continue
            address = sub_account_address(alias, name)
            message = (
                f"{name} spent {plain(spend.month)} this month but is not in the state (made in "
                "the MiniMax console, or removed from the state by hand); to manage it, declare "
                f"it under minimax.{alias}.sub_accounts and run "
                f"`{command('import', address, 'SUBJECT_ID')}` with its id from the console"
            )
            fail = setting == "fail"
            rails.append(
                GuardRail(
                    UNMANAGED,
                    address,
                    BROKEN if fail else WARN,
                    spend.month,
                    None,
                    "cash",
                    message,
                    fail,
                )
            )
    return rails


def guard_rail_from_dict(data: Mapping[str, Any]) -> GuardRail:
    """A guard rail read back from a saved plan (its shape is checked by the plan schema)."""
    threshold = data.get("threshold")
    return GuardRail(
        str(data["rule"]),
        str(data["subject"]),
        str(data["status"]),
        Decimal(str(data["figure"])),
        None if threshold is None else Decimal(str(threshold)),
        str(data["unit"]),
        str(data["message"]),
        bool(data.get("drift", False)),
        str(data.get("advice") or ""),
    )


NO_REFRESH = (
    "budgets were not evaluated: --no-refresh reads no bills or credits",
    "run plan without --no-refresh",
)
TARGETED = (
    "guard rails outside the targets were not evaluated: a targeted plan reads the bills "
    "and credits of the sections it reaches only",
    "run plan without --target",
)


def unevaluated(config: Desired, why: tuple[str, str] = NO_REFRESH) -> str | None:
    """What a plan that read no money for ``config`` leaves unjudged (``why``: its reason and
    the way round it), or None when ``config`` sets no guard rail."""
    budgets = sum(1 for account in config.sub_accounts().values() if account.budget)
    checks = sum(len(section.checks) for section in config.useapi.values())
    parts = [f"{budgets} budget(s)"] if budgets else []
    if checks:
        parts.append(f"{checks} credit check(s)")
    if any(group.unmanaged == "fail" for group in config.minimax.values()):
        parts.append("unmanaged spenders")
    if not parts:
        return None
    reason, remedy = why
    return f"{reason}, so {', '.join(parts)} went unchecked; {remedy}, or `reconciler check`"
