"""What a state carries from one run to the next: its secrets store and its owner.

A state whose secrets store went missing (a CI job that restored only the state) or was
replaced (another state's store, one sealed under another key) reads, to a plan, like a
state whose tokens were never kept; a state applied from two config directories reads,
to each, like a state full of accounts to delete. So the state records in its header the
key check of the store its secrets are sealed in (``secrets_key_check``: secrets exist)
and the workspace of the config that applies it, and the store records the lineage of
its state. Before planning (``check_store``, ``check_owner``), a missing or replaced
store, or a state another config applies whose resources this config would delete, is
refused, naming what would be lost, unless the user accepts it (``Acceptance``). Before
an apply's first change, ``claim`` records both. Only header fields of the two documents
every backend keeps are involved, so every backend gets this by storing them.

A workspace is the place of the config relative to the state's directory (``..`` for a
``reconciler.yaml`` beside ``state/``, ``../team-a`` for ``-c team-a/``): the same on every
machine and checkout, and different for two config directories sharing one state.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reconciler.errors import SecretsError, StateError
from reconciler.model import Desired
from reconciler.resources import KINDS, kind_of_record
from reconciler.secrets import SecretStore
from reconciler.state import StateDocument

_SHOWN = 10  # addresses named in a message; the rest are counted


@dataclass(frozen=True)
class Acceptance:
    """What the user accepts knowingly (``--accept-lost-secrets``, ``--adopt-state``)."""

    lost_secrets: bool = False
    adopt_state: bool = False


def workspace_of(config_files: Sequence[str], state_path: str) -> str:
    """Where the config's files are, relative to the state's directory (POSIX form).

    The directory is the one the state is named in: a symlinked state file is not
    followed, since checkouts at different places may link to one shared state."""
    directories = [os.path.dirname(os.path.realpath(file)) for file in config_files]
    anchor = os.path.realpath(os.path.dirname(os.path.abspath(state_path)))
    return Path(os.path.relpath(os.path.commonpath(directories), anchor)).as_posix()


def check_store(
    state: StateDocument, store: SecretStore, accept: Acceptance = Acceptance()
) -> list[str]:
    """Refuse a store that is missing or not this state's, when secrets would be lost."""
    problem = _store_problem(state, store)
    if problem is None:
        return []
    held = sorted(
        address
        for address, record in state.records().items()
        if kind_of_record(record).holds_secrets(record)
    )
    if not held:
        return [f"{problem}; no recorded account holds a token, so nothing is lost"]
    lost = f"the tokens and passwords of {len(held)} account(s) would be lost: {_named(held)}"
    if accept.lost_secrets:
        return [f"{problem}; {lost} (accepted with --accept-lost-secrets: apply starts anew)"]
    raise SecretsError(
        f"{problem}, so {lost}. Restore {store.storage.describe()} (a CI job must restore it "
        "with the state), or, if those secrets are gone for good, run again with "
        "--accept-lost-secrets. Nothing was changed."
    )


def _store_problem(state: StateDocument, store: SecretStore) -> str | None:
    recorded = state.secrets_key_check
    if recorded is None:
        return None  # no secret was ever sealed for this state (or it predates the mark)
    named = _store_named(store.storage.describe())
    if not store.found:
        return (
            f"the state records secrets sealed for it (key check {recorded}), but {named} "
            "is missing"
        )
    if store.key_check != recorded:
        return (
            f"{named} is not the one this state's secrets were sealed in: its key check is "
            f"{store.key_check or 'missing'}, the state records {recorded}"
        )
    if store.lineage is not None and store.lineage != state.lineage:
        return (
            f"{named} belongs to another state (lineage {store.lineage}; this state's is "
            f"{state.lineage})"
        )
    return None


def check_owner(
    state: StateDocument,
    workspace: str,
    config: Desired,
    where: str,
    accept: Acceptance = Acceptance(),
) -> list[str]:
    """Refuse a state another config applies when this config would delete what it holds."""
    owner = state.workspace
    if owner is None or owner == workspace:
        return []
    wanted = {address for kind in KINDS for address in kind.wanted(config)}
    dropped = sorted(address for address in state.resources if address not in wanted)
    other = f"the config at {owner} (from the state's directory)"
    if not dropped:
        return [
            f"the state {where} was last applied by {other}; the next apply records this "
            f"config, at {workspace}, as the one that applies it"
        ]
    lost = f"{len(dropped)} of its resources, which this config would delete: {_named(dropped)}"
    if accept.adopt_state:
        return [f"the state {where} was applied by {other}; adopted with --adopt-state ({lost})"]
    raise StateError(
        f"the state {where} is applied by another config: {other}, while this config is at "
        f"{workspace}. This config does not have {lost}. If another config applies this "
        "state, give this one its own state.path; if this config replaces that one (it was "
        "moved or renamed), run again with --adopt-state. Nothing was changed."
    )


def claim(
    state: StateDocument, store: SecretStore | None, workspace: str | None, produces: bool
) -> bool:
    """Before an apply's first change: the store bound to the state (and saved once, so it
    exists), the state marking its secrets and its owner. True when the state changed and
    must be written (the store is saved here)."""
    sealed = state.secrets_key_check
    if store is not None and store.key is not None and (produces or store.holds_any or sealed):
        if store.bind(state.lineage) or store.key_check is None:
            store.save()
        sealed = store.key_check
    owner = workspace or state.workspace
    changed = (state.workspace, state.secrets_key_check) != (owner, sealed)
    state.workspace, state.secrets_key_check = owner, sealed
    return changed


def _store_named(where: str) -> str:
    """``the secrets store PATH`` for a file; a database's own description names it so."""
    return where if where.startswith("the secrets store") else f"the secrets store {where}"


def _named(addresses: list[str]) -> str:
    shown = ", ".join(addresses[:_SHOWN])
    more = len(addresses) - _SHOWN
    return f"{shown} and {more} more" if more > 0 else shown
