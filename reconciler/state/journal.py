"""The append-only journal: one durable change costs one line, not a rewrite of the file.

An apply records every change before it moves on (a create is pending before its request,
its secrets are sealed before the state says it is done), so recording sits on the path
of every provider call. Rewriting the whole state file for each change made applies grow
with the square of the state; here each change is one line appended to a journal beside
the file, and parallel changes share the disk flush: a change is appended to a buffer in
memory (under a lock that guards memory only), and whoever then waits for durability
writes every line buffered so far and ``fdatasync``\\s outside the lock, for everyone
whose line went out with it (group commit). A line is ``<crc32, 8 hex> <JSON>``: reading back stops at
the first line that is torn or damaged, so a crash mid-write loses only changes that were
never reported durable. ``journaled.py`` pairs a journal with its snapshot; the format is
documented in ``docs/state-format.md``.
"""

from __future__ import annotations

import json
import os
import threading
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from reconciler.errors import ReconcilerError
from reconciler.fsutil import fsync_directory, make_parent

JOURNAL_VERSION = 1
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)


class _Rotate:
    """Marks where a journal moves to a new file (the old one is then folded away)."""


_ROTATE = _Rotate()


def encode_line(entry: dict[str, Any]) -> bytes:
    """One journal line: checksum, space, compact JSON (the C encoder), newline."""
    body = _ENCODER.encode(entry).encode()
    return b"%08x %s\n" % (zlib.crc32(body), body)


def decode_line(line: bytes) -> bytes | None:
    """The JSON body of an intact line; None when the line is torn or damaged."""
    if len(line) < 11 or line[8:9] != b" " or not line.endswith(b"\n"):
        return None
    body = line[9:-1]
    try:
        checksum = int(line[:8], 16)
    except ValueError:
        return None
    return body if zlib.crc32(body) == checksum else None


def intact_lines(data: bytes) -> Iterator[tuple[int, bytes]]:
    """``(line number, JSON body)`` of every line up to the first torn or damaged one.

    Lines are appended in order and a change is reported durable only once every line
    before it is, so a damaged line can only be followed by changes never reported
    durable (a flush cut short): the intact prefix is the journal.
    """
    for number, line in enumerate(data.splitlines(keepends=True), 1):
        body = decode_line(line)
        if body is None:
            return
        yield number, body


