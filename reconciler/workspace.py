"""A command's working set: config, state backend, secrets and provider access, no printing.

The CLI (and the demo) open a ``Workspace`` from ``-c`` paths and an environment mapping;
it knows where the state and the secrets store live, resolves credentials naming every
missing variable at once, runs the refresh stage before planning, and decides whether a
saved plan still applies (state, config and live values unchanged). Keeping this out of
the CLI leaves the commands as parse, call, render, exit code.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING

from reconciler.config import load_config, resolve_env
from reconciler.continuity import Acceptance, check_owner, check_store, claim, workspace_of
from reconciler.discovery import default_config
from reconciler.errors import PlanError, SecretsError
from reconciler.model import Action, ConfigFile, Desired, Plan, SecretsSettings, StateSettings
from reconciler.planner import check_plan_targets, make_plan
from reconciler.refresh import Live, refresh
from reconciler.resources import kind_of, required_env
from reconciler.saved_plan import relative_files
from reconciler.secrets import SecretStore, load_key
from reconciler.state import StateBackend, StateDocument
from reconciler.targets import in_scope

if TYPE_CHECKING:
    from reconciler.applier import Receipt

# What an apply proves the disk can take before its first call: generous, since running out
# midway stops the apply (a change being recorded when the disk fills loses its answer).
_ROOM_PER_CHANGE = 4096
_ROOM_FLOOR = 64 * 1024


@dataclass
class Workspace:
    desired: Desired | None
    environ: Mapping[str, str]
    state_settings: StateSettings = field(default_factory=StateSettings)
    secrets_settings: SecretsSettings = field(default_factory=SecretsSettings)
    directory: str | None = None  # where relative config paths start; None: here
    accept: Acceptance = field(default_factory=Acceptance)  # what the user accepts losing
    _store: SecretStore | None = None  # the store as last opened (its header is read once)

    @classmethod
    def open(
        cls,
        config_paths: Sequence[str],
        environ: Mapping[str, str],
        *,
        optional: bool = False,
        default_dir: str | None = None,
    ) -> Workspace:
        """Load the config; with ``optional``, run on defaults when none is given or present.

        ``default_dir`` is where the default state lives when no file declares one (the
        current directory when None; ``apply FILE`` passes the directory plan ran in).
        """
        if optional and not config_paths and default_config(environ) is None:
            return cls(None, environ)
        desired = load_config(config_paths, environ, default_dir=default_dir)
        return cls(desired, environ, desired.state, desired.secrets, default_dir)

    @property
    def config(self) -> Desired:
        assert self.desired is not None, "commands that plan always load a config"
        return self.desired

    @cached_property
    def backend(self) -> StateBackend:
        """One backend per command (``state.backend``): the state and the sealed secrets."""
        from reconciler.state.factory import open_backend

        return open_backend(self.state_settings, self.environ)

    def refuse_to_overwrite(self, path: str) -> None:
        """``plan --out PATH`` must never write over a file reconciler keeps: the state, its
        lock or journal, the secrets store, or a config file it just read."""
        target = os.path.realpath(path)
        configs = {os.path.realpath(file) for file in (self.desired.files if self.desired else ())}
        what = "a file" if target in configs else self.backend.owns_file(target)
        if what is not None:
            raise PlanError(
                f"--out {path} would write over {what} that reconciler keeps; "
                "save the plan elsewhere (like plan.json). Nothing was planned."
            )

    def credentials(self, targets: Sequence[str] = ()) -> dict[str, str]:
        """Every variable the config needs: the kinds' and the money reads' (bills, credits);
        with ``targets``, only those of the sections they reach."""
        from reconciler.billing.read import money_credentials

        scope = in_scope(self.config, targets)
        names = [*required_env(scope), *money_credentials(scope)]
        return resolve_env(names, self.environ)

    def secret_store(self) -> SecretStore | None:
        """The encrypted store when a key is set; None when there is no key."""
        key = load_key(self.secrets_settings.key_env, self.environ)
        return None if key is None else self._open_store(key)

    def secret_index(self) -> SecretStore:
        """The store for listing and pruning, which needs no key (checked when there is one)."""
        return self._open_store(load_key(self.secrets_settings.key_env, self.environ))

    def _open_store(self, key: bytes | None) -> SecretStore:
        # The sealed secrets follow the state backend (beside the state file for local).
        self._store = SecretStore(
            self.backend.sealed_secrets(), key, key_env=self.secrets_settings.key_env
        )
        return self._store

    def workspace(self) -> str | None:
        """Who applies a local state: the config's place from the state's directory. A
        PostgreSQL state has no directory; its ``state.workspace`` names it outright."""
        if self.desired is None or self.state_settings.backend != "local":
            return None
        return workspace_of(self.desired.files, self.state_settings.path)

    def check_continuity(self, state: StateDocument) -> list[str]:
        """Before planning: refuse a missing or replaced secrets store, or a state another
        config applies, when that would lose something (unless accepted); the warnings left.
        Reads the store (no key needed) unless this command opened it already."""
        store = self._store or self._open_store(None)
        warnings = check_store(state, store, self.accept)
        workspace = self.workspace()
        if workspace is not None:
            where = self.backend.describe()
            warnings += check_owner(state, workspace, self.config, where, self.accept)
        return warnings

    def check_writable(self, plan: Plan) -> None:
        """Before any provider call: the state and the secrets store can both be written, with
        room for what ``plan`` records (a create: three journal lines of ~500 bytes)."""
        self.backend.check_writable(_ROOM_FLOOR + _ROOM_PER_CHANGE * len(plan.changes))

    def plan(
        self,
        state: StateDocument,
        now: datetime,
        targets: Sequence[str],
        refresh: bool,
    ) -> Plan:
        """Refresh (unless told not to), then plan against the state's records.

        The plan also warns about what would surprise its apply: a state file that does
        not exist (every account would be created), and changes that receive secrets with
        no key or ``secrets.command`` to keep them.
        """
        carried = self.check_continuity(state)
        records = state.records()
        check_plan_targets(self.config, records, targets)  # before any provider call
        live = self.refresh(state, now, targets=targets) if refresh else Live()
        made = make_plan(
            self.config,
            records,
            now,
            live=live,
            targets=targets,
            lineage=state.lineage,
            serial=state.serial,
        )
        warnings = [
            *carried,
            *self._state_warnings(made),
            *made.warnings,
            *self._secrets_warnings(made),
        ]
        return replace(made, warnings=tuple(warnings), config_files=self.config_files())

    def config_files(self) -> tuple[ConfigFile, ...]:
        """The config's files with their digests, relative to where this command runs."""
        return relative_files(self.config, self.directory)

    def _state_warnings(self, plan: Plan) -> list[str]:
        creates = plan.summary()[Action.CREATE.value]
        if not creates:  # nothing is created: nothing could be twinned
            return []
        missing = self.backend.missing_state()
        if missing is None:
            return []
        where, advice = missing
        return [
            f"{where}: this plan assumes nothing exists yet ({creates} to create). If "
            f"reconciler already manages these accounts, {advice}"
        ]

    def _secrets_warnings(self, plan: Plan) -> list[str]:
        """Why apply would refuse for want of a secrets key, told at plan time."""
        settings = self.secrets_settings
        try:
            key = load_key(settings.key_env, self.environ)
            if key is not None:
                store = self._store or self._open_store(None)
                store.check_key(key, settings.key_env)
        except SecretsError as exc:
            return [f"{exc}; apply will refuse to run"]
        produce = sum(1 for c in plan.changes if kind_of(c.address).produces_secrets(c))
        if key is not None or settings.command or not produce:
            return []
        return [
            f"{produce} change(s) in this plan receive passwords or tokens, but "
            f"{settings.key_env} is unset and no secrets.command is configured: apply will "
            f"refuse them. Set {settings.key_env} where apply runs (make a key once with "
            "`reconciler secrets keygen`)"
        ]

    def refresh(
        self,
        state: StateDocument,
        now: datetime,
        *,
        values_only: bool = False,
        targets: Sequence[str] = (),
    ) -> Live:
        """Read live provider state and money; ``values_only`` reads only the kinds that have
        live values (no money, no bills), as ``apply FILE`` needs only the values to compare;
        ``targets`` limit the reads to the sections they reach."""
        from reconciler.providers.pool import ProviderPool

        scope = in_scope(self.config, targets)
        pool = ProviderPool(scope, self.credentials(targets))
        try:
            return refresh(scope, state.records(), pool, now, values_only=values_only)
        finally:
            pool.close()

    def settle(self, state: StateDocument, store: SecretStore | None) -> None:
        """An apply with nothing to change still records what its checks said the next
        apply records (a new secrets store for one accepted lost, this config as the
        owner), so the next run is not refused or warned again. A state never written
        stays unwritten."""
        if state.serial > 0 and claim(state, store, self.workspace(), produces=False):
            self.backend.write(state)

    def execute(
        self,
        plan: Plan,
        state: StateDocument,
        store: SecretStore | None,
        credentials: dict[str, str],
        now: Callable[[], datetime],
        report: Callable[[str], None],
        parallelism: int,
        grace: float,
    ) -> Receipt:
        """Run the applier with providers for this config; the caller holds the lock.

        ``grace``: seconds the changes in flight get after an interrupt."""
        from reconciler.applier import apply_plan
        from reconciler.execution import ApplyContext, Recorder
        from reconciler.providers.pool import ProviderPool

        produces = any(kind_of(c.address).produces_secrets(c) for c in plan.changes)
        if claim(state, store, self.workspace(), produces):
            self.backend.write(state)  # before the first change: who applies it, its secrets
        providers = ProviderPool(self.config, credentials, connections=parallelism)
        recorder = Recorder(self.backend, state, store)
        context = ApplyContext(
            self.config, recorder, providers, self.secrets_settings.command, now, report
        )
        try:
            with recorder:
                receipt = apply_plan(plan, context, parallelism, grace)
        finally:
            providers.close()
        for problem in recorder.problems:
            report(f"Warning: {problem}.")
        return receipt
