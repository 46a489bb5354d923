"""The state-backend interface: what every place that keeps state must offer.

A backend keeps two documents, the state (lineage, serial, records by address) and the
sealed secrets (which follow the backend: a team that keeps state in PostgreSQL keeps
its sealed secrets there too). Commands read a document whole, replace it whole
(``state rm``, ``import``), or, during an apply, record one change at a time: a
``ChangeLog`` takes the change in memory, under the recorder's lock, and hands back a
``Commit`` whose ``wait()`` returns once the change is durable, outside that lock, so
parallel changes can share one flush (the local backend's journal) or one transaction
each (a database). A lock, shared for plans and exclusive for writers, names its holder
and dies with its process. ``local.py`` (a file and its journal) and ``postgres.py``
(tables and an advisory lock) implement it; ``factory.py`` picks one by ``state.backend``.
"""

from __future__ import annotations

import getpass
import os
import socket
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from reconciler.errors import LockError
from reconciler.model import iso

if TYPE_CHECKING:
    from reconciler.state.document import StateDocument


@dataclass(frozen=True)
class LockInfo:
    """Who holds an exclusive lock, for the "state is locked" message and force-unlock."""

    id: str
    operation: str
    who: str
    pid: int
    created: str

    @classmethod
    def of_this_process(cls, operation: str) -> LockInfo:
        """A new lock ID held by this process, ``user@host``, since now."""
        return cls(
            id=str(uuid.uuid4()),
            operation=operation,
            who=f"{_user()}@{socket.gethostname()}",
            pid=os.getpid(),
            created=iso(datetime.now(UTC).replace(microsecond=0)),
        )

    def describe(self) -> str:
        return (
            f"{self.who} (pid {self.pid}, {self.operation}) since {self.created}, lock ID {self.id}"
        )

    def running_here(self) -> bool:
        """Whether the holder is a process alive on this host (another host's: unknown)."""
        if self.who.rpartition("@")[2] != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True  # alive, another user's
        except (OSError, OverflowError, ValueError):
            return False
        return True


def locked_message(where: str, holder: LockInfo | None, operation: str, waited: float) -> str:
    """Why ``operation`` cannot run: who holds the lock of the state ``where``, and what to do.

    Shared holders (plans) leave no name: they are short and end by themselves.
    """
    after = f" (waited {waited:g}s)" if waited else ""
    if holder is None:
        return (
            f"state {where} is locked by another reconciler process (a plan reading it, or a "
            f"command just starting){after}; {operation} cannot run now. Try again when it has "
            "finished, or wait with --lock-timeout."
        )
    return (
        f"state {where} is locked by {holder.describe()}{after}; {operation} cannot run now. "
        "If that process hangs, stop it (the lock dies with it); "
        f"`reconciler force-unlock --force {holder.id}` releases the lock while it runs, and "
        "refuses its every write from then on"
    )


def refuse_live_holder(holder: LockInfo, force: bool) -> None:
    """``force-unlock`` of a holder still running on this host takes ``--force``: it may be
    busy, not stuck, and stopping it is the cleaner way (its lock dies with it)."""
    if force or not holder.running_here():
        return
    raise LockError(
        f"the lock is held by {holder.describe()}, which is still running on this "
        f"host. Stop it (`kill {holder.pid}`): the lock dies with it. To release the "
        "lock while it runs, add --force: each of its writes is then refused, so it "
        "stops without touching the state, and the next apply sees what it left pending."
    )


@dataclass(frozen=True)
class Snapshot:
    """A whole document: header ``fields`` (in order), its ``serial``, entries by address."""

    fields: dict[str, Any]
    serial: int
    entries: dict[str, Any]


class Commit(Protocol):
    """One recorded change; ``wait()`` returns once it is durable, or raises the error."""

    def wait(self) -> None: ...


class ChangeLog(Protocol):
    """Records one document's changes while an apply runs."""

    def record(self, serial: int, key: str, value: Any, after: Commit | None = None) -> Commit:
        """Set ``key`` to ``value`` (None: remove it), bringing the document to ``serial``.

        Called under the lock that orders the changes, in serial order; memory only.
        ``after`` is a commit (the sealed secrets of a new account) that must be durable
        whenever this one is: a backend that keeps both in one ordered log or transaction
        has that for free.
        """
        ...

    def close(self) -> str | None:
        """Make every change part of the document; a problem is returned (nothing lost)."""
        ...


class DocumentStore(Protocol):
    """Where one document lives: the sealed secrets a backend keeps beside its state."""

    def describe(self) -> str: ...

    def read(self) -> dict[str, Any] | None:
        """The document as JSON data, None when there is none."""
        ...

    def write(self, snapshot: Snapshot) -> int:
        """Replace the whole document (``OSError`` when it cannot)."""
        ...

    def open_session(self, identity: Any, source: Callable[[], Snapshot]) -> ChangeLog:
        """Start recording changes; ``source`` gives the document as it stands in memory."""
        ...

    def check_writable(self, room: int = 0) -> None:
        """``OSError`` when a change could not be recorded (or ``room`` bytes would not fit)."""
        ...


class StateBackend(Protocol):
    """Read, record one change, lock, force-unlock, check writable, describe."""

    def describe(self) -> str:
        """Where the state lives, for messages (a path, a database and workspace)."""
        ...

    def read(self) -> StateDocument:
        """The recorded state; an empty one with a new lineage when none exists yet."""
        ...

    def write(self, state: StateDocument) -> None:
        """Raise the serial and replace the whole document."""
        ...

    def change_log(self, state: StateDocument, source: Callable[[], Snapshot]) -> ChangeLog:
        """Record ``state``'s changes one at a time (an apply); ``source`` snapshots it."""
        ...

    def lock(
        self, operation: str, *, shared: bool = False, timeout: float = 0.0
    ) -> AbstractContextManager[LockInfo | None]:
        """Hold the lock for a command; ``LockError`` names the holder when it is taken
        (after waiting up to ``timeout`` seconds for it, ``--lock-timeout``)."""
        ...

    def holder(self) -> LockInfo | None: ...

    def force_unlock(self, lock_id: str, *, force: bool = False) -> LockInfo:
        """Release the lock ``lock_id``; a holder still alive is released only with
        ``force``, and can write nothing from then on."""
        ...

    def check_writable(self, room: int = 0) -> None:
        """``StateError`` naming what cannot be written, before any provider call; ``room``
        is about how many bytes the apply will record (a backend on a disk proves it has them)."""
        ...

    def sealed_secrets(self) -> DocumentStore:
        """Where this backend keeps the sealed secrets."""
        ...

    def state_store(self) -> DocumentStore:
        """The state as a raw document, header fields and all (``state pull``/``push``)."""
        ...

    def missing_state(self) -> tuple[str, str] | None:
        """None when a state is recorded; else where none was found, and what to check."""
        ...

    def owns_file(self, path: str) -> str | None:
        """What ``path`` (a real path) is to this backend, if one of its files, else None."""
        ...


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())
