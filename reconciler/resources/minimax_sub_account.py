"""The MiniMax sub-account: ``minimax.ALIAS.sub_account["NAME"]``.

MiniMax offers no read of sub-accounts, so the state is their only record: the diff joins
the config with the recorded state alone. A desired account without a record is a
``create``; a pair yields at most an ``update`` (status, prevent_destroy) and a ``rotate``
(generation raised, token too old); a record without a desired account is a ``delete``,
unless ``prevent_destroy`` was recorded: then planning fails, because removing the YAML
block must never be enough to destroy a protected account. The refresh is an access check
(a one-day bills query per group), so a wrong key fails the pull request, not the merge.
What each action does at the provider is in ``minimax_actions``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from reconciler.errors import PlanError
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
from reconciler.resources.base import Diff, DiffContext, LiveValue, ResourceKind, Row
from reconciler.suggest import command

if TYPE_CHECKING:
    from reconciler.execution import ApplyContext
    from reconciler.providers.pool import ProviderPool
    from reconciler.state.document import StateDocument


def _status(value: Any) -> Status:
    if isinstance(value, str) and value in {status.value for status in Status}:
        return Status(value)
    raise Unexpected(" or ".join(f'"{status.value}"' for status in Status))


_FIELDS: tuple[Field, ...] = (
    ("alias", nonempty_text, REQUIRED),
    ("name", nonempty_text, REQUIRED),
    ("group_id", digits, REQUIRED),
    ("subject_id", digits, NULLABLE),
    ("status", _status, NULLABLE),
    ("token_generation", count, 0),
    ("token_issued_at", moment, NULLABLE),
    ("token_fingerprint", nonempty_text, NULLABLE),
    ("prevent_destroy", flag, False),
    ("pending", flag, False),
    ("created_at", moment, NULLABLE),
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

    def credentials(self, config: Desired) -> list[str]:
        return [group.api_key_env for group in config.minimax.values()]

    def refresh(
        self,
        config: Desired,
        recorded: Mapping[str, RecordedSubAccount],
        providers: ProviderPool,
        now: datetime,
    ) -> dict[str, LiveValue]:
        """No read exists: a one-day bills query per group with something to manage proves
        the key, the group and the region (an empty group costs no call)."""
        from reconciler.providers.minimax import MINIMAX

        recorded_aliases = {record.alias for record in recorded.values()}
        today = now.date()
        for alias, group in config.minimax.items():
            if group.sub_accounts or alias in recorded_aliases:
                providers.get(MINIMAX, alias).bills(today, today)
        return {}

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
            _gone(recorded, context.config, diff)
        elif recorded is None:
            diff.changes.append(_create(wanted, "new in config"))
        else:
            group_id = context.config.minimax[wanted.alias].group_id
            _compare(wanted, recorded, group_id, context.now, diff)
        return diff

    def rows(self, change: Change) -> list[Row]:
        if change.action is not Action.ROTATE:
            return super().rows(change)
        before, after = change.before or {}, change.after or {}
        generation = f"{before.get('token_generation')} -> {after.get('token_generation')}"
        return [
            Row("token", "(sensitive value) -> (known after apply)"),
            Row("token_generation", generation),
        ]

    def produces_secrets(self, change: Change) -> bool:
        return change.action in (Action.CREATE, Action.ROTATE)

    def before(self, change: Change, context: ApplyContext) -> RecordedSubAccount | None:
        from reconciler.resources.minimax_actions import pending_record

        return pending_record(change, context) if change.action is Action.CREATE else None

    def execute(self, change: Change, context: ApplyContext) -> str:
        from reconciler.resources.minimax_actions import execute

        return execute(change, context)

    def adopt(
        self, config: Desired, state: StateDocument, address: str, ident: str
    ) -> RecordedSubAccount:
        """Record ``address`` as the existing account ``ident``; refuse anything ambiguous.

        MiniMax cannot be read, so an import records only what the user vouches for: the
        address (which must be in the config), the id, and an *unknown* status, which the
        next plan turns into an explicit status update.
        """
        account = config.sub_accounts().get(address)
        if account is None:
            raise PlanError(
                f"{address} is not in the config: declare it there first, then import it"
            )
        if not (ident.isascii() and ident.isdigit()):  # not '²³' or Arabic-Indic digits
            raise PlanError(f"{ident!r} is not a MiniMax subject_id (a number from the console)")
        recorded = state.records_of(self)
        for other in recorded.values():
            if other.subject_id == ident and other.address != address:
                raise PlanError(f"subject_id {ident} is already recorded as {other.address}")
        existing = recorded.get(address)
        if existing is not None and not existing.pending:
            raise PlanError(f"{address} is already managed (subject_id {existing.subject_id})")
        record = RecordedSubAccount(
            alias=account.alias,
            name=account.name,
            group_id=config.minimax[account.alias].group_id,
            subject_id=ident,
            status=None,
            token_generation=account.token_generation,
            prevent_destroy=account.prevent_destroy,
            created_at=existing.created_at if existing else None,
        )
        state.put(record)
        return record


def _create(account: DesiredSubAccount, reason: str) -> Change:
    attributes = {
        "name": account.name,
        "status": account.status.value,
        "token_generation": account.token_generation,
        "prevent_destroy": account.prevent_destroy,
    }
    return Change(account.address, Action.CREATE, None, attributes, reason)


def _compare(
    account: DesiredSubAccount,
    record: RecordedSubAccount,
    group_id: str,
    now: datetime,
    diff: Diff,
) -> None:
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
        diff.changes.append(Change(account.address, Action.UPDATE, before, after, reason))
    _rotation(account, record, now, diff)


def _rotation(
    account: DesiredSubAccount, record: RecordedSubAccount, now: datetime, diff: Diff
) -> None:
    reason = None
    if account.token_generation > record.token_generation:
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
    diff.changes.append(Change(account.address, Action.ROTATE, before, after, reason))


def _gone(record: RecordedSubAccount, config: Desired, diff: Diff) -> None:
    address = record.address
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
    diff.changes.append(Change(address, Action.DELETE, before, None, reason))


def _text(value: Any) -> str:
    """A value inside a reason: ``(unknown)`` for an imported account's status."""
    if value is None:
        return "(unknown)"
    return str(value).lower() if isinstance(value, bool) else str(value)
