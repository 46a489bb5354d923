"""The planner: a pure function from (desired, recorded, live, now) to a ``Plan``.

No I/O and no clock of its own, so every case is a unit test. It knows nothing of what a
resource is: for each kind in the registry it joins the desired and recorded resources
by address with plain dicts and asks the kind to diff each address (with its live value,
when the refresh read one). Then the money read is judged (``billing``): guard rails
held or broken, unmanaged spenders warned about, the figures kept for the plan. Errors
any kind reports (a protected account removed from the config, a limit above the hard
limit) stop the plan, unless ``--target`` leaves them out of scope. Changes are sorted
by address, then by action.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from reconciler.billing.rails import TARGETED, unevaluated
from reconciler.billing.report import MoneyReport, make_report
from reconciler.errors import PlanError
from reconciler.model import Action, Change, Desired, Plan, iso
from reconciler.refresh import Live
from reconciler.resources import KINDS, AnyKind, canonical_address, kind_of_record, known_spenders
from reconciler.resources.base import Diff, DiffContext, Record
from reconciler.safety import blast_radius
from reconciler.targets import check_targets, matches, out_of_scope

_ACTION_ORDER = {
    Action.CREATE: 0,
    Action.UPDATE: 1,
    Action.ROTATE: 2,
    Action.DELETE: 3,
    Action.FORGET: 4,
}


def make_plan(
    desired: Desired,
    recorded: Mapping[str, Record],
    now: datetime,
    *,
    live: Live | None = None,
    targets: Sequence[str] = (),
    lineage: str | None = None,
    serial: int = 0,
) -> Plan:
    """Compare what the config wants with what state records and the providers report.

    Raises ``PlanError`` when planning would be unsafe (every reason, each with its address).
    """
    live = live or Live()
    context = DiffContext(desired, now, live.refreshed, live.money)
    draft = Diff()
    draft.warnings.extend(desired.warnings)  # what loading the config noticed
    for kind, records in _by_kind(recorded).items():
        draft.warnings.extend(kind.notes(desired))
        draft.extend(_diff_kind(kind, records, live, context))
    targets = [canonical_address(t) for t in targets]
    money = _money(desired, recorded, live, draft, targets)
    check_plan_targets(desired, recorded, targets)
    changes = _select(draft.changes, targets, draft)
    if draft.errors and _errors_in_scope(draft.errors, targets):
        messages = [f"{address}: {message}" for address, message in draft.errors]
        raise PlanError("cannot plan:\n" + "\n".join(f"  {m}" for m in messages))
    changes.sort(key=lambda c: (c.address, _ACTION_ORDER[c.action]))
    return Plan(
        changes=tuple(changes),
        warnings=tuple(draft.warnings),
        lineage=lineage,
        serial=serial,
        config_digest=desired.digest,
        created_at=iso(now),
        live=live.to_json(),
        refreshed=live.refreshed,
        unsafe=blast_radius(changes, recorded, desired.safety),
        money=money,
    )


def _money(
    desired: Desired,
    recorded: Mapping[str, Record],
    live: Live,
    draft: Diff,
    targets: Sequence[str],
) -> MoneyReport | None:
    """Judge the guard rails on the money read; say what went unjudged: everything without
    a read, the sections the targets do not reach with one."""
    if live.money is None:
        unjudged = unevaluated(desired)
        if unjudged:
            draft.warnings.append(unjudged)
        return None
    report, warnings = make_report(desired, live.money, known_spenders(recorded))
    draft.warnings.extend(warnings)
    outside = unevaluated(out_of_scope(desired, targets), TARGETED)
    if outside:
        draft.warnings.append(outside)
    return report


def _by_kind(recorded: Mapping[str, Record]) -> dict[AnyKind, dict[str, Record]]:
    """Recorded resources bucketed by the kind that owns their address (every kind listed)."""
    buckets: dict[AnyKind, dict[str, Record]] = {kind: {} for kind in KINDS}
    for address, record in recorded.items():
        buckets[kind_of_record(record)][address] = record
    return buckets


def _diff_kind(
    kind: AnyKind, records: Mapping[str, Record], live: Live, context: DiffContext
) -> Diff:
    """Join wanted and recorded by address; each address is diffed once."""
    diff = Diff()
    wanted = kind.wanted(context.config)
    for address, want in wanted.items():
        record = records.get(address)
        diff.extend(kind.diff(address, want, record, live.values.get(address), context))
    for address, record in records.items():
        if address not in wanted:
            diff.extend(kind.diff(address, None, record, live.values.get(address), context))
    return diff


def _select(changes: list[Change], targets: Sequence[str], draft: Diff) -> list[Change]:
    if not targets:
        return list(changes)
    selected = [c for c in changes if any(matches(c.address, t) for t in targets)]
    for target in targets:
        if not any(matches(c.address, target) for c in changes):
            draft.warnings.append(f"--target {target} matches no change")
    if selected:
        draft.warnings.append("the plan is limited by --target: other changes may be pending")
    return selected


def check_plan_targets(
    desired: Desired, recorded: Mapping[str, Record], targets: Sequence[str]
) -> None:
    """``PlanError`` for a target that names nothing the config asks for or the state records.

    Callers that read live values first call it before the refresh: a typo costs no call.
    """
    if targets:
        known = set(recorded).union(*(kind.wanted(desired) for kind in KINDS))
        check_targets([canonical_address(t) for t in targets], known)


def _errors_in_scope(errors: list[tuple[str, str]], targets: Sequence[str]) -> bool:
    return not targets or any(any(matches(a, t) for t in targets) for a, _ in errors)
