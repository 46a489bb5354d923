"""The refresh stage: read live provider state for every kind that can be read.

It sits between loading (config and state) and planning, so the planner stays pure over
``(desired, recorded, live, now)``. Each resource kind reads its own live values (MiniMax
sub-accounts have no read: their refresh is an access check); the result is a ``Live``,
which a saved plan carries as JSON so ``apply FILE`` can tell whether live values moved
since the plan was made.
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
    from reconciler.providers.pool import ProviderPool


@dataclass(frozen=True)
class Live:
    """Live values by address; ``refreshed`` is False when nothing was read (``--no-refresh``)."""

    refreshed: bool = False
    values: Mapping[str, LiveValue] = field(default_factory=dict)

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
    """Ask every kind for its live values; a provider error ends the refresh (and the plan).

    ``values_only`` asks only the kinds that have live values, skipping access checks.
    """
    values: dict[str, LiveValue] = {}
    for kind in KINDS:
        if values_only and not kind.has_live_values:
            continue
        mine = {a: record for a, record in recorded.items() if kind_of_record(record) is kind}
        values.update(kind.refresh(config, mine, providers, now))
    return Live(refreshed=True, values=values)


def check_access(
    config: Desired, recorded: Mapping[str, Record], providers: ProviderPool, now: datetime
) -> None:
    """Run the refresh of the kinds without live values: their access checks (MiniMax's
    one-day bills query), which ``apply`` overlaps with its first changes."""
    for kind in KINDS:
        if not kind.has_live_values:
            mine = {a: record for a, record in recorded.items() if kind_of_record(record) is kind}
            kind.refresh(config, mine, providers, now)


def live_from_json(data: Mapping[str, Any], refreshed: bool, where: str) -> Live:
    """The live values a saved plan carries, read back by their kinds."""
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
    return Live(refreshed=refreshed, values=values)
