"""The append-only journal: one durable change costs one line, not a rewrite of the file.

An apply records every change before it moves on (a create is pending before its request,
its secrets are sealed before the state says it is done), so recording sits on the path
of every provider call. Rewriting the whole state file for each change made applies grow
with the square of the state; here each change is one line appended to a journal beside
the file, and parallel changes share the disk flush: a change is appended to a buffer in
memory (under a lock that guards memory only), and whoever then waits for durability
first becomes the *leader*, writes and ``fdatasync``\\s every line buffered so far outside
the lock, and wakes the others; changes arriving during that flush are written together by
the next leader (group commit). A line is ``<crc32, 8 hex> <JSON>``: reading back stops at
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
from reconciler.fsutil import fsync_directory

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

    The file is made (with ``header`` as its first line, mode 0600) by the first flush; it
    must not exist before. ``rotate()`` moves later lines to a fresh file at ``path`` after
    renaming the current one to ``retired``, so a snapshot can be folded in while changes
    keep arriving. A failed write breaks the journal for good: a line missing in the
    middle would leave a gap that reading must refuse, so every later wait raises too.
    """

    def __init__(
        self,
        path: Path,
        retired: Path,
        header: dict[str, Any],
        error: Callable[[str], ReconcilerError],
    ) -> None:
        self.path = path
        self.retired = retired
        self._header = encode_line({"journal": JOURNAL_VERSION, **header})
        self._error = error
        self._cond = threading.Condition()
        self._buffer: list[bytes | _Rotate] = []
        self._appended = 0  # tickets handed out
        self._durable = 0  # every ticket up to this one is on disk
        self._flushing = False
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
        """Return once ``ticket`` is durable, flushing as the leader when no one else is."""
        with self._cond:
            while self._flushing and self._durable < ticket and self._broken is None:
                self._cond.wait()
            if self._broken is not None:
                raise self._error(self._broken)
            if self._durable >= ticket:
                return
            self._flushing = True
            batch, self._buffer = self._buffer, []
            upto = self._appended
        failure = self._flush(batch)
        with self._cond:
            self._flushing = False
            if failure is None:
                self._durable = upto
            else:
                self._broken = failure
            self._cond.notify_all()
        if failure is not None:
            raise self._error(failure)

    def close(self) -> None:
        """Flush what is buffered and close the file; raises if that write fails."""
        with self._cond:
            last = self._appended
        self.wait(last)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _flush(self, batch: list[bytes | _Rotate]) -> str | None:
        """Write and sync ``batch`` (outside the lock); the reason it failed, or None."""
        try:
            lines: list[bytes] = []
            for item in batch:
                if isinstance(item, _Rotate):
                    self._write(lines)
                    lines = []
                    self._retire()
                else:
                    lines.append(item)
            self._write(lines)
        except OSError as exc:
            return f"cannot write {self.path}: {exc.strerror or exc}"
        return None

    def _write(self, lines: list[bytes]) -> None:
        if not lines:
            return
        if self._fd is None:
            self._fd = _create(self.path)
            lines.insert(0, self._header)
        data = memoryview(b"".join(lines))
        while data:
            data = data[os.write(self._fd, data) :]
        os.fdatasync(self._fd)

    def _retire(self) -> None:
        """Close the current file and rename it to ``retired`` (nothing written: nothing to do)."""
        if self._fd is None:
            return
        os.close(self._fd)
        self._fd = None
        os.replace(self.path, self.retired)
        fsync_directory(self.path.parent)


def _create(path: Path) -> int:
    """A new private journal file, its directory entry made durable before any line counts."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        fsync_directory(path.parent)
    except BaseException:
        os.close(fd)
        raise
    return fd
