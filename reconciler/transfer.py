"""``state pull`` / ``state push``: a backend's state and sealed secrets as one JSON document.

As in Terraform, this is how a state moves between backends (a team going from the local
file to PostgreSQL, and back) and how it is backed up. The document holds both documents
exactly as the backend keeps them, header fields included, the secrets still sealed (no
key is needed, nothing is decrypted):

    {"reconciler_state": 1, "state": {version, lineage, serial, resources},
     "secrets": {version, key_check, serial, secrets} | null}

Pushing checks the document as reading a state would (every record read by its kind),
then refuses what would lose work, unless ``--force``: a target holding another lineage,
a newer serial, the same serial with other content, or sealed secrets with no state; and
secrets sealed with another key than the one in the environment. The lineage and serial are kept, so a pull after a
push gives the same document back; a forced push over the same lineage goes one serial
past the target's instead, so no saved plan made against the state it replaced applies.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from reconciler.errors import SecretsError, StateError
from reconciler.fsutil import load_json
from reconciler.state.backend import Snapshot, StateBackend
from reconciler.state.document import STATE_LAYOUT, StateDocument
from reconciler.state.journaled import Layout, snapshot_bytes
from reconciler.state.sealed import SECRETS_LAYOUT, well_formed

TRANSFER_VERSION = 1
_MARK = "reconciler_state"


@dataclass(frozen=True)
class Transfer:
    """A pulled document: the state and the sealed secrets as JSON data."""

    state: dict[str, Any]
    secrets: dict[str, Any] | None

    def to_json(self) -> bytes:
        """Header first, then each document one entry per line (as the snapshots are)."""
        parts = [f'  "{_MARK}": {TRANSFER_VERSION}']
        for name, data, layout in (
            ("state", self.state, STATE_LAYOUT),
            ("secrets", self.secrets, SECRETS_LAYOUT),
        ):
            body = "null" if data is None else _nested(_snapshot(data, layout), layout)
            parts.append(f'  "{name}": {body}')
        return ("{\n" + ",\n".join(parts) + "\n}\n").encode()


def pull(backend: StateBackend) -> Transfer:
    """What ``backend`` holds (call it under a shared lock); ``StateError`` when nothing."""
    state = backend.state_store().read()
    if state is None:
        raise StateError(f"there is no state in {backend.describe()}: nothing to pull")
    return Transfer(state, backend.sealed_secrets().read())


def parse(raw: bytes, where: str) -> Transfer:
    """A pulled document, checked as reading the state would; errors name ``where``."""
    data = load_json(raw, where, StateError)
    if not isinstance(data, dict) or data.get(_MARK) != TRANSFER_VERSION:
        raise StateError(
            f"{where} is not a document made by `reconciler state pull` (it starts with "
            f'"{_MARK}": {TRANSFER_VERSION}); to move a local state, pull it from its '
            "backend first"
        )
    state: dict[str, Any] = data.get("state")  # type: ignore[assignment]  # checked next
    StateDocument.from_data(state, f"{where}: state")
    secrets = data.get("secrets")
    if secrets is not None:
        SECRETS_LAYOUT.check(secrets, f"{where}: secrets")
        for address, fields in secrets["secrets"].items():
            if not well_formed(fields):
                raise SecretsError(f"{where}: secrets: the entry for {address} is malformed")
    return Transfer(state, secrets)


def refusal(
    pushed: Transfer,
    target: Transfer | None,
    where: str,
    key_check: str | None,
    secrets_alone: dict[str, Any] | None = None,
    key_env: str = "the environment",
) -> str | None:
    """Why pushing ``pushed`` over ``target`` would lose work, if it would (``--force``).

    ``secrets_alone`` is a sealed-secrets document the target holds without a state: its
    tokens may be the only copy there is.
    """
    key_problem = _key_refusal(pushed, key_check, key_env) or _pairing_refusal(pushed)
    if target is None:
        held = (secrets_alone or {}).get("secrets") or {}
        if held and pushed.secrets != secrets_alone:
            return (
                f"{where} holds no state but sealed secrets of {len(held)} address(es), "
                "which pushing would replace"
            )
        return key_problem
    ours, theirs = pushed.state, target.state
    if ours["lineage"] != theirs["lineage"]:
        return (
            f"{where} holds another state (lineage {theirs['lineage']}, serial "
            f"{theirs['serial']}; the file's is {ours['lineage']}): pushing would replace it"
        )
    if theirs["serial"] > ours["serial"]:
        return (
            f"{where} is at serial {theirs['serial']}, newer than the file's {ours['serial']}: "
            "pushing would undo what was recorded since. Pull it again"
        )
    if theirs["serial"] == ours["serial"] and target != pushed:
        return (
            f"{where} is at the file's serial {ours['serial']} but holds something else: one of "
            "them was changed by hand"
        )
    return key_problem


def _pairing_refusal(pushed: Transfer) -> str | None:
    """The file's secrets must be its state's: a store names the lineage it was sealed for."""
    sealed_for = (pushed.secrets or {}).get("lineage")
    lineage = pushed.state["lineage"]
    if sealed_for is None or sealed_for == lineage:
        return None
    return (
        f"the file's secrets were sealed for another state (lineage {sealed_for}; its state's "
        f"is {lineage}): the plan would refuse them after the push"
    )


def _key_refusal(pushed: Transfer, key_check: str | None, key_env: str) -> str | None:
    sealed = (pushed.secrets or {}).get("key_check")
    if key_check is None or sealed is None or hmac.compare_digest(sealed, key_check):
        return None
    return (
        f"the file's secrets are sealed with another key (key check {sealed}) than the one in "
        f"{key_env} (key check {key_check})"
    )


def push(backend: StateBackend, pushed: Transfer, target: Transfer | None) -> int:
    """Write ``pushed`` into ``backend`` (under its exclusive lock); the serial written.

    The sealed secrets go first: a push cut short then leaves the old state beside
    secrets it does not name, never records whose secrets are gone.
    """
    state = dict(pushed.state)
    same_lineage = target is not None and target.state["lineage"] == state["lineage"]
    if same_lineage and target is not None and target.state["serial"] >= state["serial"]:
        state["serial"] = target.state["serial"] + 1  # forced: past every saved plan
    if pushed.secrets is not None:
        backend.sealed_secrets().write(_snapshot(pushed.secrets, SECRETS_LAYOUT))
    backend.state_store().write(_snapshot(state, STATE_LAYOUT))
    serial: int = state["serial"]
    return serial


def _snapshot(data: dict[str, Any], layout: Layout) -> Snapshot:
    fields = {k: v for k, v in data.items() if k not in ("serial", layout.entries)}
    return Snapshot(fields, data["serial"], data[layout.entries])


def _nested(snapshot: Snapshot, layout: Layout) -> str:
    """A snapshot's text indented one level, to sit inside the transfer document."""
    return snapshot_bytes(snapshot, layout).decode().rstrip("\n").replace("\n", "\n  ")
