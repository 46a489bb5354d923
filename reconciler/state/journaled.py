"""A snapshot file and its journal: how the local backend keeps state and sealed secrets.

Both are one JSON document (a few header fields, a ``serial``, and entries by address)
that an apply changes one entry at a time. The snapshot ``<file>`` is rewritten only
when a journal is folded into it: at the end of an apply (Ctrl-C and SIGTERM end it the
same way), when the journal outgrows the snapshot during a long apply, and by the next
command that writes after a crash; in between, every change is one line of
``<file>.journal`` (see ``journal.py``). Each journal line carries the serial it brings
the document to, so reading replays exactly the lines the snapshot does not hold yet: a
crash between writing a snapshot and removing the journal it folded in costs nothing.
The snapshot lists one entry per line (C-encoded JSON), so writing 10,000 of them takes
milliseconds and a diff of two snapshots reads entry by entry. ``docs/state-format.md``
describes both files.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.errors import ReconcilerError
from reconciler.fsutil import check_writable, fsync_directory, load_json, write_private_atomic
from reconciler.state.backend import Snapshot
from reconciler.state.journal import JOURNAL_VERSION, Journal, intact_lines

# A journal is folded during an apply once it is larger than the snapshot and than this:
# folds then cost O(1) per change amortised, and a short apply never folds midway.
FOLD_MIN_BYTES = 1 << 20
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": "), check_circular=False)
_READ_ATTEMPTS = 5


@dataclass(frozen=True)
class Layout:
    """What one kind of document looks like on disk."""

    entries: str  # the member holding the entries by address: "resources" or "secrets"
    identity: str  # the header field a journal shares with its snapshot: "lineage", "key_check"
    version: int
    noun: str  # for messages: "state", "secrets store"
    error: type[ReconcilerError]
    advice: str = ""  # what to do about a snapshot that does not read


class JournalCommit:
    """One recorded change on its way to the disk; ``wait()`` returns once it is durable."""

    def __init__(self, journal: Journal, ticket: int) -> None:
        self._journal = journal
        self._ticket = ticket

    def wait(self) -> None:
        self._journal.wait(self._ticket)


def snapshot_bytes(snapshot: Snapshot, layout: Layout) -> bytes:
    """The snapshot file: header fields, serial, then one entry per line, sorted."""
    dump = _ENCODER.encode
    head = [*snapshot.fields.items(), ("serial", snapshot.serial)]
    lines = [f"  {dump(name)}: {dump(value)}," for name, value in head]
    entries = snapshot.entries
    if entries:
        body = ",\n".join(f"    {dump(key)}: {dump(entries[key])}" for key in sorted(entries))
        lines.append(f"  {dump(layout.entries)}: {{\n{body}\n  }}")
    else:
        lines.append(f"  {dump(layout.entries)}: {{}}")
    return ("{\n" + "\n".join(lines) + "\n}\n").encode()


class JournaledFile:
    """``path`` (the snapshot), ``path.journal`` and, while a fold runs, ``path.journal.old``."""

    def __init__(self, path: Path, layout: Layout) -> None:
        self.path = path
        self.layout = layout
        self.journal_path = path.with_name(path.name + ".journal")
        self.retired_path = path.with_name(path.name + ".journal.old")

    def describe(self) -> str:
        return str(self.path)

    def read(self, check: Callable[[Any], None]) -> dict[str, Any] | None:
        """The document with its journals replayed; None when there is neither.

        ``check`` validates the snapshot's top level (raising the layout's error) before
        lines are replayed onto its ``serial`` and entries. A reader that takes no lock
        (``state list``) may meet a fold midway, which looks like a gap: it reads again.
        """
        for _ in range(_READ_ATTEMPTS - 1):
            try:
                return self._read_once(check)
            except _Gap:
                continue
        try:
            return self._read_once(check)
        except _Gap as gap:
            raise self._error(str(gap)) from None

    def _read_once(self, check: Callable[[Any], None]) -> dict[str, Any] | None:
        data = None
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            pass
        except OSError as exc:
            noun = self.layout.noun
            raise self._error(f"cannot read {noun} {self.path}: {exc.strerror or exc}") from None
        else:
            data = load_json(raw, str(self.path), self.layout.error, self.layout.advice)
            check(data)
        for journal in (self.retired_path, self.journal_path):
            data = self._replay(journal, data)
        return data

    def has_journal(self) -> bool:
        return self.journal_path.exists() or self.retired_path.exists()

    def write(self, snapshot: Snapshot) -> int:
        """Replace the snapshot, then drop the journals it now holds; returns its size."""
        data = snapshot_bytes(snapshot, self.layout)
        write_private_atomic(self.path, data)
        for journal in (self.retired_path, self.journal_path):
            journal.unlink(missing_ok=True)
        fsync_directory(self.path.parent)
        return len(data)

    def check_writable(self) -> None:
        """``OSError`` when the snapshot's temp file or a journal could not be made here."""
        check_writable(self.path)
        try:  # the longest name written here
            fd = os.open(self.retired_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return  # a crash left it: it is folded in before anything is recorded
        os.close(fd)
        self.retired_path.unlink()

    def open_session(self, identity: Any, source: Callable[[], Snapshot]) -> JournalSession:
        """Start recording changes; journals left by a crash are folded in first.

        ``source`` gives the document as it is in memory; it is called when a fold starts,
        under the caller's lock (a consistent copy), and at ``close``.
        """
        if self.has_journal():
            self.write(source())
        return JournalSession(self, identity, source)

    def _replay(self, path: Path, data: dict[str, Any] | None) -> dict[str, Any] | None:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return data
        except OSError as exc:
            if exc.errno == errno.ENAMETOOLONG:
                return data  # no journal can have that name (and none is ever written)
            raise self._error(f"cannot read {path}: {exc.strerror or exc}") from None
        lines = intact_lines(raw)
        first = next(lines, None)
        if first is None:
            return data  # its header was torn: no change in it was ever reported durable
        data = self._join(path, self._load(path, 1, first[1]), data)
        serial: int = data["serial"]
        entries: dict[str, Any] = data[self.layout.entries]
        for number, body in lines:
            serial = self._apply(path, number, self._load(path, number, body), serial, entries)
        data["serial"] = serial
        return data

    def _join(self, path: Path, header: Any, data: dict[str, Any] | None) -> dict[str, Any]:
        """The document a journal continues: ``data``, or a fresh one when there is none."""
        key = self.layout.identity
        if not isinstance(header, dict) or header.get("journal") != JOURNAL_VERSION:
            raise self._error(f"{path}:1: not a reconciler journal (or written by a newer one)")
        identity = header.get(key)
        if data is None:
            layout = self.layout
            return {"version": layout.version, key: identity, "serial": 0, layout.entries: {}}
        if data.get(key) is None:
            data[key] = identity
        elif identity is not None and data[key] != identity:
            raise self._error(
                f"{path} belongs to another {self.layout.noun} ({key} {identity}, while "
                f"{self.path} has {data[key]}); if {self.path} was replaced on purpose, "
                f"remove {path}"
            )
        return data

    def _apply(
        self, path: Path, number: int, entry: Any, serial: int, entries: dict[str, Any]
    ) -> int:
        """Replay one line onto ``entries``; returns the serial it brings the document to."""
        at = entry.get("serial") if isinstance(entry, dict) else None
        key = entry.get("put", entry.get("remove")) if isinstance(entry, dict) else None
        if type(at) is not int or not isinstance(key, str):
            raise self._error(f"{path}:{number}: not a journal entry")
        if at <= serial:
            return serial  # folded into the snapshot already
        if at != serial + 1:
            raise _Gap(
                f"{path}:{number}: the journal continues from serial {at - 1}, but "
                f"{self.path} is at serial {serial}: was it restored from an older copy?"
            )
        if "put" in entry:
            entries[key] = entry.get("value")
        else:
            entries.pop(key, None)
        return at

    def _load(self, path: Path, number: int, body: bytes) -> Any:
        return load_json(body, f"{path}:{number}", self.layout.error)

    def _error(self, message: str) -> ReconcilerError:
        return self.layout.error(message)


class _Gap(Exception):
    """A journal that does not continue its snapshot (or a fold met midway)."""


class JournalSession:
    """Records one document's changes during an apply and folds them into its snapshot."""

    def __init__(self, file: JournaledFile, identity: Any, source: Callable[[], Snapshot]) -> None:
        self._file = file
        self._source = source
        self._journal = Journal(
            file.journal_path,
            file.retired_path,
            {file.layout.identity: identity},
            lambda reason: file.layout.error(f"{file.layout.noun} journal: {reason}"),
        )
        self._recorded = 0
        self._folded_size = _size(file.path)
        self._fold: threading.Thread | None = None
        self._fold_problem: str | None = None

    def record(self, serial: int, key: str, value: Any) -> JournalCommit:
        """Journal ``key`` set to ``value`` (None: removed), bringing the document to ``serial``.

        Memory only: call it under the lock that orders the changes, then ``wait()`` on
        the commit outside that lock.
        """
        if value is None:
            entry: dict[str, Any] = {"serial": serial, "remove": key}
        else:
            entry = {"serial": serial, "put": key, "value": value}
        ticket = self._journal.append(entry)
        self._recorded += 1
        if self._fold is None and self._journal.size > max(self._folded_size, FOLD_MIN_BYTES):
            self._start_fold()
        return JournalCommit(self._journal, ticket)

    def close(self) -> str | None:
        """Fold everything into the snapshot; a problem is returned, never raised.

        When the fold fails the journals keep every change that was reported durable,
        and the next command reads them (and the next write folds them).
        """
        fold = self._fold
        if fold is not None:
            fold.join()
        if not self._recorded:
            return self._fold_problem
        try:
            self._journal.close()
        except ReconcilerError as exc:
            self._fold_problem = str(exc)
        try:
            self._file.write(self._source())
        except OSError as exc:
            return f"cannot write {self._file.path}: {exc.strerror or exc}"
        return None

    def _start_fold(self) -> None:
        """Under the caller's lock: copy the document, move the journal aside, fold in a thread."""
        snapshot = self._source()
        ticket = self._journal.rotate()
        self._fold = threading.Thread(
            target=self._fold_in, args=(snapshot, ticket), name="journal-fold", daemon=True
        )
        self._fold.start()

    def _fold_in(self, snapshot: Snapshot, ticket: int) -> None:
        try:
            self._journal.wait(ticket)
            data = snapshot_bytes(snapshot, self._file.layout)
            write_private_atomic(self._file.path, data)
            self._file.retired_path.unlink(missing_ok=True)
            fsync_directory(self._file.path.parent)
        except (OSError, ReconcilerError) as exc:
            # Nothing is lost: the retired journal stays until a fold succeeds.
            self._fold_problem = str(exc)
            return
        self._folded_size = len(data)
        self._fold = None


def _size(path: Path) -> int:
    with contextlib.suppress(OSError):
        return path.stat().st_size
    return 0
