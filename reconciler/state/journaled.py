"""A document in a snapshot file plus its lines in a journal: how the local backend reads.

The state and the sealed secrets are each one JSON document (a few header fields, a
``serial``, and entries by address) that an apply changes one entry at a time. The
snapshot ``<file>`` is rewritten only when the journal is folded into it (see
``changelog.py``); in between, every change is one line of the backend's journal,
``reconciler.json.journal``, which both documents share so that a create's sealed
secrets and its record reach the disk in order and in one flush. Each line names its
document and the serial it brings it to, so reading replays exactly the lines the
snapshot does not hold yet: a crash between writing a snapshot and removing the journal
costs nothing. The snapshot lists one entry per line (C-encoded JSON), so writing
10,000 of them takes milliseconds and a diff of two snapshots reads entry by entry.
``docs/state-format.md`` describes both files.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.errors import ReconcilerError
from reconciler.fsutil import (
    check_writable,
    fsync_directory,
    load_json,
    make_parent,
    write_private_atomic,
)
from reconciler.state.backend import Snapshot
from reconciler.state.journal import JOURNAL_VERSION, intact_lines

if TYPE_CHECKING:
    from reconciler.state.changelog import DocumentLog

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": "), check_circular=False)
_READ_ATTEMPTS = 5


@dataclass(frozen=True)
class Layout:
    """What one kind of document looks like on disk."""

    doc: str  # its name in journal lines: "state", "secrets"
    entries: str  # the member holding the entries by address: "resources", "secrets"
    identity: str  # the header field a journal shares with its snapshot: "lineage", "key_check"
    version: int
    noun: str  # for messages: "state", "the secrets store"
    error: type[ReconcilerError]
    check: Callable[[Any, str], None]  # refuses a snapshot's top level, naming the file
    advice: str = ""  # what to do about a snapshot that does not read


@dataclass
class JournalFiles:
    """The journal of one backend, ``<state>.journal``, and the documents with lines in it.

    ``.journal.old`` exists while a fold runs. ``writer`` is the change log recording into
    it during an apply (see ``changelog.py``); one backend has one, shared by its documents.
    ``fence`` (set by the backend while it holds its lock) raises ``OSError`` once the lock
    is no longer this process's: every write of either document, and of the journal,
    asks it first, so a process whose lock was force-released never writes again.
    """

    base: Path
    documents: dict[str, JournaledFile] = field(default_factory=dict)
    writer: Any = None
    fence: Callable[[], None] | None = None

    def check_fence(self) -> None:
        """``OSError`` when this process may no longer write (its lock was released)."""
        if self.fence is not None:
            self.fence()

    def fenced(self) -> bool:
        try:
            self.check_fence()
        except OSError:
            return True
        return False

    @property
    def path(self) -> Path:
        return self.base.with_name(self.base.name + ".journal")

    @property
    def retired(self) -> Path:
        return self.base.with_name(self.base.name + ".journal.old")

    def exist(self) -> bool:
        return self.path.exists() or self.retired.exists()

    def fold_from_disk(self) -> None:
        """Fold what a crashed run left: every document read back and written whole."""
        for document in self.documents.values():
            data = document.read()
            if data is not None:
                document.write_snapshot(document.to_snapshot(data))
        self.remove()

    def remove(self) -> None:
        self.check_fence()
        for path in (self.retired, self.path):
            path.unlink(missing_ok=True)
        fsync_directory(self.base.parent)


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
    """One document: its snapshot ``path`` and its lines in the backend's journal."""

    def __init__(self, path: Path, layout: Layout, journal: JournalFiles | None = None) -> None:
        self.path = path
        self.layout = layout
        self.journal = journal or JournalFiles(path)
        self.journal.documents[layout.doc] = self

    def describe(self) -> str:
        return str(self.path)

    def read(self) -> dict[str, Any] | None:
        """The document with the journal's lines replayed; None when there is neither.

        A reader that takes no lock (``state list``) may meet a fold midway, which looks
        like a gap in the serials: it reads again.
        """
        for _ in range(_READ_ATTEMPTS - 1):
            try:
                return self._read_once()
            except _Gap:
                continue
        try:
            return self._read_once()
        except _Gap as gap:
            raise self.layout.error(str(gap)) from None

    def write(self, snapshot: Snapshot) -> int:
        """Replace the whole document (and fold a journal a crash left); returns its size."""
        size = self.write_snapshot(snapshot)
        if self.journal.writer is None and self.journal.exist():
            self.journal.fold_from_disk()
        return size

    def write_snapshot(self, snapshot: Snapshot) -> int:
        data = snapshot_bytes(snapshot, self.layout)
        self.journal.check_fence()
        write_private_atomic(self.path, data)
        return len(data)

    def to_snapshot(self, data: dict[str, Any]) -> Snapshot:
        entries = self.layout.entries
        fields = {k: v for k, v in data.items() if k not in ("serial", entries)}
        return Snapshot(fields, data["serial"], data[entries])

    def size(self) -> int:
        """Bytes of the snapshot file (0 when there is none yet)."""
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    def check_writable(self, room: int = 0) -> None:
        """``OSError`` when the snapshot's temp file or the journal could not be made here,
        or the disk has not ``room`` bytes free."""
        check_writable(self.path, room)
        for probe in (self.journal.retired,):  # the longest name written here
            try:
                make_parent(probe)
                probe.touch(mode=0o600, exist_ok=False)
            except FileExistsError:
                continue  # a crash left it: it is folded in before anything is recorded
            probe.unlink()

    def open_session(self, identity: Any, source: Callable[[], Snapshot]) -> DocumentLog:
        """This document's change log in the backend's journal (``changelog.py``)."""
        from reconciler.state.changelog import open_change_log

        return open_change_log(self, identity, source)

    def _read_once(self) -> dict[str, Any] | None:
        """The snapshot and the journals replayed onto it; ``_Gap`` when a fold replaced the
        snapshot meanwhile (the journal lines it folded in may be gone: the old snapshot
        and the new journal alone would look whole, and lack them)."""
        data, read_from = None, None
        try:
            with open(self.path, "rb") as handle:
                read_from = os.fstat(handle.fileno()).st_ino
                raw = handle.read()
        except FileNotFoundError:
            pass
        except OSError as exc:
            noun = self.layout.noun
            raise self.layout.error(
                f"cannot read {noun} {self.path}: {exc.strerror or exc}"
            ) from None
        else:
            data = load_json(raw, str(self.path), self.layout.error, self.layout.advice)
            self.layout.check(data, str(self.path))
        for journal in (self.journal.retired, self.journal.path):
            data = self._replay(journal, data)
        if _inode(self.path) != read_from:
            raise _Gap(f"{self.path} was replaced while it was read (a fold ran): read it again")
        return data

    def _replay(self, path: Path, data: dict[str, Any] | None) -> dict[str, Any] | None:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return data
        except OSError as exc:
            if exc.errno == errno.ENAMETOOLONG:
                return data  # no journal can have that name (and none is ever written)
            raise self.layout.error(f"cannot read {path}: {exc.strerror or exc}") from None
        lines = intact_lines(raw)
        first = next(lines, None)
        if first is None:
            return data  # its header was torn: no change in it was ever reported durable
        header = self._load(path, 1, first[1])
        doc = self.layout.doc
        mine = []
        for number, body in lines:
            entry = self._load(path, number, body)
            if not isinstance(entry, dict) or not isinstance(entry.get("doc"), str):
                raise self.layout.error(f"{path}:{number}: not a journal entry")
            if entry["doc"] == doc:
                mine.append((number, entry))
        if not mine:
            return data
        data = self._join(path, header, data)
        serial: int = data["serial"]
        entries: dict[str, Any] = data[self.layout.entries]
        for number, entry in mine:
            serial = self._apply(path, number, entry, serial, entries)
        data["serial"] = serial
        return data

    def _join(self, path: Path, header: Any, data: dict[str, Any] | None) -> dict[str, Any]:
        """The document a journal continues: ``data``, or a fresh one when there is none."""
        key = self.layout.identity
        if not isinstance(header, dict) or header.get("journal") != JOURNAL_VERSION:
            raise self.layout.error(
                f"{path}:1: not a reconciler journal (or written by a newer one)"
            )
        identity = header.get(key)
        if data is None:
            layout = self.layout
            return {"version": layout.version, key: identity, "serial": 0, layout.entries: {}}
        if data.get(key) is None:
            data[key] = identity
        elif identity is not None and data[key] != identity:
            raise self.layout.error(
                f"{path} belongs to another {self.layout.noun} ({key} {identity}, while "
                f"{self.path} has {data[key]}); if {self.path} was replaced on purpose, "
                f"remove {path}"
            )
        return data

    def _apply(
        self, path: Path, number: int, entry: dict[str, Any], serial: int, entries: dict[str, Any]
    ) -> int:
        """Replay one line onto ``entries``; returns the serial it brings the document to."""
        at = entry.get("serial")
        key = entry.get("put", entry.get("remove"))
        if type(at) is not int or not isinstance(key, str):
            raise self.layout.error(f"{path}:{number}: not a journal entry")
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


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except OSError:
        return None


class _Gap(Exception):
    """A journal that does not continue its snapshot (or a fold met midway)."""
