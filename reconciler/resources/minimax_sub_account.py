"""The MiniMax sub-account: ``minimax.ALIAS.sub_account["NAME"]``.

MiniMax offers no read of sub-accounts, so the state is their only record: the diff joins
the config with the recorded state alone. A desired account without a record is a
``create``; a pair yields at most an ``update`` (status, prevent_destroy) and a ``rotate``
(generation raised, token too old); a record without a desired account is a ``delete``,
unless ``prevent_destroy`` was recorded: then planning fails, because removing the YAML
block must never be enough to destroy a protected account. The kind reads nothing live
itself: its group's bills are read by the refresh's money stage (also the key's access
check), and a budget exceeded this month turns into an ``update`` to ``disabled``
(``minimax_money``). What each action does at the provider is in ``minimax_actions``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from reconciler.billing.figures import Spend
from reconciler.fields import (
    NULLABLE,
    REQUIRED,
    Field,
    Unexpected,
    count,
    digits,
    flag,
    moment,
    nonempty_text,
    read_fields,
)
from reconciler.model import (
    SUBJECT_ID,
    Action,
    Change,
    Desired,
    DesiredSubAccount,
    RecordedSubAccount,
    Status,
    iso,
    parse_sub_account_address,
    sub_account_address,
)
from reconciler.names import identity, look_alikes, mixed_scripts
from reconciler.resources.base import Diff, DiffContext, LiveValue, ResourceKind, Row
from reconciler.resources.minimax_money import (
    details,
    spend_of,
    status_reason,
    wanted_status,
    warn_recent_spend,
)
from reconciler.suggest import command

if TYPE_CHECKING:
    from reconciler.execution import ApplyContext
    from reconciler.state.document import StateDocument


def _status(value: Any) -> Status:
    if isinstance(value, str) and value in {status.value for status in Status}:
        return Status(value)
    raise Unexpected(" or ".join(f'"{status.value}"' for status in Status))


def _subject_id(value: Any) -> str:
    """A subject_id as MiniMax gives them (the one rule in ``model.SUBJECT_ID``)."""
    if isinstance(value, str) and SUBJECT_ID.fullmatch(value):
        return value
    raise Unexpected('a string of digits (1 to 20, no leading zero), like "1766027179931476045"')


def _name(value: Any) -> str:
    """A recorded name in its identity form (NFC), whatever form an older version wrote."""
    return identity(nonempty_text(value))


_FIELDS: tuple[Field, ...] = (
    ("alias", nonempty_text, REQUIRED),
    ("name", _name, REQUIRED),
    ("group_id", digits, REQUIRED),
    ("subject_id", _subject_id, NULLABLE),
    ("status", _status, NULLABLE),
    ("token_generation", count, 0),
    ("token_issued_at", moment, NULLABLE),
    ("token_fingerprint", nonempty_text, NULLABLE),
    ("prevent_destroy", flag, False),
    ("pending", flag, False),
    ("created_at", moment, NULLABLE),
    ("rotating_since", moment, NULLABLE),
)


def read_sub_account(data: Mapping[str, Any]) -> RecordedSubAccount:
    """A recorded sub-account, strictly; ``InvalidRecord`` names every wrong field."""
    return RecordedSubAccount(**read_fields(data, _FIELDS))


class MinimaxSubAccounts(ResourceKind[DesiredSubAccount, RecordedSubAccount, LiveValue]):
    type_name = "minimax_sub_account"
    label = "sub_account"
    noun = "sub-account"
    address_pattern = 'minimax.ALIAS.sub_account["NAME"]'
    record_class = RecordedSubAccount

    def canonical(self, address: str) -> str | None:
        parsed = parse_sub_account_address(address)
        return sub_account_address(*parsed) if parsed else None

    def wanted(self, config: Desired) -> dict[str, DesiredSubAccount]:
        return config.sub_accounts()

    def read_record(self, data: Mapping[str, Any]) -> RecordedSubAccount:
        return read_sub_account(data)

    def conflicts(self, recorded: Mapping[str, RecordedSubAccount]) -> list[str]:
        """One account per subject_id: two records of one id (a hand edit, a merge) would let
        removing either from the config delete the account the other one names."""
        return [
            f"{', '.join(addresses)}: recorded with the same subject_id {subject_id}; keep one "
            f"(`{command('state', 'rm', addresses[-1])}` forgets the other)"
            for subject_id, addresses in _by_subject_id(recorded).items()
            if len(addresses) > 1
        ]

    def credentials(self, config: Desired) -> list[str]:
        return [group.api_key_env for group in config.minimax.values()]

    def spenders(self, recorded: Mapping[str, RecordedSubAccount]) -> dict[tuple[str, str], str]:
        """Bills name a sub-account by its name (``name@group_id``) in its group's section."""
        return {(f"minimax.{r.alias}", r.name): address for address, r in recorded.items()}

    def notes(self, config: Desired) -> list[str]:
        """Names a reviewer could misread: mixed scripts, and look-alikes within a group."""
        notes = []
        for alias, group in config.minimax.items():
            names = [account.name for account in group.sub_accounts]
            for name in names:
                scripts = mixed_scripts(name)
                if scripts:
                    notes.append(
                        f"{sub_account_address(alias, name)}: the name mixes "
                        f"{' and '.join(s.title() for s in scripts)} letters, which look alike; "
                        f"it is written {_escaped(name)}"
                    )
            for first, other in look_alikes(names):
                notes.append(
                    f"minimax.{alias}: {_escaped(first)} and {_escaped(other)} are different names "
                    "that read the same; rename one"
                )
        return notes

    def diff(
        self,
        address: str,
        wanted: DesiredSubAccount | None,
        recorded: RecordedSubAccount | None,
        live: LiveValue | None,
        context: DiffContext,
    ) -> Diff:
        diff = Diff()
        if wanted is None:
            assert recorded is not None, "the planner diffs addresses that exist somewhere"
            _gone(recorded, context, diff)
        elif recorded is None:
            diff.changes.append(_create(wanted, "new in config"))
        else:
            _compare(wanted, recorded, context, diff)
        return diff

    def guarded_group(self, address: str) -> str | None:
        parsed = parse_sub_account_address(address)
        return f"minimax.{parsed[0]}" if parsed else None

    def takes_down(self, change: Change) -> bool:
        """A delete, or an update that disables: both stop whoever uses the account."""
        disables = (change.after or {}).get("status") == Status.DISABLED.value
        return change.action is Action.DELETE or (change.action is Action.UPDATE and disables)

    def rows(self, change: Change) -> list[Row]:
        if change.action is not Action.ROTATE:
            rows = super().rows(change)
        else:
            before, after = change.before or {}, change.after or {}
            generation = f"{before.get('token_generation')} -> {after.get('token_generation')}"
            rows = [
                Row("token", "(sensitive value) -> (known after apply)"),
                Row("token_generation", generation),
            ]
        figures = change.details or {}
        rows.extend(Row(name, str(figures[name]), False) for name in _FIGURES if name in figures)
        return rows

    def produces_secrets(self, change: Change) -> bool:
        return change.action in (Action.CREATE, Action.ROTATE)

    def holds_secrets(self, record: RecordedSubAccount) -> bool:
        """A token was issued to it by reconciler (an imported account's is unknown)."""
        return record.token_fingerprint is not None and not record.pending

    def secret_doubt(self, record: RecordedSubAccount) -> str | None:
        """A rotation sent and never answered: MiniMax may have revoked the stored token."""
        if record.rotating_since is None:
            return None
        return (
            f"a rotation of this token was sent at {iso(record.rotating_since)} and its "
            "answer never came: MiniMax may have revoked this token already. The next "
            "apply issues a new one"
        )

    def before(self, change: Change, context: ApplyContext) -> RecordedSubAccount | None:
        from reconciler.resources.minimax_actions import pending_record

        return pending_record(change, context) if change.action is Action.CREATE else None

    def execute(self, change: Change, context: ApplyContext) -> str:
        from reconciler.resources.minimax_actions import execute

        return execute(change, context)

    def adopt(
        self, config: Desired, state: StateDocument, address: str, ident: str
    ) -> RecordedSubAccount:
        from reconciler.resources.minimax_import import adopt

        return adopt(self, config, state, address, ident)


