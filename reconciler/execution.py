"""What a change needs while it executes: the recorder of state and secrets, providers, time.

The applier builds one ``ApplyContext`` per apply and hands it to each resource kind's
``execute``. ``Recorder`` records every single change before the change that depends on
it goes on, so a crash loses at most the changes in flight: parallel changes update the
state and the secrets in memory under one lock, which guards memory only, take a commit
from the backend's change log there (the order of the changes), and wait for it to be
durable outside the lock, where changes arriving together share one flush. Kept apart
from the applier so the kinds can use it without importing the applier that calls them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any

from reconciler.model import Desired
from reconciler.providers.pool import ProviderPool
from reconciler.resources.base import Record
from reconciler.secrets import SecretStore
from reconciler.state import StateBackend, StateDocument
from reconciler.state.backend import ChangeLog, Commit


class Recorder:
    """Records state and secrets changes from parallel changes; durable before returning.

    Use it as a context manager around the apply: entering starts the change logs (folding
    in what a crashed run left), leaving folds every change into the documents.
    """

    def __init__(
        self, backend: StateBackend, state: StateDocument, store: SecretStore | None
    ) -> None:
        self.backend = backend
        self.state = state
        self.store = store
        self._lock = threading.Lock()
        self._log: ChangeLog | None = None
        self.problems: list[str] = []  # what leaving could not fold (nothing is lost)

    def __enter__(self) -> Recorder:
        self._log = self.backend.change_log(self.state, self.state.snapshot)
        if self.store is not None:
            self.store.begin()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        log, self._log = self._log, None
        for problem in (
            log.close() if log is not None else None,
            self.store.end() if self.store is not None else None,
        ):
            if problem:
                self.problems.append(problem)

    def record(self, record: Record) -> None:
        with self._lock:
            self.state.put(record)
            commit = self._change(record.address, record.to_dict())
        commit.wait()

    def forget(self, address: str, *, deleted: str | None = None) -> None:
        """Drop ``address`` from the state; with ``deleted``, also that account's secrets.

        Without a confirmed delete the secrets stay: they may belong to an account that
        exists (a pending create's, sealed before its answer was lost).
        """
        sealed = None
        with self._lock:
            self.state.remove(address)
            commit = self._change(address, None)
            if self.store is not None and deleted and self.store.forget_deleted(address, deleted):
                sealed = self.store.commit()
        commit.wait()
        if sealed is not None:
            sealed.wait()

    def recorded(self, address: str) -> Record | None:
        with self._lock:
            return self.state.record(address)

    def keep_secrets(
        self, address: str, fields: dict[str, str], issued_at: str, subject_id: str
    ) -> None:
        if self.store is None:
            return
        with self._lock:
            # The provider just issued these for ``subject_id``: the address is that account's
            # now, and whatever it held for another account is stale.
            self.store.forget_if_other(address, subject_id)
            for name, value in fields.items():
                self.store.put(address, name, value, issued_at, subject_id)
            commit = self.store.commit()
        if commit is not None:
            commit.wait()

    def _change(self, address: str, value: dict[str, Any] | None) -> Commit:
        """Journal one state change (under the lock): the serial rises with each."""
        assert self._log is not None, "record changes inside `with recorder:`"
        self.state.serial += 1
        return self._log.record(self.state.serial, address, value)


@dataclass
class ApplyContext:
    """Everything the actions need; built by the workspace, injected by tests."""

    desired: Desired
    recorder: Recorder
    providers: ProviderPool
    secrets_command: str | None
    now: Callable[[], datetime]
    report: Callable[[str], None]