class Journal:
    """Appends lines to ``path`` with group commit; ``wait(ticket)`` returns once durable.

    One writer at a time writes everything buffered (so the file holds the lines in
    ticket order); whoever then needs a line durable starts an ``fdatasync`` covering
    everything written so far, unless one that covers it is already running: syncs may
    overlap, so a change never waits for a flush that started without it *and* then its
    own. The file is made (with ``header`` as its first line, mode 0600) by the first
    write; it must not exist before. ``rotate()`` moves later lines to a fresh file at
    ``path`` after renaming the current one to ``retired``, so a snapshot can be folded in
    while changes keep arriving. A failed write or sync breaks the journal for good: a line
    missing in the middle would leave a gap that reading must refuse. ``fence`` is asked
    before every write: it raises ``OSError`` once this process may no longer write.
    """

    def __init__(
        self,
        path: Path,
        retired: Path,
        header: dict[str, Any],
        error: Callable[[str], ReconcilerError],
        fence: Callable[[], None] = lambda: None,
    ) -> None:
        self.path = path
        self._fence = fence
        self.retired = retired
        self._header = encode_line({"journal": JOURNAL_VERSION, **header})
        self._error = error
        self._cond = threading.Condition()
        self._buffer: list[bytes | _Rotate] = []
        self._appended = 0  # tickets handed out
        self._written = 0  # every ticket up to this one is in the file (the OS's cache)
        self._durable = 0  # every ticket up to this one is on disk
        self._syncing = 0  # the highest ticket a running fdatasync covers
        self._syncs = 0  # fdatasyncs running
        self._writing = False
        self._broken: str | None = None
        self._fd: int | None = None
        self._size = 0  # bytes in the current file, buffered ones included

    @property
    def size(self) -> int:
        """Bytes the current file holds once everything buffered is written."""
        return self._size

    def append(self, entry: dict[str, Any]) -> int:
        """Buffer one line (memory only); returns the ticket to ``wait`` for."""
        line = encode_line(entry)
        with self._cond:
            if self._size == 0:
                self._size = len(self._header)
            self._buffer.append(line)
            self._size += len(line)
            self._appended += 1
            return self._appended

    def rotate(self) -> int:
        """Later lines go to a new file; returns the ticket after which the old one is retired."""
        with self._cond:
            self._buffer.append(_ROTATE)
            self._size = 0
            self._appended += 1
            return self._appended

    def wait(self, ticket: int) -> None:
        """Return once ``ticket`` is durable: write what is buffered, or sync, or wait."""
        while True:
            with self._cond:
                step = self._next_step(ticket)
                if step is None:
                    return
                role, batch, upto, fd = step
            if role == "write":
                self._run_write(batch, upto)
            else:
                assert fd is not None
                self._run_sync(fd, upto)

    def close(self) -> None:
        """Flush what is buffered and close the file; raises if that write fails."""
        with self._cond:
            last = self._appended
        self.wait(last)
        with self._cond:
            while self._syncs:
                self._cond.wait()
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def _next_step(self, ticket: int) -> tuple[str, list[bytes | _Rotate], int, int | None] | None:
        """Under the lock: None once durable, else what this thread does next (or it waits)."""
        while True:
            if self._broken is not None:
                raise self._error(self._broken)
            if self._durable >= ticket:
                return None
            if self._written >= ticket and self._syncing < ticket:
                if self._fd is None:  # the file was just retired, which synced all of it
                    self._durable = self._written
                    continue
                self._syncing, self._syncs = self._written, self._syncs + 1
                return "sync", [], self._written, self._fd
            if self._written < ticket and not self._writing:
                self._writing = True
                batch, self._buffer = self._buffer, []
                return "write", batch, self._appended, None
            self._cond.wait()

    def _run_write(self, batch: list[bytes | _Rotate], upto: int) -> None:
        """Write outside the lock, then say so (a failure breaks the journal)."""
        try:
            self._write(batch)
        except OSError as exc:
            self._fail(exc)
            return
        with self._cond:
            self._written, self._writing = upto, False
            self._cond.notify_all()

    def _run_sync(self, fd: int, upto: int) -> None:
        """``fdatasync`` outside the lock: every ticket up to ``upto`` was written before it."""
        try:
            os.fdatasync(fd)
        except OSError as exc:
            self._fail(exc)
            return
        with self._cond:
            self._durable, self._syncs = max(self._durable, upto), self._syncs - 1
            self._cond.notify_all()

    def _fail(self, exc: OSError) -> None:
        with self._cond:
            self._broken = f"cannot write {self.path}: {exc.strerror or exc}"
            self._writing, self._syncs = False, 0
            self._cond.notify_all()

    def _write(self, batch: list[bytes | _Rotate]) -> None:
        """Write ``batch`` in order (outside the lock); a rotation syncs and retires first."""
        self._fence()
        lines: list[bytes] = []
        for item in batch:
            if isinstance(item, _Rotate):
                self._append(lines)
                lines = []
                self._retire()
            else:
                lines.append(item)
        self._append(lines)

    def _append(self, lines: list[bytes]) -> None:
        if not lines:
            return
        if self._fd is None:
            fd = _create(self.path)
            with self._cond:
                self._fd = fd
            lines.insert(0, self._header)
        data = memoryview(b"".join(lines))
        while data:
            data = data[os.write(self._fd, data) :]

    def _retire(self) -> None:
        """Sync and close the current file, rename it to ``retired`` (none yet: nothing to do)."""
        if self._fd is None:
            return
        os.fdatasync(self._fd)  # every line written so far is in it: all durable now
        with self._cond:
            while self._syncs:  # a sync still running on this file must end before it closes
                self._cond.wait()
            fd, self._fd = self._fd, None
        os.close(fd)
        os.replace(self.path, self.retired)
        fsync_directory(self.path.parent)


def _create(path: Path) -> int:
    """A new private journal file, its directory entry made durable before any line counts."""
    make_parent(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        fsync_directory(path.parent)
    except BaseException:
        os.close(fd)
        raise
    return fd
