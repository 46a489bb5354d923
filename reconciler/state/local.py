"""Local state backend: a JSON snapshot and its journal, guarded by an OS lock.

The state is ``state/reconciler.json`` (the snapshot) plus ``reconciler.json.journal``
while an apply records changes, one line each (``journaled.py``, ``changelog.py``); the
sealed secrets follow in ``reconciler.secrets.json``, their lines in the same journal.
The lock (``lockfile.py``: an ``flock`` on ``<state>.lock``, freed by the kernel when its
holder dies) is held for a whole command: ``apply`` takes it exclusively, ``plan``
shared, so plans run side by side but never while an apply is writing. While it holds
the lock exclusively, a command is the one writer here: it removes the temp files a
killed writer left, and every write of the state, the secrets and the journal first asks
the fence whether the lock file is still the one it locked; once ``force-unlock``
removed it, nothing more is written and the lock's end reports the loss.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from reconciler.errors import LockError, StateError
from reconciler.fsutil import followed, remove_stale_temps
from reconciler.model import DEFAULT_STATE_PATH
from reconciler.state.backend import ChangeLog, LockInfo, Snapshot
from reconciler.state.document import STATE_LAYOUT, StateDocument
from reconciler.state.journaled import JournaledFile, JournalFiles
from reconciler.state.lockfile import LockFile, clear
from reconciler.state.sealed import SECRETS_LAYOUT, secrets_path

__all__ = ["LocalBackend", "LockInfo"]


class LocalBackend:
    """The state in ``path`` and its journal; ``lock()`` guards a whole command."""

    def __init__(self, path: str | Path) -> None:
        """``StateError`` when ``path`` cannot name the state file (``.``, a directory).

        A symlinked state file is followed: the state, its journal and its lock live where
        the link points. The secrets store is the file beside ``path`` as named (itself
        followed when it is a link).
        """
        named = _state_file(path)
        self.path = followed(named)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self._lock = LockFile(self.lock_path, self.path)
        journal = JournalFiles(self.path)  # one journal for both documents
        self._file = JournaledFile(self.path, STATE_LAYOUT, journal)
        self._sealed = JournaledFile(followed(secrets_path(named)), SECRETS_LAYOUT, journal)

    def describe(self) -> str:
        return str(self.path)

    def read(self) -> StateDocument:
        """The recorded state, journal replayed; a fresh empty one (new lineage) when none."""
        data = self._file.read()
        return StateDocument() if data is None else StateDocument.from_data(data, str(self.path))

    def write(self, state: StateDocument) -> None:
        """Raise the serial and replace the snapshot atomically (its journal folded), mode 0600."""
        state.serial += 1
        try:
            self._file.write(state.snapshot())
        except OSError as exc:
            state.serial -= 1
            raise StateError(f"cannot write state {self.path}: {exc.strerror or exc}") from None

    def change_log(self, state: StateDocument, source: Callable[[], Snapshot]) -> ChangeLog:
        """Journal ``state``'s changes; a journal a crash left behind is folded in first."""
        try:
            return self._file.open_session(state.lineage, source)
        except OSError as exc:
            raise StateError(f"cannot write state {self.path}: {exc.strerror or exc}") from None

    def check_writable(self, room: int = 0) -> None:
        """``StateError`` when the state or the sealed secrets beside it cannot be written,
        or their disk has no room for ``room`` bytes of journal beside a new copy of each
        snapshot (the fold writes one before it removes the old)."""
        documents = (self._file, self._sealed)
        wanted: dict[Path, int] = {}
        for document in documents:
            directory = document.path.parent
            wanted[directory] = wanted.get(directory, 0) + document.size() + room
        for document in documents:
            need = wanted.pop(document.path.parent, 0)  # the whole directory's, probed once
            try:
                document.check_writable(need)
            except OSError as exc:
                about = f" (this apply needs about {_size(need)} there)" if need else ""
                raise StateError(
                    f"cannot write {document.describe()}: {exc.strerror or exc}{about}. Apply "
                    "records every change there, so it stops before calling any provider. "
                    "Nothing was changed."
                ) from None

    def holder(self) -> LockInfo | None:
        """Who holds (or last held) the exclusive lock, from the lock file."""
        return self._lock.holder()

    def force_unlock(self, lock_id: str, *, force: bool = False) -> LockInfo:
        """Release a lock by its id (a holder alive on this host only with ``force``)."""
        return self._lock.force_unlock(lock_id, force=force)

    def sealed_secrets(self) -> JournaledFile:
        """``reconciler.secrets.json`` beside ``reconciler.json``; its lines share the journal."""
        return self._sealed

    def state_store(self) -> JournaledFile:
        """``reconciler.json`` and its journal lines, as a raw document."""
        return self._file

    def missing_state(self) -> tuple[str, str] | None:
        if self.path.exists():
            return None
        return (
            f"no state file at {self.path.resolve()}",
            "point state.path at their state (a relative path starts at the file that sets it)",
        )

    def owns_file(self, path: str) -> str | None:
        """The state, the secrets store, or a file beside them named after them (lock, journal)."""
        kept = {os.path.realpath(p) for p in (self.path, self._sealed.path)}
        if path in kept:
            return "a file"
        directory, name = os.path.split(path)
        family = (self.path.name, self._sealed.path.name)
        if directory == os.path.realpath(self.path.parent) and name.startswith(family):
            return "a file beside the state"
        return None

    @contextlib.contextmanager
    def lock(
        self, operation: str, *, shared: bool = False, timeout: float = 0.0
    ) -> Iterator[LockInfo | None]:
        """Hold the state lock for the block; raise ``LockError`` naming the holder if taken.

        ``timeout`` seconds are spent waiting for a held lock first (``--lock-timeout``).
        A shared lock (``plan``) creates nothing: without a lock file no apply has ever
        run here, so there is nothing to wait for, and a plan must leave no file behind.
        """
        handle = self._lock.acquire(operation, shared, timeout)
        if handle is None:
            yield None
            return
        info, lost = None, False
        try:
            if shared:
                # No exclusive holder can exist while we hold it shared: whatever the file
                # still says (a holder killed with -9 never cleared it) is stale.
                clear(handle)
            else:
                info = self._lock.claim(handle, operation)
                self._file.journal.fence = lambda: self._lock.check_held(handle)
                for document in (self._file, self._sealed):
                    remove_stale_temps(document.path)
            yield info
            lost = not shared and self._file.journal.fenced()
        finally:
            self._file.journal.fence = None
            if not shared:
                with contextlib.suppress(OSError):
                    handle.seek(0)
                    handle.truncate()
            handle.close()
        if lost:
            raise LockError(
                f"{operation} lost the state lock {self.lock_path} while it ran (force-unlock "
                "released it): it wrote nothing to the state or the secrets store after that, "
                "and left them as the next holder wrote them. Any change listed above as "
                "failed to record says how to recover it."
            )


def _state_file(path: str | Path) -> Path:
    """``path`` as the state file, which must be a file's name: not ``.``, not a directory.

    Both would otherwise fail later, deep in a write, with a message about empty names.
    """
    state = Path(path)
    if state.name in ("", ".", ".."):
        raise StateError(
            f"state path {str(path)!r} names no file; name one like {DEFAULT_STATE_PATH}"
        )
    if os.path.isdir(state):
        raise StateError(_is_a_directory(state))
    return state


def _is_a_directory(path: Path) -> str:
    return f"state path {path} is a directory; name a file like {path / 'reconciler.json'}"


def _size(count: int) -> str:
    return f"{count / 1024:.0f} KiB" if count < 1 << 20 else f"{count / (1 << 20):.1f} MiB"
