"""A command's working set: config, state backend, secrets and provider access, no printing.

The CLI (and the demo) open a ``Workspace`` from ``-c`` paths and an environment mapping;
it knows where the state and the secrets store live, resolves credentials naming every
missing variable at once, runs the refresh stage before planning, and decides whether a
saved plan still applies (state, config and live values unchanged). Keeping this out of
the CLI leaves the commands as parse, call, render, exit code.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.config import DEFAULT_CONFIG, load_config, resolve_env
from reconciler.differences import changed_attributes
from reconciler.errors import PlanError
from reconciler.fsutil import load_json, version_problem
from reconciler.model import Change, Desired, Plan, SecretsSettings, StateSettings
from reconciler.planner import make_plan
from reconciler.refresh import Live, check_access, live_from_json, refresh
from reconciler.render import FORMAT_VERSION, plan_to_dict
from reconciler.resources import required_env
from reconciler.schema import plan_document_problem
from reconciler.secrets import SecretStore, load_key
from reconciler.state import LocalBackend, StateBackend, StateDocument

if TYPE_CHECKING:
    from reconciler.applier import Receipt


@dataclass
class Workspace:
    desired: Desired | None
    environ: Mapping[str, str]
    state_settings: StateSettings = field(default_factory=StateSettings)
    secrets_settings: SecretsSettings = field(default_factory=SecretsSettings)

    @classmethod
    def open(
        cls, config_paths: Sequence[str], environ: Mapping[str, str], *, optional: bool = False
    ) -> Workspace:
        """Load the config; with ``optional``, run on defaults when none is given or present."""
        if optional and not config_paths and not Path(DEFAULT_CONFIG).is_file():
            return cls(None, environ)
        desired = load_config(config_paths)
        return cls(desired, environ, desired.state, desired.secrets)

    @property
    def config(self) -> Desired:
        assert self.desired is not None, "commands that plan always load a config"
        return self.desired

    @cached_property
    def backend(self) -> StateBackend:
        """One backend per command: the state and the sealed secrets share its journal."""
        return LocalBackend(self.state_settings.path)

    def credentials(self) -> dict[str, str]:
        return resolve_env(required_env(self.config), self.environ)

    def secret_store(self) -> SecretStore | None:
        """The encrypted store when a key is set; None when there is no key."""
        key = load_key(self.secrets_settings.key_env, self.environ)
        return None if key is None else self._open_store(key)

    def secret_index(self) -> SecretStore:
        """The store for listing and pruning, which needs no key (checked when there is one)."""
        return self._open_store(load_key(self.secrets_settings.key_env, self.environ))

    def _open_store(self, key: bytes | None) -> SecretStore:
        # The sealed secrets follow the state backend (beside the state file for local).
        return SecretStore(
            self.backend.sealed_secrets(), key, key_env=self.secrets_settings.key_env
        )

    def check_writable(self) -> None:
        """Before any provider call: the state and the secrets store can both be written."""
        self.backend.check_writable()

    def plan(
        self,
        state: StateDocument,
        now: datetime,
        targets: Sequence[str],
        refresh: bool,
        *,
        checks: bool = True,
    ) -> Plan:
        """Refresh (unless told not to), then plan against the state's records.

        Without ``checks`` the refresh reads live values only; ``apply`` runs the access
        checks beside its first changes instead (``execute``), or alone when nothing changes.
        """
        records = state.records()
        live = self.refresh(state, now, values_only=not checks) if refresh else Live()
        return make_plan(
            self.config,
            records,
            now,
            live=live,
            targets=targets,
            lineage=state.lineage,
            serial=state.serial,
        )

    def refresh(self, state: StateDocument, now: datetime, *, values_only: bool = False) -> Live:
        """Read live provider state; ``values_only`` skips kinds that have no live values
        (MiniMax's access check), as ``apply FILE`` needs only the values to compare."""
        from reconciler.providers.pool import ProviderPool

        pool = ProviderPool(self.config, self.credentials())
        try:
            return refresh(self.config, state.records(), pool, now, values_only=values_only)
        finally:
            pool.close()

    def check_access(self, state: StateDocument, now: datetime) -> None:
        """The access checks alone (an ``apply`` that has nothing to change)."""
        from reconciler.providers.pool import ProviderPool

        pool = ProviderPool(self.config, self.credentials())
        try:
            check_access(self.config, state.records(), pool, now)
        finally:
            pool.close()

    def execute(
        self,
        plan: Plan,
        state: StateDocument,
        store: SecretStore | None,
        credentials: dict[str, str],
        now: Callable[[], datetime],
        report: Callable[[str], None],
        parallelism: int,
        *,
        checks: bool = False,
    ) -> Receipt:
        """Run the applier with providers for this config; the caller holds the lock.

        With ``checks`` the access checks run beside the first changes, on the same
        connections (which they warm up).
        """
        from reconciler.applier import apply_plan
        from reconciler.execution import ApplyContext, Recorder
        from reconciler.providers.pool import ProviderPool

        providers = ProviderPool(self.config, credentials, connections=parallelism)
        recorder = Recorder(self.backend, state, store)
        context = ApplyContext(
            self.config, recorder, providers, self.secrets_settings.command, now, report
        )
        records = state.records()

        def check() -> None:
            check_access(self.config, records, providers, now())

        try:
            with recorder:
                receipt = apply_plan(plan, context, parallelism, check if checks else None)
        finally:
            providers.close()
        for problem in recorder.problems:
            report(
                f"Warning: {problem}. Every change is kept in its journal beside it; the "
                "next command reads it, and the next apply folds it in."
            )
        return receipt


def save_plan(plan: Plan, path: str) -> None:
    text = json.dumps(plan_to_dict(plan), indent=2, ensure_ascii=False) + "\n"
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise PlanError(f"cannot write the plan to {path}: {exc.strerror or exc}") from None


def load_saved_plan(path: str) -> Plan:
    """Read a plan saved with ``--out``; a file that is not one is a clear error."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise PlanError(f"cannot read plan file {path}: {exc.strerror or exc}") from None
    made_by = "a saved plan is the JSON file `reconciler plan --out FILE` writes"
    data: Any = load_json(raw, path, PlanError, made_by)
    if not isinstance(data, dict) or "format_version" not in data:
        raise PlanError(f"{path} is not a saved reconciler plan: {made_by}")
    version = version_problem(data["format_version"], FORMAT_VERSION, "format_version")
    if version:
        raise PlanError(f"{path}: {version}")
    problem = plan_document_problem(data)
    if problem:
        raise PlanError(f"{path} is not a valid saved plan: {problem}")
    try:
        plan = Plan(
            changes=tuple(Change.from_dict(c) for c in data["changes"]),
            warnings=tuple(data.get("warnings", [])),
            lineage=data["state"]["lineage"],
            serial=int(data["state"]["serial"]),
            config_digest=data["config_digest"],
            created_at=data.get("created_at", ""),
            live=data["live"],
            refreshed=data["refreshed"],
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise PlanError(f"{path} is not a valid saved plan ({exc})") from None
    live_from_json(plan.live, plan.refreshed, path)  # every live value reads back
    return plan


def accept_saved_plan(
    plan: Plan,
    state: StateDocument,
    desired: Desired,
    path: str,
    read_live: Callable[[], Live],
) -> None:
    """A saved plan applies only to the state, config and live values it was computed against.

    ``read_live`` refreshes the kinds that can be read; it is called only for a plan made
    with a refresh, and only once state and config are known to match (no provider call
    for a plan that is stale anyway). A state that does not exist yet takes the lineage of
    the plan made against it, so the first apply of a saved plan works and a second one is
    refused as stale.
    """
    if state.serial == 0 and plan.serial == 0 and plan.lineage:
        state.lineage = plan.lineage
    reasons = []
    if plan.lineage != state.lineage:
        reasons.append(
            f"the state's lineage is {state.lineage}, the plan was made for {plan.lineage}"
        )
    elif plan.serial != state.serial:
        reasons.append(
            f"the state moved from serial {plan.serial} to {state.serial} since the plan was made"
        )
    if plan.config_digest != desired.digest:
        reasons.append("the config changed since the plan was made")
    if not reasons and plan.refreshed:
        reasons.extend(_moved(plan.live, read_live().to_json()))
    if reasons:
        raise PlanError(f"the saved plan {path} is stale: {'; '.join(reasons)}. Run plan again.")
    _refuse_foreign_changes(plan, state, desired, path)


def _refuse_foreign_changes(plan: Plan, state: StateDocument, desired: Desired, path: str) -> None:
    """Apply only what this config and state produce: a saved plan is a file anyone can edit.

    The planner is pure, so planning again at the saved plan's time must give every change
    it holds (a ``--target`` plan holds fewer). An edited delete of a protected account, or
    an ``after`` the config never asked for, is refused before any provider call.
    """
    try:
        made_at = datetime.fromisoformat(plan.created_at.replace("Z", "+00:00"))
    except ValueError:
        made_at = None
    if made_at is None or made_at.tzinfo is None:
        raise PlanError(f"the saved plan {path} has no valid created_at time. Run plan again.")
    live = live_from_json(plan.live, plan.refreshed, path)
    fresh = make_plan(
        desired, state.records(), made_at, live=live, lineage=state.lineage, serial=state.serial
    )
    expected = {_identity(change) for change in fresh.changes}
    foreign = [change for change in plan.changes if _identity(change) not in expected]
    if foreign:
        listed = ", ".join(f"{c.action.value} {c.address}" for c in foreign)
        raise PlanError(
            f"the saved plan {path} holds changes that this config and state do not produce "
            f"({listed}): it was edited, or made by another version. Run plan again."
        )


def _moved(saved: dict[str, dict[str, Any]], now: dict[str, dict[str, Any]]) -> list[str]:
    """How the live values moved since the plan read them, address by address."""
    moved = []
    for address in sorted(set(saved) | set(now)):
        before, after = saved.get(address), now.get(address)
        if before is None:
            moved.append(f"{address} was not read when the plan was made")
        elif after is None:
            moved.append(f"{address} is no longer read")
        elif before != after:
            what = "; ".join(changed_attributes(before, after))
            moved.append(f"the live value of {address} moved since the plan was made ({what})")
    return moved


def _identity(change: Change) -> str:
    return json.dumps(
        [change.address, change.action.value, change.before, change.after], sort_keys=True
    )
