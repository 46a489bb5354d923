"""The refresh stage: read live provider state for every kind that can be read.

It sits between loading (config and state) and planning, so the planner stays pure over
``(desired, recorded, live, now)``. Each resource kind reads its own live values (MiniMax
sub-accounts have none), then the money stage (``billing.read``) reads bills, credit and
limits for every section of the config (the MiniMax bills read is also that group's access
check). The result is a ``Live``, which a saved plan carries as JSON: ``apply FILE``
tells from the values whether they moved since the plan was made, and re-plans with the
money figures (which are never compared: spend moves every hour).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from reconciler.errors import PlanError
from reconciler.fields import InvalidRecord
from reconciler.model import Desired
from reconciler.resources import KINDS, kind_of_address, kind_of_record
from reconciler.resources.base import LiveValue, Record

if TYPE_CHECKING:
    from reconciler.billing.figures import Money
    from reconciler.providers.pool import ProviderPool


@dataclass(frozen=True)
class Live:
    """Live values by address, and the money figures; ``refreshed`` is False when nothing
    was read (``--no-refresh``)."""

    refreshed: bool = False
    values: Mapping[str, LiveValue] = field(default_factory=dict)
    money: Money | None = None

    def to_json(self) -> dict[str, dict[str, Any]]:
        return {address: value.to_dict() for address, value in sorted(self.values.items())}


def refresh(
    config: Desired,
    recorded: Mapping[str, Record],
    providers: ProviderPool,
    now: datetime,
    *,
    values_only: bool = False,
) -> Live:
    """Ask every kind for its live values, then read the money; a provider error ends the
    refresh (and the plan).

    ``values_only`` asks only the kinds that have live values and reads no money.
    """
    from reconciler.billing.read import read_money

    values: dict[str, LiveValue] = {}
    for kind in KINDS:
        if values_only and not kind.has_live_values:
            continue
        mine = {a: record for a, record in recorded.items() if kind_of_record(record) is kind}
        values.update(kind.refresh(config, mine, providers, now))
    money = None if values_only else read_money(config, providers, now)
    return Live(refreshed=True, values=values, money=money)


def live_from_json(
    data: Mapping[str, Any], refreshed: bool, where: str, money: Money | None = None
) -> Live:
    """The live values a saved plan carries, read back by their kinds, with its money."""
    values: dict[str, LiveValue] = {}
    for address, value in data.items():
        kind = kind_of_address(address)
        if kind is None or not isinstance(value, dict):
            raise PlanError(f"{where}: live value of {address} does not read back")
        try:
            values[address] = kind.read_live(value)
        except (InvalidRecord, ValueError) as exc:
            raise PlanError(
                f"{where}: live value of {address} does not read back ({exc})"
            ) from None
    return Live(refreshed=refreshed, values=values, money=money)
