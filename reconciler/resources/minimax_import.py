"""``import`` of a MiniMax sub-account: adopting an account that exists by its subject_id.

MiniMax cannot be read, so an import records only what the user vouches for: the
address (which must be in the config), the id, and an *unknown* status, which the next
plan turns into an explicit status update. Anything ambiguous (an id recorded at another
address, an address already managed) is refused. Called by the sub-account kind's
``adopt``; kept apart so the kind's module stays about planning.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler.echo import shown_value
from reconciler.errors import PlanError
from reconciler.model import SUBJECT_ID, Desired, RecordedSubAccount

if TYPE_CHECKING:
    from reconciler.resources.minimax_sub_account import MinimaxSubAccounts
    from reconciler.state.document import StateDocument


def adopt(
    kind: MinimaxSubAccounts, config: Desired, state: StateDocument, address: str, ident: str
) -> RecordedSubAccount:
    """Record ``address`` as the existing account ``ident``; refuse anything ambiguous."""
    account = config.sub_accounts().get(address)
    if account is None:
        raise PlanError(f"{address} is not in the config: declare it there first, then import it")
    if not SUBJECT_ID.fullmatch(ident):  # not '²³', Arabic-Indic digits, 00123 or 32 digits
        raise PlanError(
            f"{shown_value(ident)} is not a MiniMax subject_id: a whole number from the console, "
            "1 to 20 digits (0-9) with no leading zero"
        )
    recorded = state.records_of(kind)
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
