"""The blast-radius guard: a plan that takes down too much of a group at once is unsafe.

Pure, like the planner that calls it: from the plan's changes, the recorded resources and
the config's ``safety`` settings it says which groups would lose more than
``max_delete_percent`` of their managed resources (deleted or disabled), among groups that
manage at least ``min_managed``. Deleting one team's file then reads as what it is, and
``apply`` refuses it without ``--force``, as octoDNS does past its 30 % threshold. Which
group a resource counts in, and which changes take it down, each kind decides.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from decimal import Decimal

from reconciler.model import Change, SafetySettings
from reconciler.resources import kind_of, kind_of_record
from reconciler.resources.base import Record


def blast_radius(
    changes: Iterable[Change], recorded: Mapping[str, Record], safety: SafetySettings
) -> tuple[str, ...]:
    """Why the changes are unsafe, one reason per group over the threshold; () when safe."""
    managed: Counter[str] = Counter()
    nouns: dict[str, str] = {}
    for address, record in recorded.items():
        kind = kind_of_record(record)
        group = kind.guarded_group(address)
        if group is not None:
            managed[group] += 1
            nouns[group] = kind.noun
    down: defaultdict[str, set[str]] = defaultdict(set)
    for change in changes:
        kind = kind_of(change.address)
        if not kind.takes_down(change):
            continue  # most changes (creates, rotations) take nothing down: no parsing
        group = kind.guarded_group(change.address)
        if group is not None:
            down[group].add(change.address)
    reasons = []
    for group in sorted(down):
        total, lost = managed[group], len(down[group])
        if total < safety.min_managed or not total:
            continue
        share = Decimal(lost) * 100 / total
        if share > safety.max_delete_percent:
            reasons.append(
                f"{group}: this plan deletes or disables {lost} of its {total} managed "
                f"{nouns[group]}s ({_percent(share)}), more than safety.max_delete_percent "
                f"({_percent(safety.max_delete_percent)})"
            )
    return tuple(reasons)


def _percent(value: Decimal) -> str:
    """``37.5%``, ``25%``: one decimal at most, none when whole."""
    return f"{value:.1f}".removesuffix(".0") + "%"
