"""The planner: a pure function from (desired, recorded, now) to a ``Plan``.

No I/O and no clock of its own, so every case is a unit test. Desired and recorded
sub-accounts are joined by address with plain dicts; each pair yields at most an
``update`` (status, prevent_destroy) and a ``rotate`` (generation raised or token too
old), a desired one without a record yields ``create``, a record without a desired one
yields ``delete``, unless ``prevent_destroy`` was recorded: then planning fails, because
removing the YAML block must never be enough to destroy a protected account.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from reconciler.errors import PlanError
from reconciler.model import (
    Action,
    Change,
    Desired,
    DesiredSubAccount,
    Plan,
    RecordedSubAccount,
    canonical_address,
    iso,
)
from reconciler.suggest import command

_ACTION_ORDER = {Action.CREATE: 0, Action.UPDATE: 1, Action.ROTATE: 2, Action.DELETE: 3}


@dataclass
class _Draft:
    changes: list[Change] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (address, message)


def make_plan(
    desired: Desired,
    recorded: Mapping[str, RecordedSubAccount],
    now: datetime,
    *,
    targets: Sequence[str] = (),
    lineage: str | None = None,
    serial: int = 0,
) -> Plan:
    """Compare what the config wants with what state records; raise ``PlanError`` if unsafe."""
    draft = _Draft()
    targets = [canonical_address(t) for t in targets]
    wanted = desired.sub_accounts()
    for address, account in wanted.items():
        record = recorded.get(address)
        if record is None:
            draft.changes.append(_create(account, "new in config"))
        else:
            _compare(account, record, desired.minimax[account.alias].group_id, now, draft)
    for address, record in recorded.items():
        if address not in wanted:
            _gone(record, desired, draft)
    for alias in desired.xai:
        draft.warnings.append(
            f"xai.{alias}: spending limits are validated but not reconciled by this version"
        )
    if desired.useapi:
        draft.warnings.append(
            "useapi: credit checks are validated but not evaluated by this version"
        )
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
    )


def _create(account: DesiredSubAccount, reason: str) -> Change:
    return Change(account.address, Action.CREATE, None, _attributes(account), reason)


def _attributes(account: DesiredSubAccount) -> dict[str, Any]:
    return {
        "name": account.name,
        "status": account.status.value,
        "token_generation": account.token_generation,
        "prevent_destroy": account.prevent_destroy,
    }


def _compare(
    account: DesiredSubAccount,
    record: RecordedSubAccount,
    group_id: str,
    now: datetime,
    draft: _Draft,
) -> None:
    if record.group_id != group_id:
        draft.errors.append(
            (
                account.address,
                f"group_id changed from {record.group_id} to {group_id}; a sub-account "
                "cannot move between groups. Restore group_id, or `reconciler state rm` it and "
                "let a new one be created",
            )
        )
        return
    if record.pending:
        reason = (
            "an earlier create was sent but its answer was lost; sending it again "
            "(MiniMax refuses a duplicate name, so no twin can arise)"
        )
        draft.changes.append(_create(account, reason))
        return
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    if record.status != account.status:
        before["status"] = record.status.value if record.status else None
        after["status"] = account.status.value
    if record.prevent_destroy != account.prevent_destroy:
        before["prevent_destroy"], after["prevent_destroy"] = (
            record.prevent_destroy,
            account.prevent_destroy,
        )
    if after:
        reason = ", ".join(f"{key} {_text(before[key])} -> {_text(after[key])}" for key in after)
        draft.changes.append(Change(account.address, Action.UPDATE, before, after, reason))
    _rotation(account, record, now, draft)


def _rotation(
    account: DesiredSubAccount, record: RecordedSubAccount, now: datetime, draft: _Draft
) -> None:
    reason = None
    if account.token_generation > record.token_generation:
        reason = f"generation {record.token_generation} -> {account.token_generation}"
    elif account.token_generation < record.token_generation:
        draft.warnings.append(
            f"{account.address}: token_generation {account.token_generation} is lower than the applied "
            f"{record.token_generation}; a token cannot be un-rotated, so nothing is done"
        )
    issued = record.token_issued_at
    if reason is None and account.rotate_every and issued and now - issued >= account.rotate_every:
        reason = f"token older than {account.rotate_every_text} (issued {issued:%Y-%m-%d})"
    if reason is None and account.rotate_every and issued is None and record.subject_id:
        # Imported: the token's age is unknown. Rotating unasked would break a live token.
        draft.warnings.append(
            f"{account.address}: rotate_every {account.rotate_every_text} cannot count from an "
            "unknown issue date (the account was imported); raise token_generation to rotate "
            "now and start the clock"
        )
    if reason is None:
        return
    before = {
        "token_generation": record.token_generation,
        "token_issued_at": iso(record.token_issued_at) if record.token_issued_at else None,
    }
    after = {"token_generation": max(account.token_generation, record.token_generation)}
    draft.changes.append(Change(account.address, Action.ROTATE, before, after, reason))


def _gone(record: RecordedSubAccount, desired: Desired, draft: _Draft) -> None:
    address = record.address
    if record.prevent_destroy:
        draft.errors.append(
            (
                address,
                "removed from config, but prevent_destroy was set when it was last applied. "
                "To delete it, first apply it with prevent_destroy: false; to stop managing it "
                f"without deleting it, run `{command('state', 'rm', address)}`",
            )
        )
        return
    group = desired.minimax.get(record.alias)
    if group is None:
        draft.errors.append(
            (
                address,
                f"its group minimax.{record.alias} is gone from the config, so it cannot be "
                "deleted (no API key or base_url). Keep the group with an empty sub_accounts list "
                f"to delete its accounts, or run `{command('state', 'rm', address)}` to forget it",
            )
        )
        return
    if group.group_id != record.group_id:
        # The delete would go to the configured group with the other group's subject_id.
        draft.errors.append(
            (
                address,
                f"removed from config, but it was created in group {record.group_id} and "
                f"minimax.{record.alias} is now group {group.group_id}, so it cannot be deleted "
                f"from here. Restore group_id, or run `{command('state', 'rm', address)}` to forget it",
            )
        )
        return
    status = record.status.value if record.status else None
    before = {"name": record.name, "status": status, "subject_id": record.subject_id}
    reason = "removed from config"
    if record.pending:
        reason += (
            "; its create was never confirmed, so it is only forgotten (check the MiniMax console)"
        )
    draft.changes.append(Change(address, Action.DELETE, before, None, reason))


def _select(changes: list[Change], targets: Sequence[str], draft: _Draft) -> list[Change]:
    if not targets:
        return list(changes)
    selected = [c for c in changes if any(_matches(c.address, t) for t in targets)]
    for target in targets:
        if not any(_matches(c.address, target) for c in changes):
            draft.warnings.append(f"--target {target} matches no change")
    if selected:
        draft.warnings.append("the plan is limited by --target: other changes may be pending")
    return selected


def _matches(address: str, target: str) -> bool:
    return address == target or address.startswith(target + ".")


def _errors_in_scope(errors: list[tuple[str, str]], targets: Sequence[str]) -> bool:
    return not targets or any(any(_matches(a, t) for t in targets) for a, _ in errors)


def _text(value: Any) -> str:
    if value is None:
        return "(unknown)"
    return str(value).lower() if isinstance(value, bool) else str(value)
