"""The registry of resource kinds: the only place that lists what reconciler manages.

Every stage that handles resources (planner, refresh, applier, state document, renderer,
importer) asks this module which kind owns an address or a recorded ``type`` and calls
that kind's methods; none of them branches on what a resource is. Adding a kind is one
module under ``reconciler/resources/`` and one line in ``KINDS``.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from reconciler.model import Desired
from reconciler.resources.base import Record, ResourceKind
from reconciler.resources.minimax_sub_account import MinimaxSubAccounts
from reconciler.resources.xai_spending_limit import XaiSpendingLimits

AnyKind = ResourceKind[Any, Any, Any]

KINDS: tuple[AnyKind, ...] = (
    MinimaxSubAccounts(),
    XaiSpendingLimits(),
)

_BY_TYPE: dict[str, AnyKind] = {kind.type_name: kind for kind in KINDS}
_BY_RECORD_CLASS: dict[type, AnyKind] = {kind.record_class: kind for kind in KINDS}


def kind_of_type(type_name: Any) -> AnyKind | None:
    """The kind that records ``type_name`` in the state, or None for a type nobody knows."""
    return _BY_TYPE.get(type_name) if isinstance(type_name, str) else None


def kind_of_record(record: Record) -> AnyKind:
    """The kind that read ``record`` (a dict lookup: planning buckets thousands of them)."""
    return _BY_RECORD_CLASS[type(record)]


def kind_of_address(address: str) -> AnyKind | None:
    """The kind whose addresses look like ``address`` (in any JSON spelling of its name)."""
    for kind in KINDS:
        if kind.canonical(address) is not None:
            return kind
    return None


@cache
def kind_of(address: str) -> AnyKind:
    """The kind of an address that planning produced (so it is known to be one).

    Cached: the applier asks several times per change, and parsing an address is not free.
    """
    kind = kind_of_address(address)
    assert kind is not None, f"no resource kind owns {address}"
    return kind


def canonical_address(address: str) -> str:
    """An address as reconciler writes it: ``["\\u0063i-bot"]`` is ``["ci-bot"]``.

    Names are JSON-quoted, so one name has several spellings; users may type any of them
    (an escape is the only way to type an invisible character) and must find the same one.
    """
    for kind in KINDS:
        canonical = kind.canonical(address)
        if canonical is not None:
            return canonical
    return address


def read_record(data: Mapping[str, Any]) -> Record:
    """A state record of any kind, read strictly by its kind (``InvalidRecord`` if wrong)."""
    kind = kind_of_type(data.get("type"))
    if kind is None:
        from reconciler.fields import InvalidRecord

        raise InvalidRecord(["unknown resource type"])
    return kind.read_record(data)  # type: ignore[no-any-return]


def required_env(config: Desired) -> list[str]:
    """Env variable names the managed kinds need, each once, in config order."""
    return list(dict.fromkeys(name for kind in KINDS for name in kind.credentials(config)))


def known_spenders(recorded: Mapping[str, Record]) -> dict[tuple[str, str], str]:
    """Every ``(section, spender name)`` the recorded resources account for in bills."""
    buckets: dict[AnyKind, dict[str, Record]] = {}
    for address, record in recorded.items():
        buckets.setdefault(kind_of_record(record), {})[address] = record
    known: dict[tuple[str, str], str] = {}
    for kind, records in buckets.items():
        known.update(kind.spenders(records))
    return known
