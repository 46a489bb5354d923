"""The sealed-secrets document as the state backend keeps it: header, checks, layout.

The secrets store (``reconciler.secrets``) seals and opens values; where they are kept
follows the state backend. For the local backend that is ``reconciler.secrets.json``
beside the state, its changes lines of the state's journal; this module says what that
document looks like (``version``, ``key_check``, ``lineage`` of the state it belongs to,
``serial``, ``secrets`` by address and field) and refuses one that is not it, naming the
file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from reconciler.errors import SecretsError
from reconciler.fsutil import version_problem
from reconciler.state.journaled import Layout

STORE_VERSION = 1  # what ``save`` writes
KEY_CHECK = re.compile(r"[0-9a-f]{16}")  # as ``secrets._check_of`` makes it


def secrets_path(state_path: str | Path) -> Path:
    """The store lives beside the state: ``state/reconciler.json`` -> ``state/reconciler.secrets.json``."""
    path = Path(state_path)
    return path.with_name(f"{path.stem}.secrets.json")


def sealed_fields(key_check: str | None, lineage: str | None = None) -> dict[str, Any]:
    """The store's header: a store never sealed with a key has no key check, one never
    bound to a state (written before they were) no lineage."""
    fields: dict[str, Any] = {"version": STORE_VERSION}
    if key_check:
        fields["key_check"] = key_check
    if lineage:
        fields["lineage"] = lineage
    return fields


def _check_store(data: Any, where: str) -> None:
    """Refuse what is no secrets store, before a journal is replayed onto it."""
    entries = data.get("secrets") if isinstance(data, dict) else None
    if not isinstance(entries, dict):
        raise SecretsError(f"{where} is not a reconciler secrets store")
    version = version_problem(data.get("version"), STORE_VERSION)
    if version:
        raise SecretsError(f"{where}: {version}")
    check = data.get("key_check")
    if check is not None and not (isinstance(check, str) and KEY_CHECK.fullmatch(check)):
        raise SecretsError(f"{where}: the key check is malformed (expected 16 hex digits)")
    lineage = data.get("lineage")
    if lineage is not None and not (isinstance(lineage, str) and lineage and lineage.isprintable()):
        raise SecretsError(f"{where}: the lineage is malformed")
    serial = data.setdefault("serial", 0)  # stores written before the journal have none
    if type(serial) is not int or serial < 0:
        raise SecretsError(f"{where}: the serial is malformed")


SECRETS_LAYOUT = Layout(
    doc="secrets",
    entries="secrets",
    identity="key_check",
    version=STORE_VERSION,
    noun="the secrets store",
    error=SecretsError,
    check=_check_store,
)


def well_formed(fields: Any) -> bool:
    """An address's entry: sealed fields, each noting as text when and for whom if at all.

    The ciphertext itself is checked when it is opened (a damaged one is "cannot decrypt").
    """
    return isinstance(fields, dict) and all(
        isinstance(entry, dict)
        and all(isinstance(entry.get(note, ""), str) for note in ("issued_at", "subject_id"))
        for entry in fields.values()
    )
