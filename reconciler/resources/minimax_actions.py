"""What each planned action on a MiniMax sub-account does, in a crash-safe order.

Each function raises a ``ReconcilerError`` with a message for a person when its change
fails, after recording whatever did happen. The order inside a create is chosen so that a
crash at any point can be recovered from: the pending record is written before the call;
the secrets are sealed into the store before the state learns the ``subject_id``; the
state is written before the user's secrets command runs, and the command runs before a
disable that may fail (a failing step never loses the account or its secrets).
"""

from __future__ import annotations

import dataclasses

from reconciler.errors import PlanError, ProviderError, ReconcilerError, SecretsError, StateError
from reconciler.execution import ApplyContext
from reconciler.model import (
    Action,
    Change,
    RecordedSubAccount,
    Status,
    iso,
)
from reconciler.providers.minimax import MINIMAX, MinimaxProvider
from reconciler.resources.base import show_value
from reconciler.secrets import fingerprint
from reconciler.secrets_command import NewSecret, run_secrets_command
from reconciler.suggest import command

_INVALID_PARAMS = 2013  # MiniMax's code for bad parameters, a duplicate name, an unknown id


def execute(change: Change, context: ApplyContext) -> str:
    """Carry out one change; returns a short note for the receipt."""
    handlers = {
        Action.CREATE: _create,
        Action.UPDATE: _update,
        Action.ROTATE: _rotate,
        Action.DELETE: _delete,
    }
    return handlers[change.action](change, context)


def pending_record(change: Change, context: ApplyContext) -> RecordedSubAccount | None:
    """What a create records before its call (None when the config no longer wants it)."""
    return _pending(change, context, _record(context, change.address))


def _pending(
    change: Change, context: ApplyContext, prior: RecordedSubAccount | None
) -> RecordedSubAccount | None:
    account = context.desired.sub_accounts().get(change.address)
    if account is None:
        return None
    return RecordedSubAccount(
        alias=account.alias,
        name=account.name,
        group_id=context.desired.minimax[account.alias].group_id,
        subject_id=None,
        token_generation=account.token_generation,
        prevent_destroy=account.prevent_destroy,
        pending=True,
        created_at=prior.created_at if prior else None,
    )


def _create(change: Change, context: ApplyContext) -> str:
    account = context.desired.sub_accounts().get(change.address)
    prior = _record(context, change.address)
    pending = _pending(change, context, prior)
    if account is None or pending is None:
        raise PlanError(f"{change.address} is not in the config any more; plan again")
    context.recorder.record(pending)  # before the call: a lost answer is seen next run
    try:
        created = _provider(context, account.alias).create(account.name)
    except ProviderError as exc:
        was_pending = prior is not None and prior.pending
        raise _create_failed(change.address, exc, was_pending, context) from None
    issued = context.now()
    secret = NewSecret(
        change.address,
        created.account,
        created.subject_id,
        created.token,
        iso(issued),
        created.password or None,
    )
    record = dataclasses.replace(
        pending,
        subject_id=created.subject_id,
        pending=False,
        token_issued_at=issued,
        token_fingerprint=fingerprint(created.token),
        created_at=issued,
    )
    # The id is in this message only: enough to `import` the account.
    problems = _hand_over(
        secret, record, context, f"import it with subject_id {created.subject_id}"
    )
    note = f"subject_id {created.subject_id}"
    if account.status is Status.DISABLED:
        problem = _disable_created(record, context)
        if problem:
            problems.append(problem)
        else:
            note += ", disabled"
    if problems:
        raise ReconcilerError(f"created ({note}), but " + "; and ".join(problems))
    return note


def _disable_created(record: RecordedSubAccount, context: ApplyContext) -> str | None:
    """MiniMax creates accounts enabled; a disabled one is switched off right after."""
    assert record.subject_id is not None, "called with the record of a created account"
    if context.recorder.failure is not None:
        return (
            "it was not disabled: no provider call goes out once a change could not be "
            "recorded; the next plan shows the update"
        )
    try:
        _provider(context, record.alias).set_status(record.subject_id, Status.DISABLED)
    except ProviderError as exc:
        return f"disabling it failed: {exc}; the next plan shows the update"
    context.recorder.record(dataclasses.replace(record, status=Status.DISABLED))
    return None


