"""What a change needs while it executes: the recorder of state and secrets, providers, time.

The applier builds one ``ApplyContext`` per apply and hands it to each resource kind's
``execute``. ``Recorder`` serialises the state and secrets writes of parallel changes and
writes after every single one, so a crash loses at most the change in flight. Kept apart
from the applier so the kinds can use it without importing the applier that calls them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from reconciler.model import Desired
from reconciler.providers.pool import ProviderPool
from reconciler.resources.base import Record
from reconciler.secrets import SecretStore
from reconciler.state import LocalBackend, StateDocument


class Recorder:
    """Serialises state and secrets writes from parallel changes; writes after each one."""

    def __init__(
        self, backend: LocalBackend, state: StateDocument, store: SecretStore | None
    ) -> None:
        self.backend = backend
        self.state = state
        self.store = store
        self._lock = threading.Lock()

    def record(self, record: Record) -> None:
        with self._lock:
            self.state.put(record)
            self.backend.write(self.state)

    def forget(self, address: str, *, deleted: str | None = None) -> None:
        """Drop ``address`` from the state; with ``deleted``, also that account's secrets.

        Without a confirmed delete the secrets stay: they may belong to an account that
        exists (a pending create's, sealed before its answer was lost).
        """
        with self._lock:
            self.state.remove(address)
            self.backend.write(self.state)
            if self.store is not None and deleted and self.store.forget_deleted(address, deleted):
                self.store.save()

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
            self.store.save()


@dataclass
class ApplyContext:
    """Everything the actions need; built by the workspace, injected by tests."""

    desired: Desired
    recorder: Recorder
    providers: ProviderPool
    secrets_command: str | None
    now: Callable[[], datetime]
    report: Callable[[str], None]
