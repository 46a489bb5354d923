"""Local state backend: a JSON snapshot and its journal, guarded by an OS lock.

The state is ``state/reconciler.json`` (the snapshot) plus ``reconciler.json.journal``
while an apply records changes, one line each (``journaled.py``, ``changelog.py``); the
sealed secrets follow in ``reconciler.secrets.json``, their lines in the same journal. The lock is ``flock`` on
``<state>.lock``, so the kernel frees it when the holder dies (even by ``kill -9``): no
lock outlives its process. The lock file also carries who holds it (id, operation,
user@host, pid, since) for the "state is locked" message. ``apply`` takes it
exclusively; ``plan`` takes it shared, so plans run side by side but never while an apply
is writing. ``force-unlock`` removes the lock file: a holder that is still running then
no longer excludes others, which is the user's explicit call.
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import json
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from reconciler.errors import LockError, StateError
from reconciler.fsutil import load_json
from reconciler.model import DEFAULT_STATE_PATH, iso
from reconciler.state.backend import ChangeLog, LockInfo, Snapshot
from reconciler.state.document import STATE_LAYOUT, StateDocument
from reconciler.state.journaled import JournaledFile, JournalFiles
from reconciler.state.sealed import SECRETS_LAYOUT, secrets_path

_LOCK_POLL_S = 0.2  # how often a --lock-timeout wait tries the lock again

__all__ = ["LocalBackend", "LockInfo"]


class LocalBackend:
    """The state in ``path`` and its journal; ``lock()`` guards a whole command."""

    def __init__(self, path: str | Path) -> None:
        """``StateError`` when ``path`` cannot name the state file (``.``, a directory)."""
        self.path = _state_file(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        journal = JournalFiles(self.path)  # one journal for both documents
        self._file = JournaledFile(self.path, STATE_LAYOUT, journal)
        self._sealed = JournaledFile(secrets_path(self.path), SECRETS_LAYOUT, journal)

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

    def check_writable(self) -> None:
        """``StateError`` when the state or the sealed secrets beside it cannot be written."""
        for document in (self._file, self.sealed_secrets()):
            try:
                document.check_writable()
            except OSError as exc:
                raise StateError(
                    f"cannot write {document.describe()}: {exc.strerror or exc}. Apply records "
                    "every change there, so it stops before calling any provider. Nothing was "
                    "changed."
                ) from None

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
        handle = self._open_locked(operation, shared, timeout)
        if handle is None:
            yield None
            return
        info = None
        try:
            if shared:
                # No exclusive holder can exist while we hold it shared: whatever the file
                # still says (a holder killed with -9 never cleared it) is stale.
                _clear(handle)
            else:
                info = LockInfo(
                    id=str(uuid.uuid4()),
                    operation=operation,
                    who=f"{_user()}@{socket.gethostname()}",
                    pid=os.getpid(),
                    created=iso(datetime.now(UTC).replace(microsecond=0)),
                )
                handle.seek(0)
                handle.truncate()
                handle.write(json.dumps(asdict(info)))
                handle.flush()
            yield info
        finally:
            if not shared:
                with contextlib.suppress(OSError):
                    handle.seek(0)
                    handle.truncate()
            handle.close()

    def _open_locked(self, operation: str, shared: bool, timeout: float) -> IO[str] | None:
        deadline = time.monotonic() + timeout
        waited = f" (waited {timeout:g}s)" if timeout else ""
        for _ in range(5):
            handle = self._open_lock_file(shared)
            if handle is None:
                return None
            try:
                _flock(handle, shared, deadline)
            except BlockingIOError:
                holder = self.holder()
                handle.close()
                if holder is None:
                    # Shared holders (plans) leave no name: they are short and end by themselves.
                    raise LockError(
                        f"state {self.path} is locked by another reconciler process (a plan "
                        f"reading it, or a command just starting){waited}; {operation} cannot run "
                        "now. Try again when it has finished, or wait with --lock-timeout."
                    ) from None
                raise LockError(
                    f"state {self.path} is locked by {holder.describe()}{waited}; {operation} "
                    "cannot run now. If that process is stuck, stop it, or release the lock with: "
                    f"reconciler force-unlock {holder.id}"
                ) from None
            # force-unlock may have unlinked the file we locked: then lock the new one.
            try:
                same = os.stat(self.lock_path).st_ino == os.fstat(handle.fileno()).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return handle
            handle.close()
        raise LockError(f"could not take the lock {self.lock_path}: it keeps being replaced")

    def _open_lock_file(self, shared: bool) -> IO[str] | None:
        """The lock file, created for an exclusive lock; None for a shared one if absent."""
        try:
            if shared:
                fd = os.open(self.lock_path, os.O_RDWR)
            else:
                self.lock_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            if shared and isinstance(exc, FileNotFoundError | PermissionError):
                return None  # no apply ever ran here, or a read-only checkout: nothing to wait for
            raise StateError(
                f"cannot open the state lock {self.lock_path}: {exc.strerror or exc}; "
                "the state directory must be writable"
            ) from None
        return os.fdopen(fd, "r+", encoding="utf-8")

    def holder(self) -> LockInfo | None:
        """Who holds (or last held) the exclusive lock, from the lock file."""
        try:
            data = load_json(self.lock_path.read_bytes() or b"null", str(self.lock_path), LockError)
            return LockInfo(**data) if isinstance(data, dict) else None
        except (OSError, LockError, TypeError):
            return None

    def force_unlock(self, lock_id: str) -> LockInfo:
        """Release a lock by its id, as printed in the "state is locked" message.

        The kernel lock, not the file's content, says whether the state is locked: a
        holder killed with -9 leaves its name in the file but holds nothing.
        """
        if not self._held_exclusively():
            raise LockError(f"state {self.path} is not locked (no apply holds it)")
        holder = self.holder()
        if holder is None:
            raise LockError(
                f"state {self.path} is locked by a process that left no lock ID (a plan, or a "
                "command just starting); it is released when that process ends"
            )
        if holder.id != lock_id:
            raise LockError(
                f"lock ID {lock_id} does not match the lock held by {holder.describe()}"
            )
        with contextlib.suppress(FileNotFoundError):
            self.lock_path.unlink()
        return holder

    def _held_exclusively(self) -> bool:
        """Whether some process holds the exclusive lock; clears stale holder info if not."""
        try:
            handle = open(self.lock_path, "r+", encoding="utf-8")  # noqa: SIM115
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise LockError(
                f"cannot read the lock {self.lock_path}: {exc.strerror or exc}"
            ) from None
        with handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            _clear(handle)
            return False


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


def _flock(handle: IO[str], shared: bool, deadline: float) -> None:
    """Take the lock, retrying until ``deadline``; ``BlockingIOError`` when still held then."""
    mode = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB
    while True:
        try:
            fcntl.flock(handle.fileno(), mode)
            return
        except BlockingIOError:
            left = deadline - time.monotonic()
            if left <= 0:
                raise
            time.sleep(min(_LOCK_POLL_S, left))


def _clear(handle: IO[str]) -> None:
    """Empty a lock file we hold: the holder it names no longer holds it."""
    with contextlib.suppress(OSError):
        if handle.seek(0, os.SEEK_END):
            handle.seek(0)
            handle.truncate()
            handle.flush()


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())
