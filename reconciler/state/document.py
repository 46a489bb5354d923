"""The state document: lineage, serial and recorded resources by address.

Pure data and its JSON form. ``lineage`` (a UUID fixed at creation) and ``serial`` (raised
on every write) let a saved plan prove it was computed against this exact state. The
document never holds a secret: resources carry fingerprints and timestamps only.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from reconciler.errors import StateError
from reconciler.model import RecordedSubAccount, parse_sub_account_address

STATE_VERSION = 1


@dataclass
class StateDocument:
    lineage: str = field(default_factory=lambda: str(uuid.uuid4()))
    serial: int = 0
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    version: int = STATE_VERSION

    def sub_accounts(self) -> dict[str, RecordedSubAccount]:
        """Recorded MiniMax sub-accounts by address."""
        return {
            address: RecordedSubAccount.from_dict(data)
            for address, data in self.resources.items()
            if data.get("type") == "minimax_sub_account"
        }

    def put(self, record: RecordedSubAccount) -> None:
        self.resources[record.address] = record.to_dict()

    def remove(self, address: str) -> None:
        self.resources.pop(address, None)

    def to_json(self) -> bytes:
        body = {
            "version": self.version,
            "lineage": self.lineage,
            "serial": self.serial,
            "resources": dict(sorted(self.resources.items())),
        }
        return (json.dumps(body, indent=2, ensure_ascii=False) + "\n").encode()

    @classmethod
    def from_json(cls, text: bytes, where: str) -> StateDocument:
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise StateError(f"{where}: not valid JSON ({exc}); restore it from a backup") from None
        problems = _problems(data)
        if problems:
            raise StateError(f"{where}: not a reconciler state file: " + "; ".join(problems))
        return cls(data["lineage"], data["serial"], data["resources"], data["version"])


def _problems(data: Any) -> list[str]:
    if not isinstance(data, dict):
        return ["the top level is not an object"]
    problems = []
    if data.get("version") != STATE_VERSION:
        problems.append(f"version {data.get('version')!r} is not {STATE_VERSION}")
    if not isinstance(data.get("lineage"), str):
        problems.append("lineage is missing")
    if not isinstance(data.get("serial"), int):
        problems.append("serial is missing")
    resources = data.get("resources")
    if not isinstance(resources, dict):
        return [*problems, "resources is missing"]
    for address, resource in resources.items():
        problems.extend(_resource_problems(address, resource))
    return problems


def _resource_problems(address: str, resource: Any) -> list[str]:
    if not isinstance(resource, dict) or resource.get("type") != "minimax_sub_account":
        return [f"{address}: unknown resource type"]
    if parse_sub_account_address(address) is None:
        return [f"{address}: not a sub-account address"]
    try:
        record = RecordedSubAccount.from_dict(resource)
    except (KeyError, ValueError, TypeError) as exc:
        return [f"{address}: malformed record ({exc})"]
    return [] if record.address == address else [f"{address}: record names {record.address}"]
