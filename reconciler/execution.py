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

from reconciler.errors import ReconcilerError, SecretsError, StateError
from reconciler.model import Desired
from reconciler.providers.pool import ProviderPool
from reconciler.resources import read_record
from reconciler.resources.base import Record
from reconciler.secrets import SecretStore
from reconciler.state import StateBackend, StateDocument
from reconciler.state.backend import ChangeLog, Commit


class Recorder:
    """Records state and secrets changes from parallel changes; durable before returning.

    Use it as a context manager around the apply: entering starts the change logs (folding
    in what a crashed run left), leaving folds every change into the documents; a change
    left behind (abandoned after the grace period) can record nothing after that. Records
    written *ahead* (``record_ahead``: a create's pending record, before its turn comes)
    count once the change records them itself; those it never did are taken back. The
    first write that fails is kept in ``failure``: the applier then starts no new change,
    so no provider call goes out whose answer could not be kept.
    """

    def __init__(
        self, backend: StateBackend, state: StateDocument, store: SecretStore | None
    ) -> None:
        self.backend = backend
        self.state = state
        self.store = store
        self._lock = threading.Lock()
        self._log: ChangeLog | None = None
        # address -> (record written ahead, what it replaced, its commit)
        self._ahead: dict[str, tuple[dict[str, Any], dict[str, Any] | None, Commit]] = {}
        self.problems: list[str] = []  # what leaving could not fold (nothing is lost)
        self.failure: str | None = None  # the first change that could not be recorded
        self._closed = False

    def __enter__(self) -> Recorder:
        self._log = self.backend.change_log(self.state, self.state.snapshot)
        if self.store is not None:
            try:
                self.store.begin()
            except BaseException:
                self._log.close()
                raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        with self._lock:
            for address, (_, prior, _) in self._ahead.items():
                self.state.resources.pop(address, None)
                if prior is not None:
                    self.state.resources[address] = prior
                self._change(address, prior)
            self._ahead.clear()
            self._closed = True  # a change left behind records nothing from here on
        log, self._log = self._log, None
        for problem in (
            log.close() if log is not None else None,
            self.store.end() if self.store is not None else None,
        ):
            if problem:
                self.problems.append(problem)

    def record(self, record: Record) -> None:
        """Record ``record``, durably: written ahead already, it only waits for that write."""
        data = record.to_dict()
        with self._lock:
            ahead = self._ahead.pop(record.address, None)
            if ahead is not None and ahead[0] == data:
                commit = ahead[2]
            else:
                self.state.put(record)
                commit = self._change(record.address, data)
        self._wait(commit)

    def record_ahead(self, records: list[Record]) -> None:
        """Write records before their changes run (memory only: the change waits, later)."""
        with self._lock:
            for record in records:
                address, data = record.address, record.to_dict()
                prior = self.state.resources.get(address)
                self.state.resources[address] = data
                self._ahead[address] = (data, prior, self._change(address, data))

    def forget(self, address: str, *, deleted: str | None = None) -> None:
        """Drop ``address`` from the state; with ``deleted``, also that account's secrets.

        Without a confirmed delete the secrets stay: they may belong to an account that
        exists (a pending create's, sealed before its answer was lost).
        """
        sealed = None
        with self._lock:
            self._ahead.pop(address, None)
            self.state.remove(address)
            commit = self._change(address, None)
            if self.store is not None and deleted and self.store.forget_deleted(address, deleted):
                sealed = self.store.commit()
        self._wait(commit)
        if sealed is not None:
            self._wait(sealed)

    def recorded(self, address: str) -> Record | None:
        """What the state records at ``address`` (not counting a record written ahead)."""
        with self._lock:
            ahead = self._ahead.get(address)
            if ahead is None:
                return self.state.record(address)
            return read_record(ahead[1]) if ahead[1] is not None else None

    def seal_and_record(
        self, record: Record, fields: dict[str, str], issued_at: str, subject_id: str
    ) -> str | None:
        """Seal new secrets, then record ``record``: durable in that order, in one wait.

        The secrets go first (a crash between leaves them sealed for ``import``). Returns
        why they could not be sealed, if so; ``StateError`` when the record is not durable
        (then neither may the secrets be).
        """
        problem, sealed = None, None
        with self._lock:
            if self.store is not None:
                try:
                    # The provider just issued these for ``subject_id``: the address is that
                    # account's now, and whatever it held for another account is stale.
                    self.store.forget_if_other(record.address, subject_id)
                    for name, value in fields.items():
                        self.store.put(record.address, name, value, issued_at, subject_id)
                    sealed = self.store.commit()
                except SecretsError as exc:
                    problem = str(exc)
            self._ahead.pop(record.address, None)
            self.state.put(record)
            commit = self._change(record.address, record.to_dict(), after=sealed)
        self._wait(commit)
        if sealed is not None:
            try:
                self._wait(sealed)  # durable already in a backend with one log; else waits here
            except SecretsError as exc:
                problem = str(exc)
        return problem

    def _wait(self, commit: Commit) -> None:
        """Wait until ``commit`` is durable; the first failure stops new changes."""
        try:
            commit.wait()
        except ReconcilerError as exc:
            if self.failure is None:
                self.failure = str(exc)
            raise

    def _change(
        self, address: str, value: dict[str, Any] | None, after: Commit | None = None
    ) -> Commit:
        """Journal one state change (under the lock): the serial rises with each."""
        if self._closed:
            raise StateError("not recorded: the apply had already ended (after its grace period)")
        assert self._log is not None, "record changes inside `with recorder:`"
        self.state.serial += 1
        return self._log.record(self.state.serial, address, value, after)


@dataclass
class ApplyContext:
    """Everything the actions need; built by the workspace, injected by tests."""

    desired: Desired
    recorder: Recorder
    providers: ProviderPool
    secrets_command: str | None
    now: Callable[[], datetime]
    report: Callable[[str], None]