_FIGURES = ("month_spend", "budget", "last_30_days")  # details shown beside a change


def _by_subject_id(recorded: Mapping[str, RecordedSubAccount]) -> dict[str, list[str]]:
    """Addresses by the subject_id they record (pending creates have none)."""
    addresses: dict[str, list[str]] = {}
    for address, record in recorded.items():
        if record.subject_id:
            addresses.setdefault(record.subject_id, []).append(address)
    return addresses


def _create(account: DesiredSubAccount, reason: str) -> Change:
    attributes = {
        "name": account.name,
        "status": account.status.value,
        "token_generation": account.token_generation,
        "prevent_destroy": account.prevent_destroy,
    }
    return Change(account.address, Action.CREATE, None, attributes, reason)


def _compare(
    account: DesiredSubAccount, record: RecordedSubAccount, context: DiffContext, diff: Diff
) -> None:
    group_id = context.config.minimax[account.alias].group_id
    if record.group_id != group_id:
        diff.errors.append(
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
        diff.changes.append(_create(account, reason))
        return
    spend = spend_of(account.alias, account.name, context)
    shown = details(account, spend)
    _update(account, record, spend, shown, diff)
    _rotation(account, record, context.now, diff, shown)


def _update(
    account: DesiredSubAccount,
    record: RecordedSubAccount,
    spend: Spend | None,
    shown: dict[str, Any] | None,
    diff: Diff,
) -> None:
    """The status (as the config and the budget want it) and the protection."""
    status, why = wanted_status(account, record, spend, diff)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    reasons = []
    if record.status != status:
        before["status"] = record.status.value if record.status else None
        after["status"] = status.value
        reasons.append(why or status_reason(account, record, status, spend))
        if status is Status.DISABLED and why is None:
            warn_recent_spend(account.address, spend, "disabling", diff)
    if record.prevent_destroy != account.prevent_destroy:
        before["prevent_destroy"], after["prevent_destroy"] = (
            record.prevent_destroy,
            account.prevent_destroy,
        )
        reasons.append(
            f"prevent_destroy {_text(record.prevent_destroy)} -> {_text(account.prevent_destroy)}"
        )
    if after:
        reason = ", ".join(reasons)
        diff.changes.append(
            Change(account.address, Action.UPDATE, before, after, reason, details=shown)
        )


def _rotation(
    account: DesiredSubAccount,
    record: RecordedSubAccount,
    now: datetime,
    diff: Diff,
    shown: dict[str, Any] | None,
) -> None:
    reason = None
    if record.rotating_since is not None:
        reason = (
            f"the rotation sent at {iso(record.rotating_since)} never finished: the stored "
            "token may be revoked"
        )
    elif account.token_generation > record.token_generation:
        reason = f"generation {record.token_generation} -> {account.token_generation}"
    elif account.token_generation < record.token_generation:
        diff.warnings.append(
            f"{account.address}: token_generation {account.token_generation} is lower than the applied "
            f"{record.token_generation}; a token cannot be un-rotated, so nothing is done"
        )
    issued = record.token_issued_at
    if reason is None and account.rotate_every and issued and now - issued >= account.rotate_every:
        reason = f"token older than {account.rotate_every_text} (issued {issued:%Y-%m-%d})"
    if reason is None and account.rotate_every and issued is None and record.subject_id:
        # Imported: the token's age is unknown. Rotating unasked would break a live token.
        diff.warnings.append(
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
    diff.changes.append(
        Change(account.address, Action.ROTATE, before, after, reason, details=shown)
    )


def _gone(record: RecordedSubAccount, context: DiffContext, diff: Diff) -> None:
    address, config = record.address, context.config
    forget = command("state", "rm", address)
    if record.prevent_destroy:
        diff.errors.append(
            (
                address,
                "removed from config, but prevent_destroy was set when it was last applied. "
                "To delete it, first apply it with prevent_destroy: false; to stop managing it "
                f"without deleting it, run `{forget}`",
            )
        )
        return
    group = config.minimax.get(record.alias)
    if group is None:
        diff.errors.append(
            (
                address,
                f"its group minimax.{record.alias} is gone from the config, so it cannot be "
                "deleted (no API key or base_url). Keep the group with an empty sub_accounts list "
                f"to delete its accounts, or run `{forget}` to forget it",
            )
        )
        return
    if group.group_id != record.group_id:
        # The delete would go to the configured group with the other group's subject_id.
        diff.errors.append(
            (
                address,
                f"removed from config, but it was created in group {record.group_id} and "
                f"minimax.{record.alias} is now group {group.group_id}, so it cannot be deleted "
                f"from here. Restore group_id, or run `{forget}` to forget it",
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
    spend = spend_of(record.alias, record.name, context)
    if not record.pending:
        warn_recent_spend(address, spend, "deleting", diff)
    shown = details(None, spend, gone=True)
    diff.changes.append(Change(address, Action.DELETE, before, None, reason, details=shown))


def _escaped(name: str) -> str:
    """A name with every non-ASCII character as its code point, so look-alikes differ."""
    return json.dumps(name)


def _text(value: Any) -> str:
    """A value inside a reason: ``(unknown)`` for an imported account's status."""
    if value is None:
        return "(unknown)"
    return str(value).lower() if isinstance(value, bool) else str(value)