def _hand_over(
    secret: NewSecret, record: RecordedSubAccount, context: ApplyContext, if_unrecorded: str
) -> list[str]:
    """Secrets to the store, the record to the state, then secrets to the command.

    ``if_unrecorded`` tells the user what to do when the state cannot be written.

    This order survives a crash at any point (sealed secrets of a still-pending record are
    found again after ``import``), and nothing that can fail here, neither the store nor
    the user's command, can keep the ``subject_id`` out of the state. Returns problems.
    """
    fields = {"token": secret.token, **({"password": secret.password} if secret.password else {})}
    problems = []
    sealed = context.recorder.store is not None
    try:
        unsealed = context.recorder.seal_and_record(
            record, fields, secret.issued_at, secret.subject_id
        )
    except StateError as exc:
        sealed = False  # recorded after the secrets: neither is known to be on disk
        problems.append(f"the state could not be written ({exc}); {if_unrecorded}")
    else:
        if unsealed:
            sealed = False
            problems.append(f"the secrets could not be stored ({unsealed})")
    sent = False
    if context.secrets_command:
        try:
            run_secrets_command(context.secrets_command, secret, _withheld_env(context))
            sent = True
        except SecretsError as exc:
            problems.append(str(exc))
    if problems:
        if sealed:
            problems.append(
                f"the secrets are in the encrypted store (`{command('secrets', 'show', secret.address)}`)"
            )
        elif not sent:
            lost = "token and password are" if secret.password else "token is"
            problems.append(f"the new {lost} lost: raise token_generation to issue a new token")
    return problems


# The default variable names of the store key and the provider credentials, withheld even
# when this config does not name them: CI jobs export them for the other configs they run.
_WELL_KNOWN_CREDENTIALS = (
    "RECONCILER_SECRET_KEY",
    "MINIMAX_API_KEY",
    "XAI_MANAGEMENT_KEY",
    "USEAPI_TOKEN",
    "RECONCILER_PG_DSN",
)


def _withheld_env(context: ApplyContext) -> list[str]:
    """The secrets command must not inherit the encryption key or any provider credential."""
    desired = context.desired
    return [
        *_WELL_KNOWN_CREDENTIALS,
        desired.secrets.key_env,
        desired.state.dsn_env,
        *(group.api_key_env for group in desired.minimax.values()),
        *(team.management_key_env for team in desired.xai.values()),
        *(account.token_env for account in desired.useapi.values()),
    ]


def _create_failed(
    address: str, exc: ProviderError, was_pending: bool, context: ApplyContext
) -> ReconcilerError:
    """Keep or drop the pending record, and say what the user can do."""
    if (was_pending or exc.answer_lost) and exc.code == _INVALID_PARAMS:
        return ReconcilerError(
            f"{exc}\n    An earlier create of this account was sent but its answer was lost, and MiniMax "
            f"now refuses the name: the account most likely exists, but its subject_id is unknown. "
            f"{_where_to_find_the_id(address, context)}"
        )
    if exc.answer_lost or was_pending:
        return ReconcilerError(
            f"{exc}\n    The answer was lost: the account may exist. It stays recorded as pending, and "
            "the next apply sends the create again (MiniMax refuses a duplicate name, so no twin can arise)."
        )
    context.recorder.forget(address)
    hint = ""
    if exc.code == _INVALID_PARAMS:
        hint = (
            "\n    If an account with this name already exists in MiniMax, adopt it with "
            f"`{command('import', address, 'SUBJECT_ID')}`."
        )
    return ReconcilerError(f"{exc}{hint}")


def _where_to_find_the_id(address: str, context: ApplyContext) -> str:
    """An interrupted run may have sealed the account's secrets, and its id with them."""
    sealed = _sealed_subjects(address, context)
    if len(sealed) == 1:
        return (
            f"The secrets store holds its token, sealed for subject_id {sealed[0]}: run "
            f"`{command('import', address, sealed[0])}`."
        )
    return (
        f"Find its id in the MiniMax console, run `{command('import', address, 'SUBJECT_ID')}`, "
        "then raise its token_generation to issue a token you can keep."
    )


def _update(change: Change, context: ApplyContext) -> str:
    record = _recorded(change, context)
    after = change.after or {}
    if "status" in after:
        if not record.subject_id:
            raise PlanError(f"{change.address} has no subject_id in state; import it first")
        status = Status(after["status"])
        _provider(context, record.alias).set_status(record.subject_id, status)
        record = dataclasses.replace(record, status=status)
    if "prevent_destroy" in after:
        record = dataclasses.replace(record, prevent_destroy=bool(after["prevent_destroy"]))
    context.recorder.record(record)
    return ", ".join(f"{k} = {show_value(v)}" for k, v in after.items())  # as plans show it


