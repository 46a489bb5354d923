"""The data that flows between stages: desired config, recorded resources, changes, plans.

Small frozen dataclasses and nothing else: no I/O, no provider knowledge. ``config``
produces ``Desired``; the state backend yields records (each resource kind in
``reconciler.resources`` reads its own); the planner turns desired, recorded and live
values into a ``Plan`` of ``Change`` values; the renderer and applier consume it.
Sub-account addresses (``minimax.cn-main.sub_account["ci-bot"]``) are built and parsed here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Any

from reconciler.names import identity

if TYPE_CHECKING:
    from reconciler.billing.report import MoneyReport

DEFAULT_STATE_PATH = "state/reconciler.json"
DEFAULT_KEY_ENV = "RECONCILER_SECRET_KEY"
DEFAULT_DSN_ENV = "RECONCILER_PG_DSN"
DEFAULT_MINIMAX_URL = "https://api.minimax.chat"
DEFAULT_XAI_URL = "https://management-api.x.ai"
DEFAULT_USEAPI_URL = "https://api.useapi.net"

# A MiniMax subject_id: a 64-bit number (``1766027179931476045``), at most 20 digits, no
# leading zero. The one rule for the state reader, a create answer and ``import``.
SUBJECT_ID = re.compile(r"[1-9][0-9]{0,19}")

_SUB_ACCOUNT_ADDRESS = re.compile(r'^minimax\.([a-z0-9][a-z0-9_-]*)\.sub_account\[(".*")\]$')


@cache
def sub_account_address(alias: str, name: str) -> str:
    """The stable address of a MiniMax sub-account; the name is JSON-quoted.

    Cached: planning and applying ask for the same addresses many times each.
    """
    return f"minimax.{alias}.sub_account[{json.dumps(name, ensure_ascii=False)}]"


def parse_sub_account_address(address: str) -> tuple[str, str] | None:
    """``(alias, name)`` of a sub-account address, or None when it is not one.

    The name comes back in its identity form (NFC): ``café`` typed either way is one name.
    """
    match = _SUB_ACCOUNT_ADDRESS.match(address)
    if not match:
        return None
    try:
        name = json.loads(match.group(2))
    except json.JSONDecodeError:
        return None
    return (match.group(1), identity(name)) if isinstance(name, str) else None


class Status(StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    ROTATE = "rotate"
    DELETE = "delete"
    FORGET = "forget"  # stop managing: the record leaves the state, nothing is called


@dataclass(frozen=True)
class Budget:
    monthly_cash: Decimal
    on_exceed: str = "disable"


@dataclass(frozen=True)
class DesiredSubAccount:
    """One ``sub_accounts`` entry as the user wants it."""

    alias: str
    name: str
    status: Status = Status.ENABLED
    token_generation: int = 0
    rotate_every: timedelta | None = None
    rotate_every_text: str | None = None
    prevent_destroy: bool = False
    budget: Budget | None = None

    @property
    def address(self) -> str:
        return sub_account_address(self.alias, self.name)


@dataclass(frozen=True)
class MinimaxGroup:
    alias: str
    group_id: str
    api_key_env: str
    base_url: str = DEFAULT_MINIMAX_URL
    sub_accounts: tuple[DesiredSubAccount, ...] = ()
    unmanaged: str = "warn"  # what an unmanaged spender in the bills is: "warn" or "fail" (drift)


@dataclass(frozen=True)
class XaiTeam:
    alias: str
    team_id: str
    management_key_env: str
    base_url: str = DEFAULT_XAI_URL
    monthly_usd: Decimal | None = None


@dataclass(frozen=True)
class CreditCheck:
    account: str | None
    min_credits: Decimal


@dataclass(frozen=True)
class UseapiAccount:
    alias: str
    token_env: str
    base_url: str = DEFAULT_USEAPI_URL
    checks: tuple[CreditCheck, ...] = ()


@dataclass(frozen=True)
class StateSettings:
    """Where the state lives: ``local`` (``path``) or ``postgres`` (the other three)."""

    backend: str = "local"
    path: str = DEFAULT_STATE_PATH
    dsn_env: str = DEFAULT_DSN_ENV  # postgres: the env variable holding the DSN
    schema: str = "reconciler"  # postgres: the schema holding reconciler's tables
    workspace: str = "default"  # postgres: one state among several in those tables


@dataclass(frozen=True)
class SecretsSettings:
    key_env: str = DEFAULT_KEY_ENV
    command: str | None = None


@dataclass(frozen=True)
class SafetySettings:
    """The blast-radius guard: a plan taking down more than this share of a group is unsafe."""

    max_delete_percent: Decimal = Decimal(25)
    min_managed: int = 4


@dataclass(frozen=True)
class Desired:
    """The whole merged config: what the user wants, plus where it came from.

    ``file_digests`` maps each file, as it was named, to the SHA-256 of the bytes read.
    ``warnings`` are what loading noticed without refusing (YAML files left unread in a
    config directory's subdirectories); ``validate`` and ``plan`` show them.
    """

    files: tuple[str, ...] = ()
    digest: str = ""
    state: StateSettings = field(default_factory=StateSettings)
    secrets: SecretsSettings = field(default_factory=SecretsSettings)
    safety: SafetySettings = field(default_factory=SafetySettings)
    file_digests: dict[str, str] = field(default_factory=dict)
    minimax: dict[str, MinimaxGroup] = field(default_factory=dict)
    xai: dict[str, XaiTeam] = field(default_factory=dict)
    useapi: dict[str, UseapiAccount] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def sub_accounts(self) -> dict[str, DesiredSubAccount]:
        """Every desired sub-account by address (computed once: the applier asks per change)."""
        cached: dict[str, DesiredSubAccount] | None = self.__dict__.get("_by_address")
        if cached is None:
            cached = {sa.address: sa for g in self.minimax.values() for sa in g.sub_accounts}
            object.__setattr__(self, "_by_address", cached)
        return cached


@dataclass(frozen=True)
class RecordedSubAccount:
    """A sub-account as the state records it. Never holds a secret, only fingerprints.

    ``pending`` marks a create that was sent but whose answer was not (yet) seen: the
    account may exist without us knowing its ``subject_id``. ``rotating_since`` marks a
    token rotation sent then and not yet answered: the stored token may be revoked.
    """

    alias: str
    name: str
    group_id: str
    subject_id: str | None
    status: Status | None = Status.ENABLED  # None: unknown (imported; MiniMax cannot be read)
    token_generation: int = 0
    token_issued_at: datetime | None = None
    token_fingerprint: str | None = None
    prevent_destroy: bool = False
    pending: bool = False
    created_at: datetime | None = None
    rotating_since: datetime | None = None

    @property
    def address(self) -> str:
        return sub_account_address(self.alias, self.name)

    def to_dict(self) -> dict[str, Any]:
        data = {
            "type": "minimax_sub_account",
            "alias": self.alias,
            "name": self.name,
            "group_id": self.group_id,
            "subject_id": self.subject_id,
            "status": self.status.value if self.status else None,
            "token_generation": self.token_generation,
            "token_issued_at": _iso(self.token_issued_at),
            "token_fingerprint": self.token_fingerprint,
            "prevent_destroy": self.prevent_destroy,
            "pending": self.pending,
            "created_at": _iso(self.created_at),
        }
        if self.rotating_since is not None:  # only while a rotation is unanswered
            data["rotating_since"] = _iso(self.rotating_since)
        return data


@dataclass(frozen=True)
class Change:
    """One action on one address. ``reason`` is for people; it never drives apply.

    ``drift`` marks a change that brings a live value back to the config because someone
    changed it outside reconciler: it differs from ``applied``, what reconciler last set.
    ``details`` are read-only facts shown beside the change (a hard limit, say).
    """

    address: str
    action: Action
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str
    drift: bool = False
    applied: dict[str, Any] | None = None
    details: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "action": self.action.value,
            "before": self.before,
            "after": self.after,
            "reason": self.reason,
            "drift": self.drift,
            "applied": self.applied,
            "details": self.details,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Change:
        return cls(
            data["address"],
            Action(data["action"]),
            data["before"],
            data["after"],
            data["reason"],
            drift=bool(data.get("drift", False)),
            applied=data.get("applied"),
            details=data.get("details"),
        )


@dataclass(frozen=True)
class ConfigFile:
    """A config file a plan was made from: its path relative to where plan ran, its SHA-256."""

    path: str
    sha256: str


@dataclass(frozen=True)
class Plan:
    """Inert result of planning: sorted changes, warnings, and what it was computed from.

    ``live`` holds what the refresh read (by address, as JSON), so ``apply FILE`` can refuse
    a plan whose live values moved since; ``refreshed`` is False after ``--no-refresh``.
    ``config_files`` pin each config file by its digest, so ``apply FILE`` needs no ``-c``
    and names the files that changed.
    ``money`` holds the bills and credits read, and the guard rails judged (None when
    nothing was read).
    """

    changes: tuple[Change, ...] = ()
    warnings: tuple[str, ...] = ()
    lineage: str | None = None
    serial: int = 0
    config_digest: str = ""
    created_at: str = ""
    live: dict[str, dict[str, Any]] = field(default_factory=dict)
    refreshed: bool = False
    unsafe: tuple[str, ...] = ()  # why the blast-radius guard refuses it without --force
    config_files: tuple[ConfigFile, ...] = ()  # relative to where plan ran
    working_directory: str | None = None  # a saved plan's: where plan ran, from the file's dir
    money: MoneyReport | None = None

    def summary(self) -> dict[str, int]:
        counts = {action.value: 0 for action in Action}
        for change in self.changes:
            counts[change.action.value] += 1
        return counts

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    @property
    def drifted(self) -> bool:
        """Drift that no change fixes: an unmanaged spender under ``unmanaged: fail``."""
        return self.money is not None and self.money.drifted


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def iso(moment: datetime) -> str:
    """UTC timestamp as written in state and plans (``2026-08-01T09:30:00Z``)."""
    return _iso(moment) or ""
