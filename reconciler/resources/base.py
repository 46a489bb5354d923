"""What a resource kind is: the one seam every stage dispatches through.

A kind is to reconciler what a resource type is to Terraform or a record type to octoDNS.
It owns everything that depends on what the thing *is*: which config entries want it, how
its state record reads back (strictly), how its live value is read from the provider and
carried in a saved plan, the pure diff of ``(wanted, recorded, live, now)`` into changes
with reasons, how the plan shows its attributes, and how each action is carried out.
Planner, refresh, applier, state document, renderer and importer only ever call these
methods; the registry in ``reconciler.resources`` lists the kinds.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, Protocol, TypeVar

from reconciler.errors import PlanError
from reconciler.model import Action, Change, Desired

if TYPE_CHECKING:
    from reconciler.billing.figures import Money
    from reconciler.execution import ApplyContext
    from reconciler.providers.pool import ProviderPool
    from reconciler.state.document import StateDocument


class Record(Protocol):
    """A resource as the state records it: its address and its JSON form (with ``type``)."""

    @property
    def address(self) -> str: ...

    def to_dict(self) -> dict[str, Any]: ...


class LiveValue(Protocol):
    """What a refresh read from a provider; its JSON form travels in a saved plan."""

    def to_dict(self) -> dict[str, Any]: ...


WantedT = TypeVar("WantedT")
RecordT = TypeVar("RecordT", bound=Record)
LiveT = TypeVar("LiveT", bound=LiveValue)


@dataclass(frozen=True)
class DiffContext:
    """What a diff may consult besides its own pair: the whole config, the time, the refresh.

    ``refreshed`` says whether live values were read at all: a kind that can be read treats
    a missing live value differently when the read was skipped (``--no-refresh``).
    ``money`` is what the refresh read of bills and credits (None when nothing was read):
    spend shown beside changes, budgets that act.
    """

    config: Desired
    now: datetime
    refreshed: bool
    money: Money | None = None


@dataclass
class Diff:
    """The outcome of diffing one address: changes, warnings, and errors that stop the plan."""

    changes: list[Change] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (address, message)

    def extend(self, other: Diff) -> None:
        self.changes.extend(other.changes)
        self.warnings.extend(other.warnings)
        self.errors.extend(other.errors)


class Row(NamedTuple):
    """One attribute line of a plan; ``changes`` is False for read-only facts shown beside."""

    name: str
    value: str
    changes: bool = True


class ResourceKind(ABC, Generic[WantedT, RecordT, LiveT]):
    """One kind of managed thing. Subclasses set the class attributes and the abstract methods.

    ``type_name`` is what the state records as ``type`` and the plan JSON as ``type``;
    ``label`` is how a text plan names the block (``sub_account { ... }``), ``noun`` how
    messages name one.
    """

    type_name: str
    label: str
    noun: str  # for messages: "sub-account"
    address_pattern: str  # for messages: what an address of this kind looks like
    record_class: type  # the class ``read_record`` returns: records are bucketed by it
    has_live_values: bool = False  # whether ``refresh`` reads values (not just checks access)
    money_attributes: frozenset[str] = frozenset()  # live values shown in dollars in messages

    # -- addresses --

    @abstractmethod
    def canonical(self, address: str) -> str | None:
        """``address`` in reconciler's own spelling if it is one of this kind's, else None."""

    # -- desired, recorded, live --

    @abstractmethod
    def wanted(self, config: Desired) -> dict[str, WantedT]:
        """Every resource of this kind the config asks for, by address."""

    @abstractmethod
    def read_record(self, data: Mapping[str, Any]) -> RecordT:
        """A state record read back strictly; ``InvalidRecord`` names every wrong field."""

    def conflicts(self, recorded: Mapping[str, RecordT]) -> list[str]:
        """What makes these records, together, no state to act on (each record read fine)."""
        return []

    def credentials(self, config: Desired) -> list[str]:
        """Names of the env variables that refreshing and applying this kind need."""
        return []

    def refresh(
        self,
        config: Desired,
        recorded: Mapping[str, RecordT],
        providers: ProviderPool,
        now: datetime,
    ) -> dict[str, LiveT]:
        """Live values by address (I/O). Kinds that cannot be read return nothing."""
        return {}

    def spenders(self, recorded: Mapping[str, RecordT]) -> dict[tuple[str, str], str]:
        """Who the provider's bills may name for these records: ``(section, spender name)``
        to address. A bill's spender nobody claims is unmanaged. Most kinds spend nothing."""
        return {}

    def read_live(self, data: Mapping[str, Any]) -> LiveT:
        """A live value from a saved plan's JSON; ``ValueError`` when it does not read."""
        raise ValueError(f"{self.type_name} has no live values")

    # -- planning (pure) --

    def notes(self, config: Desired) -> list[str]:
        """Warnings about the config's resources of this kind as a whole (pure)."""
        return []

    @abstractmethod
    def diff(
        self,
        address: str,
        wanted: WantedT | None,
        recorded: RecordT | None,
        live: LiveT | None,
        context: DiffContext,
    ) -> Diff:
        """The changes that make ``address`` what the config wants, each with its reason."""

    # -- the blast-radius guard --

    def guarded_group(self, address: str) -> str | None:
        """The group whose managed resources the blast-radius guard counts ``address`` in.

        None (the default) leaves the kind out of the guard: reading it back is harmless.
        """
        return None

    def takes_down(self, change: Change) -> bool:
        """Whether ``change`` removes or stops a managed resource (the guard counts it)."""
        return change.action is Action.DELETE

    # -- showing --

    def rows(self, change: Change) -> list[Row]:
        """The attribute rows a plan shows for ``change``."""
        before, after = change.before or {}, change.after or {}
        if change.action is Action.CREATE:
            return [Row(key, show_value(value)) for key, value in after.items()]
        if change.action in (Action.DELETE, Action.FORGET):
            return [Row(key, show_value(value)) for key, value in before.items()]
        return [
            Row(key, f"{show_value(before.get(key))} -> {show_value(after.get(key))}")
            for key in after
        ]

    # -- applying --

    def produces_secrets(self, change: Change) -> bool:
        """Whether applying ``change`` receives a secret that must be kept somewhere."""
        return False

    def holds_secrets(self, record: RecordT) -> bool:
        """Whether the secrets store should hold secrets for ``record`` (its token, say):
        what a missing store would lose."""
        return False

    def secret_doubt(self, record: RecordT) -> str | None:
        """Why the secrets stored for ``record`` may no longer work (an unanswered
        rotation), for ``secrets show`` to say; None when there is no doubt."""
        return None

    def before(self, change: Change, context: ApplyContext) -> Record | None:
        """What ``execute`` will record before its first call, when that can be known sooner.

        The applier writes it ahead of the change's turn (a create's pending record), so
        the change finds it durable instead of waiting for the disk; one that never runs
        has it taken back. None: nothing is recorded first.
        """
        return None

    @abstractmethod
    def execute(self, change: Change, context: ApplyContext) -> str:
        """Carry out one change; a short note for the receipt, or a ``ReconcilerError``."""

    def adopt(self, config: Desired, state: StateDocument, address: str, ident: str) -> Record:
        """``import ADDR ID``: record an existing resource; most kinds are read, not imported."""
        raise PlanError(
            f"{address} cannot be imported: reconciler reads it from the provider on every plan"
        )


def show_value(value: Any) -> str:
    """A value as plans print it: ``true``/``false``, ``null``, strings JSON-quoted."""
    import json

    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "null"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