def _rotate(change: Change, context: ApplyContext) -> str:
    record = _recorded(change, context)
    if not record.subject_id:
        raise PlanError(f"{change.address} has no subject_id in state; import it first")
    # The intent first: once sent, the old token may be revoked whatever becomes of us.
    context.recorder.record(dataclasses.replace(record, rotating_since=context.now()))
    try:
        token = _provider(context, record.alias).rotate_token(record.subject_id)
    except ProviderError as exc:
        if exc.answer_lost:
            raise ReconcilerError(
                f"{exc}\n    The new token's answer was lost; the old token may no longer work "
                "(`secrets show` says so). The next apply issues another one."
            ) from None
        context.recorder.record(record)  # refused: the old token stands
        raise
    issued = context.now()
    generation = int((change.after or {}).get("token_generation", record.token_generation))
    rotated = dataclasses.replace(
        record,
        token_generation=generation,
        token_issued_at=issued,
        token_fingerprint=fingerprint(token),
        rotating_since=None,
    )
    account = f"{record.name}@{record.group_id}"
    secret = NewSecret(change.address, account, record.subject_id, token, iso(issued))
    # The state keeps the old generation, so the next apply issues another token.
    problems = _hand_over(secret, rotated, context, "the next apply rotates the token again")
    if problems:
        raise ReconcilerError("rotated, but " + "; and ".join(problems))
    return f"generation {generation}"


def _delete(change: Change, context: ApplyContext) -> str:
    record = _record(context, change.address)
    if record is None:
        return "already gone from state"
    _refuse_protected_delete(record, context)
    if not record.subject_id:
        context.recorder.forget(change.address)
        return "forgotten (was pending)" + _sealed_note(change.address, context)
    note = f"subject_id {record.subject_id}"
    try:
        _provider(context, record.alias).delete(record.subject_id)
    except ProviderError as exc:
        if not (exc.answer_lost and exc.code == _INVALID_PARAMS):
            raise ReconcilerError(
                f"{exc}\n    If the account no longer exists in MiniMax, stop tracking it: "
                f"{command('state', 'rm', change.address)}"
            ) from None
        note += "; an earlier attempt's answer was lost and MiniMax no longer knows the id"
    context.recorder.forget(change.address, deleted=record.subject_id)
    return note


def _refuse_protected_delete(record: RecordedSubAccount, context: ApplyContext) -> None:
    """The planner never deletes these; a hand-edited saved plan must not either."""
    if record.prevent_destroy:
        raise PlanError(
            f"{record.address} has prevent_destroy set: refusing to delete it (the plan was not "
            "made by this config and state)"
        )
    if record.address in context.desired.sub_accounts():
        raise PlanError(
            f"{record.address} is still in the config: refusing to delete it (the plan was not "
            "made by this config and state)"
        )
    others = [
        other.address
        for other in context.recorder.state.records().values()
        if isinstance(other, RecordedSubAccount)
        and other.subject_id == record.subject_id
        and other.address != record.address
        and record.subject_id
    ]
    if others:
        raise PlanError(
            f"{record.address}: subject_id {record.subject_id} is also recorded as "
            f"{', '.join(others)}: refusing to delete an account two records name"
        )


def _sealed_subjects(address: str, context: ApplyContext) -> list[str]:
    """The subject_ids the store holds secrets for at ``address`` (none without a key)."""
    store = context.recorder.store
    return sorted(store.subjects(address) - {""}) if store is not None else []


def _sealed_note(address: str, context: ApplyContext) -> str:
    sealed = _sealed_subjects(address, context)
    if not sealed:
        return ""
    return (
        f"; its create may have succeeded as subject_id {', '.join(sealed)} (secrets sealed in the "
        "store and kept): delete that account in the MiniMax console if it exists"
    )


def _recorded(change: Change, context: ApplyContext) -> RecordedSubAccount:
    record = _record(context, change.address)
    if record is None:
        raise PlanError(f"{change.address} is no longer in state; plan again")
    return record


def _record(context: ApplyContext, address: str) -> RecordedSubAccount | None:
    record = context.recorder.recorded(address)
    assert record is None or isinstance(record, RecordedSubAccount), "a sub-account address"
    return record


def _provider(context: ApplyContext, alias: str) -> MinimaxProvider:
    return context.providers.get(MINIMAX, alias)
