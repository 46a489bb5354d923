"""``import``: adopt an existing sub-account into the state by its ``subject_id``.

MiniMax cannot be read, so an import records only what the user vouches for: the
address (which must be in the config), the id, and an *unknown* status, which the next
plan turns into an explicit status update. It is also the way out when a create's answer
was lost and MiniMax refuses to create the name again.
"""

from __future__ import annotations

from reconciler.errors import PlanError
from reconciler.model import Desired, RecordedSubAccount, parse_sub_account_address
from reconciler.secrets import SecretStore
from reconciler.state import StateDocument
from reconciler.suggest import command


def import_sub_account(
    desired: Desired, state: StateDocument, address: str, subject_id: str
) -> RecordedSubAccount:
    """Record ``address`` as the existing account ``subject_id``; refuse anything ambiguous."""
    if parse_sub_account_address(address) is None:
        raise PlanError(
            f'{address} is not a sub-account address; expected minimax.ALIAS.sub_account["NAME"]'
        )
    account = desired.sub_accounts().get(address)
    if account is None:
        raise PlanError(f"{address} is not in the config: declare it there first, then import it")
    if not (subject_id.isascii() and subject_id.isdigit()):  # not '²³' or Arabic-Indic digits
        raise PlanError(f"{subject_id!r} is not a MiniMax subject_id (a number from the console)")
    recorded = state.sub_accounts()
    for other in recorded.values():
        if other.subject_id == subject_id and other.address != address:
            raise PlanError(f"subject_id {subject_id} is already recorded as {other.address}")
    existing = recorded.get(address)
    if existing is not None and not existing.pending:
        raise PlanError(f"{address} is already managed (subject_id {existing.subject_id})")
    record = RecordedSubAccount(
        alias=account.alias,
        name=account.name,
        group_id=desired.minimax[account.alias].group_id,
        subject_id=subject_id,
        status=None,
        token_generation=account.token_generation,
        prevent_destroy=account.prevent_destroy,
        created_at=existing.created_at if existing else None,
    )
    state.put(record)
    return record


def sealed_for_others(store: SecretStore, address: str, subject_id: str, drop: bool) -> bool:
    """Whether the store holds secrets at ``address`` for another account, to drop after import.

    They were sealed by a create whose answer was lost, so their subject_id is most likely
    the account's real one: importing another id by mistake must not destroy the only copy
    of its token. ``drop`` is the user saying that account is gone.
    """
    others = sorted(store.subjects(address) - {subject_id})
    if not others or drop:
        return bool(others)
    named = [other for other in others if other]
    hint = (
        f"that is most likely this account's id: `{command('import', address, named[0])}`. "
        if len(named) == 1
        else ""
    )
    raise PlanError(
        f"the secrets store holds a token for {address} sealed for subject_id "
        f"{', '.join(named) or '(unrecorded)'}, not {subject_id}: {hint}If that account no longer "
        "exists, import again with --forget-sealed-secrets to drop its secrets."
    )
