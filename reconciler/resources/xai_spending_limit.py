"""The xAI team spending limit: ``xai.ALIAS.spending_limit``, read live on every plan.

xAI lets a team set one thing about its postpaid spend: the monthly *soft* limit. The
refresh reads it (with the effective and hard limits; this month's spend comes from the
refresh's money figures); the diff compares the config with that live value and, where they
differ, plans an ``update`` that sets it back. When the live value also differs from
what reconciler last applied, someone changed it outside reconciler: that is **drift**,
shown with both values. A limit above the team's hard limit fails the plan before any
write. Removing the block stops managing the limit (``forget``): it is never set to zero.
Money is ``Decimal`` dollars throughout and JSON strings in plans and state.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from reconciler.errors import PlanError, ProviderError
from reconciler.fields import NULLABLE, REQUIRED, Field, moment, money, nonempty_text, read_fields
from reconciler.model import Action, Change, Desired, iso
from reconciler.resources.base import Diff, DiffContext, ResourceKind, Row

if TYPE_CHECKING:
    from reconciler.execution import ApplyContext
    from reconciler.providers.pool import ProviderPool

_ADDRESS = re.compile(r"^xai\.([a-z0-9][a-z0-9_-]*)\.spending_limit$")


def spending_limit_address(alias: str) -> str:
    return f"xai.{alias}.spending_limit"


def dollars(amount: Decimal | str | None) -> str:
    """``$1,234.50`` for people; ``(unknown)`` when there is no figure."""
    return "(unknown)" if amount is None else f"${Decimal(amount):,.2f}"


def _plain(amount: Decimal) -> str:
    """An amount as plans and state write it: ``"1234.50"``, exact, never a float."""
    return f"{amount:.2f}"


@dataclass(frozen=True)
class DesiredSpendingLimit:
    alias: str
    team_id: str
    monthly_usd: Decimal

    @property
    def address(self) -> str:
        return spending_limit_address(self.alias)


@dataclass(frozen=True)
class RecordedSpendingLimit:
    """What reconciler last set, and when: drift is a live value that differs from it."""

    alias: str
    team_id: str
    monthly_usd: Decimal
    applied_at: datetime | None = None

    @property
    def address(self) -> str:
        return spending_limit_address(self.alias)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": XaiSpendingLimits.type_name,
            "alias": self.alias,
            "team_id": self.team_id,
            "monthly_usd": _plain(self.monthly_usd),
            "applied_at": iso(self.applied_at) if self.applied_at else None,
        }


@dataclass(frozen=True)
class LiveSpendingLimit:
    """The team's limits as xAI reported them during the refresh, in dollars.

    This month's spend is not among them: it is money (``DiffContext.money``), which moves
    every hour and must not make a saved plan stale.
    """

    soft: Decimal
    effective: Decimal
    hard: Decimal

    def to_dict(self) -> dict[str, Any]:
        return {
            "soft": _plain(self.soft),
            "effective": _plain(self.effective),
            "hard": _plain(self.hard),
        }


_RECORD_FIELDS: tuple[Field, ...] = (
    ("alias", nonempty_text, REQUIRED),
    ("team_id", nonempty_text, REQUIRED),
    ("monthly_usd", money, REQUIRED),
    ("applied_at", moment, NULLABLE),
)
_LIVE_FIELDS: tuple[Field, ...] = (
    ("soft", money, REQUIRED),
    ("effective", money, REQUIRED),
    ("hard", money, REQUIRED),
)


class XaiSpendingLimits(
    ResourceKind[DesiredSpendingLimit, RecordedSpendingLimit, LiveSpendingLimit]
):
    type_name = "xai_spending_limit"
    label = "spending_limit"
    noun = "spending limit"
    address_pattern = "xai.ALIAS.spending_limit"
    record_class = RecordedSpendingLimit
    has_live_values = True
    money_attributes = frozenset({"soft", "effective", "hard"})

    def canonical(self, address: str) -> str | None:
        return address if _ADDRESS.match(address) else None

    def wanted(self, config: Desired) -> dict[str, DesiredSpendingLimit]:
        return {
            spending_limit_address(alias): DesiredSpendingLimit(
                alias, team.team_id, team.monthly_usd
            )
            for alias, team in config.xai.items()
            if team.monthly_usd is not None
        }

    def read_record(self, data: Mapping[str, Any]) -> RecordedSpendingLimit:
        return RecordedSpendingLimit(**read_fields(data, _RECORD_FIELDS))

    def read_live(self, data: Mapping[str, Any]) -> LiveSpendingLimit:
        return LiveSpendingLimit(**read_fields(data, _LIVE_FIELDS))

    def credentials(self, config: Desired) -> list[str]:
        return [
            team.management_key_env for team in config.xai.values() if team.monthly_usd is not None
        ]

    def refresh(
        self,
        config: Desired,
        recorded: Mapping[str, RecordedSpendingLimit],
        providers: ProviderPool,
        now: datetime,
    ) -> dict[str, LiveSpendingLimit]:
        """Read the limits of every team whose limit the config manages (none to forget)."""
        from reconciler.providers.xai import XAI

        live = {}
        for address, wanted in self.wanted(config).items():
            limits = providers.get(XAI, wanted.alias).spending_limits()
            live[address] = LiveSpendingLimit(limits.soft, limits.effective, limits.hard)
        return live

    def diff(
        self,
        address: str,
        wanted: DesiredSpendingLimit | None,
        recorded: RecordedSpendingLimit | None,
        live: LiveSpendingLimit | None,
        context: DiffContext,
    ) -> Diff:
        diff = Diff()
        if wanted is None:
            assert recorded is not None, "the planner diffs addresses that exist somewhere"
            diff.changes.append(_forget(recorded))
            return diff
        if recorded is not None and recorded.team_id != wanted.team_id:
            diff.warnings.append(
                f"{address}: team_id changed from {recorded.team_id} to {wanted.team_id}; the limit "
                f"of team {recorded.team_id} stays as last applied ({dollars(recorded.monthly_usd)})"
            )
            recorded = None
        applied = recorded.monthly_usd if recorded else None
        if live is None:
            _unread(wanted, applied, diff)
        else:
            team = context.money.xai.get(wanted.alias) if context.money else None
            _compare(wanted, applied, live, team.month_spend if team else None, diff)
        return diff

    def rows(self, change: Change) -> list[Row]:
        before, after = change.before or {}, change.after or {}
        if change.action is Action.FORGET:
            return [
                Row(
                    "monthly_usd",
                    f"{dollars(before.get('monthly_usd'))} when last applied; left as it is at xAI",
                )
            ]
        old, new = before.get("monthly_usd"), after.get("monthly_usd")
        if old == new:
            rows = [Row("monthly_usd", f"{dollars(new)} (already so at xAI)", changes=False)]
        else:
            rows = [Row("monthly_usd", f"{dollars(old)} -> {dollars(new)}")]
        if change.drift and change.applied:
            rows.append(Row("last_applied", dollars(change.applied.get("monthly_usd")), False))
        details = change.details or {}
        for key, label in (("effective", "effective_limit"), ("hard", "hard_limit")):
            if key in details:
                rows.append(Row(label, dollars(details[key]), changes=False))
        if details.get("month_spend") is not None:
            rows.append(Row("month_spend", dollars(details["month_spend"]), changes=False))
        return rows

    def execute(self, change: Change, context: ApplyContext) -> str:
        from reconciler.providers.xai import XAI

        alias = _alias(change.address)
        if change.action is Action.FORGET:
            context.recorder.forget(change.address)
            return "no longer managed; the limit stays as it is at xAI"
        team = context.desired.xai.get(alias)
        after = change.after or {}
        if change.action is not Action.UPDATE or team is None or team.monthly_usd is None:
            raise PlanError(f"{change.address}: not a change this config makes; plan again")
        wanted = Decimal(str(after.get("monthly_usd")))
        if wanted != team.monthly_usd:
            raise PlanError(f"{change.address}: the config now asks for another limit; plan again")
        record = RecordedSpendingLimit(alias, team.team_id, wanted, context.now())
        if (change.before or {}).get("monthly_usd") == after.get("monthly_usd"):
            context.recorder.record(record)  # already so at xAI: only recorded as applied
            return f"recorded {dollars(wanted)} as applied (no call)"
        client = context.providers.get(XAI, alias)
        if not change.details:  # planned without a refresh: the hard limit is still unchecked
            hard = client.spending_limits().hard
            if wanted > hard:
                raise PlanError(_above_hard(change.address, wanted, hard))
        confirmed = client.set_soft_limit(wanted)
        if confirmed != wanted:
            raise ProviderError(
                f"xAI set the spending limit of team {team.team_id} but answered {dollars(confirmed)} "
                f"instead of {dollars(wanted)}; the next plan shows what is live"
            )
        context.recorder.record(record)
        return f"soft limit {dollars(wanted)}"


def _compare(
    wanted: DesiredSpendingLimit,
    applied: Decimal | None,
    live: LiveSpendingLimit,
    month_spend: Decimal | None,
    diff: Diff,
) -> None:
    address, target = wanted.address, wanted.monthly_usd
    if target > live.hard and live.soft != target:
        diff.errors.append((address, _above_hard(address, target, live.hard)))
        return
    if target > live.hard:  # xAI lowered the hard limit under a limit already set: no write
        diff.warnings.append(
            f"{address}: {_above_hard(address, target, live.hard)}; the limit is already "
            f"{dollars(target)} at xAI, so nothing is written, but xAI enforces at most the "
            "hard limit"
        )
    details: dict[str, Any] = live.to_dict()
    del details["soft"]
    details["month_spend"] = _plain(month_spend) if month_spend is not None else None
    if month_spend is not None and target < month_spend:
        diff.warnings.append(
            f"{address}: the limit {dollars(target)} is below this month's spend so far "
            f"({dollars(month_spend)}): xAI stops the team's postpaid usage once prepaid "
            "credits run out"
        )
    if live.soft == target:
        if applied != target:
            reason = (
                f"already {dollars(target)} at xAI; recorded as applied, so a later change "
                "outside reconciler shows as drift"
            )
            before = {"monthly_usd": _plain(target)}
            diff.changes.append(
                Change(address, Action.UPDATE, before, dict(before), reason, details=details)
            )
        return
    drift = applied is not None and live.soft != applied
    reason = f"{dollars(live.soft)} -> {dollars(target)}"
    if drift:
        reason += f"; drift: changed outside reconciler since it was set to {dollars(applied)}"
    diff.changes.append(
        Change(
            address,
            Action.UPDATE,
            {"monthly_usd": _plain(live.soft)},
            {"monthly_usd": _plain(target)},
            reason,
            drift=drift,
            applied={"monthly_usd": _plain(applied)} if drift and applied is not None else None,
            details=details,
        )
    )


def _unread(wanted: DesiredSpendingLimit, applied: Decimal | None, diff: Diff) -> None:
    """``--no-refresh``: only what was last applied can be compared."""
    if applied == wanted.monthly_usd:
        return
    before = {"monthly_usd": _plain(applied) if applied is not None else None}
    reason = (
        f"{dollars(applied) if applied is not None else 'never applied'} -> "
        f"{dollars(wanted.monthly_usd)}; compared with what was last applied, as the live "
        "limit was not read"
    )
    after = {"monthly_usd": _plain(wanted.monthly_usd)}
    diff.changes.append(Change(wanted.address, Action.UPDATE, before, after, reason))


def _forget(recorded: RecordedSpendingLimit) -> Change:
    reason = (
        "removed from config: reconciler stops managing it; the limit stays as it is at xAI "
        f"(last applied {dollars(recorded.monthly_usd)}) and is never set to zero"
    )
    before = {"monthly_usd": _plain(recorded.monthly_usd)}
    return Change(recorded.address, Action.FORGET, before, None, reason)


def _above_hard(address: str, wanted: Decimal, hard: Decimal) -> str:
    return (
        f"monthly_usd {dollars(wanted)} is above the team's hard limit {dollars(hard)}, the most "
        "xAI lets a team set; lower monthly_usd, or ask xAI to raise the hard limit"
    )


def _alias(address: str) -> str:
    match = _ADDRESS.match(address)
    assert match is not None, "the registry gave this kind only its own addresses"
    return match.group(1)
