"""The state document: lineage, serial, what it carries on, and resources by address.

Pure data and its JSON form. ``lineage`` (a UUID fixed at creation) and ``serial`` (raised
on every write) let a saved plan prove it was computed against this exact state.
``workspace`` names the config that applies it and ``secrets_key_check`` says secrets
were sealed for it, in a store with that key check (``continuity.py`` holds a run to
both). The document never holds a secret: resources carry fingerprints and timestamps
only. Each resource names its ``type``; the kind registered for that type reads it back
strictly.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from reconciler.errors import StateError
from reconciler.fields import InvalidRecord
from reconciler.fsutil import load_json, version_problem
from reconciler.resources import KINDS, AnyKind, kind_of_type, read_record
from reconciler.resources.base import Record
from reconciler.state.backend import Snapshot
from reconciler.state.journaled import Layout, snapshot_bytes
from reconciler.state.sealed import KEY_CHECK

STATE_VERSION = 1


@dataclass
class StateDocument:
    lineage: str = field(default_factory=lambda: str(uuid.uuid4()))
    serial: int = 0
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    version: int = STATE_VERSION
    workspace: str | None = None  # who applies it: the config's place (continuity.py)
    secrets_key_check: str | None = None  # secrets were sealed for it, under this key

    def records(self) -> dict[str, Record]:
        """Every recorded resource by address, each read by its kind."""
        return {address: read_record(data) for address, data in self.resources.items()}

    def records_of(self, kind: AnyKind) -> dict[str, Any]:
        """The recorded resources of one kind by address."""
        return {
            address: kind.read_record(data)
            for address, data in self.resources.items()
            if data.get("type") == kind.type_name
        }

    def record(self, address: str) -> Record | None:
        data = self.resources.get(address)
        return read_record(data) if data else None

    def put(self, record: Record) -> None:
        self.resources[record.address] = record.to_dict()

    def remove(self, address: str) -> None:
        self.resources.pop(address, None)

    def snapshot(self) -> Snapshot:
        """The whole document as it stands (records are replaced, never changed in place,
        so a shallow copy of the mapping is a consistent one)."""
        fields: dict[str, Any] = {"version": self.version, "lineage": self.lineage}
        for name in _CARRIED:
            if getattr(self, name) is not None:
                fields[name] = getattr(self, name)
        return Snapshot(fields, self.serial, dict(self.resources))

    def to_json(self) -> bytes:
        return snapshot_bytes(self.snapshot(), STATE_LAYOUT)

    @classmethod
    def from_json(cls, text: bytes, where: str) -> StateDocument:
        """Read a state file's bytes; ``StateError`` names the file and everything wrong."""
        data = load_json(text, where, StateError, STATE_LAYOUT.advice)
        check_document(data, where)
        return cls.from_data(data, where)

    @classmethod
    def from_data(cls, data: dict[str, Any], where: str) -> StateDocument:
        """A checked document's data (journal replayed) whose every record its kind reads."""
        check_document(data, where)
        resources, problems = _read_resources(data["resources"])
        carried = {name: data.get(name) for name in _CARRIED}
        document = cls(data["lineage"], data["serial"], resources, data["version"], **carried)
        if not problems:
            problems = [p for kind in KINDS for p in kind.conflicts(document.records_of(kind))]
        if problems:
            raise StateError(
                f"{where}: {_listed(problems)}. Correct it by hand, or restore it from a backup."
            )
        return document


def check_document(data: Any, where: str) -> None:
    """Refuse what is no state document at all, before a journal is replayed onto it."""
    problems = _document_problems(data)
    if problems:
        raise StateError(f"{where}: not a reconciler state file: " + _listed(problems))


STATE_LAYOUT = Layout(
    doc="state",
    entries="resources",
    identity="lineage",
    version=STATE_VERSION,
    noun="state",
    error=StateError,
    check=check_document,
    advice="restore it from a backup",
)


def _document_problems(data: Any) -> list[str]:
    """What makes ``data`` no state document at all (its records are checked apart)."""
    if not isinstance(data, dict):
        return ["the top level is not an object"]
    problems = []
    version = version_problem(data.get("version"), STATE_VERSION)
    if version:
        problems.append(version)
    lineage = data.get("lineage")
    if lineage is None:
        problems.append("lineage is missing")
    elif not isinstance(lineage, str) or not lineage or not lineage.isprintable():
        problems.append(
            f"lineage is {json.dumps(lineage)[:40]} (expected printable text, like a UUID)"
        )
    serial = data.get("serial")
    if serial is None:
        problems.append("serial is missing")
    elif type(serial) is not int or serial < 0:  # type(): true is an int to isinstance
        problems.append(f"serial is {json.dumps(serial)[:40]} (expected a whole number, 0 or more)")
    resources = data.get("resources")
    if resources is None:
        problems.append("resources is missing")
    elif not isinstance(resources, dict):
        problems.append("resources is not an object of resources by address")
    workspace = data.get("workspace")
    if workspace is not None and not (isinstance(workspace, str) and 0 < len(workspace) <= 4096):
        problems.append(f"workspace is {json.dumps(workspace)[:40]} (expected a path)")
    check = data.get("secrets_key_check")
    if check is not None and not (isinstance(check, str) and KEY_CHECK.fullmatch(check)):
        problems.append(f"secrets_key_check is {json.dumps(check)[:40]} (expected 16 hex digits)")
    return problems


_CARRIED = ("workspace", "secrets_key_check")  # optional header fields, in file order


def _read_resources(raw: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Resources keyed by canonical address (an older NFD spelling of a name is re-keyed);
    the problems of every record that does not read back."""
    resources: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    for address, resource in raw.items():
        canonical, found = _resource_problems(address, resource)
        if canonical in resources:
            found.append(f"{address}: recorded twice (also as {canonical})")
        problems.extend(found)
        resources[canonical or address] = resource
    return resources, problems


def _resource_problems(address: str, resource: Any) -> tuple[str | None, list[str]]:
    """The canonical address of one record, and what is wrong with it."""
    kind = kind_of_type(resource.get("type")) if isinstance(resource, dict) else None
    if kind is None:
        return None, [f"{address}: unknown resource type"]
    canonical = kind.canonical(address)
    if canonical is None:
        return None, [f"{address}: not a {kind.noun} address (expected {kind.address_pattern})"]
    try:
        record = kind.read_record(resource)
    except InvalidRecord as exc:
        return canonical, [f"{address}: malformed record: {problem}" for problem in exc.problems]
    if record.address != canonical:
        return canonical, [f"{address}: record names {record.address}"]
    return canonical, []


def _listed(problems: list[str], most: int = 10) -> str:
    """Problems joined for one message; a file broken everywhere says how many it left out."""
    shown = "; ".join(problems[:most])
    return shown if len(problems) <= most else f"{shown}; and {len(problems) - most} more"
