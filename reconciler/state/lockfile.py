"""The local backend's lock: an ``flock`` on ``<state>.lock``, with who holds it.

The kernel frees an ``flock`` when its holder dies (even by ``kill -9``), so no lock
outlives its process. An exclusive holder writes its ``LockInfo`` (id, operation,
user@host, pid, since) into the file for the "state is locked" message; a shared holder
(``plan``) writes nothing, and takes its lock on a read-only handle where it cannot
write. ``force_unlock`` removes the file, refusing a holder still alive on this host
unless forced; ``check_held`` is the fence every write of a holder asks first: once the
lock file is not the one its handle locked, it may write no more. ``local.py`` holds the
lock for a whole command.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import IO

from reconciler.errors import LockError, StateError
from reconciler.fsutil import load_json, make_parent
from reconciler.state.backend import LockInfo, locked_message, refuse_live_holder

_LOCK_POLL_S = 0.2  # how often a --lock-timeout wait tries the lock again


class LockFile:
    """The lock file ``path`` of the state ``state`` (named in messages)."""

    def __init__(self, path: Path, state: Path) -> None:
        self.path = path
        self.state = state

    def claim(self, handle: IO[str], operation: str) -> LockInfo:
        """Name this process as the exclusive holder of the lock ``handle`` holds."""
        info = LockInfo.of_this_process(operation)
        _write_holder(handle, info, self.path)
        return info

    def check_held(self, handle: IO[str]) -> None:
        """The fence: ``OSError`` once the lock file is not the one ``handle`` locked."""
        try:
            held = os.stat(self.path).st_ino == os.fstat(handle.fileno()).st_ino
        except OSError:
            held = False  # removed by force-unlock (and not made again yet)
        if not held:
            raise OSError(
                errno.ENOLCK,
                "this process no longer holds the state lock (force-unlock released it)",
            )

    def acquire(self, operation: str, shared: bool, timeout: float) -> IO[str] | None:
        deadline = time.monotonic() + timeout
        for _ in range(5):
            handle = self._open(shared)
            if handle is None:
                return None
            try:
                _flock(handle, shared, deadline)
            except BlockingIOError:
                holder = self.holder()
                handle.close()
                raise LockError(
                    locked_message(str(self.state), holder, operation, timeout)
                ) from None
            # force-unlock may have unlinked the file we locked: then lock the new one.
            try:
                same = os.stat(self.path).st_ino == os.fstat(handle.fileno()).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return handle
            handle.close()
        raise LockError(f"could not take the lock {self.path}: it keeps being replaced")

    def _open(self, shared: bool) -> IO[str] | None:
        """The lock file, created for an exclusive lock; None for a shared one if absent.

        A shared lock needs no write: on a read-only file or file system it is taken on a
        read-only handle (a stale holder's name then stays in the file).
        """
        try:
            if shared:
                try:
                    fd = os.open(self.path, os.O_RDWR)
                except OSError as exc:
                    if exc.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
                        raise
                    fd = os.open(self.path, os.O_RDONLY)
                    return os.fdopen(fd, "r", encoding="utf-8")
            else:
                make_parent(self.path)
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            if shared and isinstance(exc, FileNotFoundError | PermissionError):
                return None  # no apply ever ran here, or a read-only checkout: nothing to wait for
            raise StateError(
                f"cannot open the state lock {self.path}: {exc.strerror or exc}; "
                "the state directory must be writable"
            ) from None
        return os.fdopen(fd, "r+", encoding="utf-8")

    def holder(self) -> LockInfo | None:
        """Who holds (or last held) the exclusive lock, from the lock file."""
        try:
            data = load_json(self.path.read_bytes() or b"null", str(self.path), LockError)
            return LockInfo(**data) if isinstance(data, dict) else None
        except (OSError, LockError, TypeError):
            return None

    def force_unlock(self, lock_id: str, *, force: bool = False) -> LockInfo:
        """Release a lock by its id, as printed in the "state is locked" message.

        The kernel lock, not the file's content, says whether the state is locked: a
        holder killed with -9 leaves its name in the file but holds nothing. A holder
        still running on this host is released only with ``force``: from then on each of
        its writes is refused (the fence), so it stops without touching the state.
        """
        if not self._held_exclusively():
            raise LockError(f"state {self.state} is not locked (no apply holds it)")
        holder = self.holder()
        if holder is None:
            raise LockError(
                f"state {self.state} is locked by a process that left no lock ID (a plan, or a "
                "command just starting); it is released when that process ends"
            )
        if holder.id != lock_id:
            raise LockError(
                f"lock ID {lock_id} does not match the lock held by {holder.describe()}"
            )
        refuse_live_holder(holder, force)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        return holder

    def _held_exclusively(self) -> bool:
        """Whether some process holds the exclusive lock; clears stale holder info if not."""
        try:
            handle = open(self.path, "r+", encoding="utf-8")  # noqa: SIM115
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise LockError(f"cannot read the lock {self.path}: {exc.strerror or exc}") from None
        with handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            clear(handle)
            return False


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


def _write_holder(handle: IO[str], info: LockInfo, path: Path) -> None:
    """Name the holder in the lock file, for the "state is locked" message."""
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(asdict(info)))
        handle.flush()
    except OSError as exc:
        raise StateError(
            f"cannot write the state lock {path}: {exc.strerror or exc}. Nothing was changed."
        ) from None


def clear(handle: IO[str]) -> None:
    """Empty a lock file we hold: the holder it names no longer holds it."""
    with contextlib.suppress(OSError):
        if handle.seek(0, os.SEEK_END):
            handle.seek(0)
            handle.truncate()
            handle.flush()
