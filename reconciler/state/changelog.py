"""The writing side of the local backend's journal: change logs, their commits, folds.

During an apply the state and the sealed secrets record their changes as lines of one
journal (``journal.py`` does the group commit), so a create's secrets, appended before
its record, are durable whenever the record is: order in one file is the guarantee, and
one flush serves both. Each document gets a ``DocumentLog`` (the ``ChangeLog`` of the
backend interface); they share one ``SharedLog``. The journal is folded into the
snapshots when the last log closes (the end of an apply, Ctrl-C and SIGTERM included),
and during a long apply whenever it outgrows them: the documents are copied under the
recorder's lock (memory only), the journal moves aside to ``.journal.old``, and a thread
writes the snapshots and removes it while changes keep arriving in a new journal.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

from reconciler.errors import ReconcilerError
from reconciler.fsutil import fsync_directory
from reconciler.state.backend import Commit, Snapshot
from reconciler.state.journal import Journal
from reconciler.state.journaled import JournaledFile, JournalFiles

# A journal is folded during an apply once it is larger than the snapshots and than this:
# folds then cost O(1) per change amortised, and a short apply never folds midway.
FOLD_MIN_BYTES = 1 << 20


class JournalCommit:
    """One recorded change on its way to the disk; ``wait()`` returns once it is durable."""

    def __init__(self, journal: Journal, ticket: int) -> None:
        self.journal = journal
        self._ticket = ticket

    def wait(self) -> None:
        self.journal.wait(self._ticket)


def open_change_log(
    document: JournaledFile, identity: Any, source: Callable[[], Snapshot]
) -> DocumentLog:
    """``document``'s change log; a journal a crash left is folded in first (``OSError``)."""
    files = document.journal
    if files.writer is None:
        if files.exist():
            files.fold_from_disk()
        files.writer = SharedLog(files, document.layout.error)
    shared: SharedLog = files.writer
    return shared.open(document, identity, source)


class DocumentLog:
    """Records one document's changes into the shared journal."""

    def __init__(self, shared: SharedLog, document: JournaledFile, source: Callable[[], Snapshot]):
        self.shared = shared
        self.document = document
        self.source = source
        self.recorded = 0

    def record(self, serial: int, key: str, value: Any, after: Commit | None = None) -> Commit:
        """Journal ``key`` set to ``value`` (None: removed), bringing the document to ``serial``.

        Memory only: call it under the lock that orders the changes, then ``wait()`` on the
        commit outside that lock. ``after`` (a commit this change must not precede) always
        holds here: every change of this backend goes through this one journal, in order.
        """
        doc = self.document.layout.doc
        if value is None:
            entry: dict[str, Any] = {"doc": doc, "serial": serial, "remove": key}
        else:
            entry = {"doc": doc, "serial": serial, "put": key, "value": value}
        self.recorded += 1
        return self.shared.append(entry)

    def close(self) -> str | None:
        """Fold the journal when this is the last log open; a problem is returned."""
        return self.shared.close(self)


class SharedLog:
    """The journal of one backend while an apply records, and its folds."""

    def __init__(self, files: JournalFiles, error: type[ReconcilerError]) -> None:
        self.files = files
        self._error = error
        self._identities: dict[str, Any] = {}
        self._logs: list[DocumentLog] = []
        self._closed: list[DocumentLog] = []
        self._journal: Journal | None = None
        self._folded_size = sum(_size(d.path) for d in files.documents.values())
        self._fold: threading.Thread | None = None
        self._problem: str | None = None

    def open(
        self, document: JournaledFile, identity: Any, source: Callable[[], Snapshot]
    ) -> DocumentLog:
        self._identities[document.layout.identity] = identity
        log = DocumentLog(self, document, source)
        self._logs.append(log)
        return log

    def append(self, entry: dict[str, Any]) -> JournalCommit:
        journal = self._journal or self._start()
        ticket = journal.append(entry)
        if self._fold is None and journal.size > max(self._folded_size, FOLD_MIN_BYTES):
            self._start_fold(journal)
        return JournalCommit(journal, ticket)

    def close(self, log: DocumentLog) -> str | None:
        """Once every log is closed: flush, write each document whole, drop the journal; a
        problem says what stays in the journal (nothing is lost)."""
        problem = self._fold_at_close(log)
        if problem is None:
            return None
        return (
            f"{problem}. Every change is kept in its journal beside it; the next command "
            "reads it, and the next apply folds it in"
        )

    def _fold_at_close(self, log: DocumentLog) -> str | None:
        self._closed.append(log)
        if len(self._closed) < len(self._logs):
            return None
        self.files.writer = None
        fold = self._fold
        if fold is not None:
            fold.join()
        if self.files.fenced():
            return None  # the lock went to another process, which owns the files now
        if self._journal is None:
            return self._problem
        try:
            self._journal.close()
        except ReconcilerError as exc:
            self._problem = str(exc)  # what reached the disk stays readable; memory has all
        try:
            for each in self._logs:
                each.document.write_snapshot(each.source())
            self.files.remove()
        except OSError as exc:
            return f"cannot fold the journal {self.files.path}: {exc.strerror or exc}"
        return None

    def _start(self) -> Journal:
        """The journal file's header names every document's identity (lineage, key check)."""
        self._journal = Journal(
            self.files.path,
            self.files.retired,
            dict(self._identities),
            lambda reason: self._error(f"the journal: {reason}"),
            self.files.check_fence,
        )
        return self._journal

    def _start_fold(self, journal: Journal) -> None:
        """Under the caller's lock: copy the documents, move the journal aside, fold in a thread."""
        snapshots = [(log.document, log.source()) for log in self._logs]
        ticket = journal.rotate()
        self._fold = threading.Thread(
            target=self._fold_in,
            args=(journal, snapshots, ticket),
            name="journal-fold",
            daemon=True,
        )
        self._fold.start()

    def _fold_in(
        self, journal: Journal, snapshots: list[tuple[JournaledFile, Snapshot]], ticket: int
    ) -> None:
        try:
            journal.wait(ticket)
            size = 0
            for document, snapshot in snapshots:
                size += document.write_snapshot(snapshot)
            self.files.retired.unlink(missing_ok=True)
            fsync_directory(self.files.base.parent)
        except (OSError, ReconcilerError) as exc:
            # Nothing is lost: the retired journal stays until a fold succeeds.
            self._problem = str(exc)
            return
        self._folded_size = size
        self._fold = None


def _size(path: Any) -> int:
    with contextlib.suppress(OSError):
        return int(path.stat().st_size)
    return 0
