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
from reconciler.discovery import default_config
from reconciler.errors import PlanError, SecretsError
from reconciler.model import Action, ConfigFile, Desired, Plan, SecretsSettings, StateSettings
from reconciler.planner import check_plan_targets, make_plan
from reconciler.refresh import Live, refresh
from reconciler.resources import kind_of, required_env
from reconciler.saved_plan import relative_files
from reconciler.secrets import SecretStore, load_key
from reconciler.state import StateBackend, StateDocument

if TYPE_CHECKING:
    from reconciler.applier import Receipt


@dataclass
class Workspace:
    desired: Desired | None
    environ: Mapping[str, str]
    state_settings: StateSettings = field(default_factory=StateSettings)
    secrets_settings: SecretsSettings = field(default_factory=SecretsSettings)
    directory: str | None = None  # where relative config paths start; None: here

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

    def credentials(self) -> dict[str, str]:
        """Every variable the config needs: the kinds' and the money reads' (bills, credits)."""
        from reconciler.billing.read import money_credentials

        names = [*required_env(self.config), *money_credentials(self.config)]
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
    ) -> Plan:
        """Refresh (unless told not to), then plan against the state's records.

        The plan also warns about what would surprise its apply: a state file that does
        not exist (every account would be created), and changes that receive secrets with
        no key or ``secrets.command`` to keep them.
        """
        records = state.records()
        check_plan_targets(self.config, records, targets)  # before any provider call
        live = self.refresh(state, now) if refresh else Live()
        made = make_plan(
            self.config,
            records,
            now,
            live=live,
            targets=targets,
            lineage=state.lineage,
            serial=state.serial,
        )
        warnings = [*self._state_warnings(made), *made.warnings, *self._secrets_warnings(made)]
        return replace(made, warnings=tuple(warnings), config_files=self.config_files())

    def config_files(self) -> tuple[ConfigFile, ...]:
        """The config's files with their digests, relative to where this command runs."""
        return relative_files(self.config, self.directory)

    def _state_warnings(self, plan: Plan) -> list[str]:
        missing = self.backend.missing_state()
        if missing is None:
            return []
        where, advice = missing
        creates = plan.summary()[Action.CREATE.value]
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
                self._open_store(key)
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

    def refresh(self, state: StateDocument, now: datetime, *, values_only: bool = False) -> Live:
        """Read live provider state and money; ``values_only`` reads only the kinds that have
        live values (no money, no bills), as ``apply FILE`` needs only the values to compare."""
        from reconciler.providers.pool import ProviderPool

        pool = ProviderPool(self.config, self.credentials())
        try:
            return refresh(self.config, state.records(), pool, now, values_only=values_only)
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
    ) -> Receipt:
        """Run the applier with providers for this config; the caller holds the lock."""
        from reconciler.applier import apply_plan
        from reconciler.execution import ApplyContext, Recorder
        from reconciler.providers.pool import ProviderPool

        providers = ProviderPool(self.config, credentials, connections=parallelism)
        recorder = Recorder(self.backend, state, store)
        context = ApplyContext(
            self.config, recorder, providers, self.secrets_settings.command, now, report
        )
        try:
            with recorder:
                receipt = apply_plan(plan, context, parallelism)
        finally:
            providers.close()
        for problem in recorder.problems:
            report(
                f"Warning: {problem}. Every change is kept in its journal beside it; the "
                "next command reads it, and the next apply folds it in."
            )
        return receipt
