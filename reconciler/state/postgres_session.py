"""Recording an apply's changes in PostgreSQL: one queue, one transaction per batch.

Each change of the state or the sealed secrets is queued in memory (under the recorder's
lock, in serial order) and handed back as a ticket. Whoever then waits for it becomes
the leader unless a transaction is running already: it takes everything queued so far,
of both documents, and commits it in one transaction, which first checks each document's
stored serial and identity against what this process last wrote (a stale writer is
refused), then sets every changed address to its last value. Changes arriving while a
transaction runs go together in the next (group commit): the cost per change stays one
share of a commit, however large the state. Both documents share the queue, so a new
account's sealed secrets are always committed with its record or before it (``after``
holds for free). A transaction that fails breaks the session: nothing after it is
recorded, as with the local journal, and the changes waiting say why. The transactions
run on the lock's connection: if the lock was taken away (``force-unlock`` ends the
holder's database session), every later write fails instead of writing without it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from reconciler.errors import ReconcilerError, StateError
from reconciler.state.backend import Commit, Snapshot
from reconciler.state.postgres_document import DELETE_ENTRY, UPSERT_ENTRY, PgDocument
from reconciler.state.postgres_tables import ensure

if TYPE_CHECKING:
    import psycopg

    from reconciler.state.postgres_connect import Database


class SessionHost(Protocol):
    """The backend: it makes one session for all its documents."""

    def session(self) -> PgSession: ...


class _Change(NamedTuple):
    document: PgDocument
    serial: int
    key: str
    value: Any


class PgCommit:
    """A change in the queue; ``wait()`` returns once its transaction committed."""

    def __init__(self, session: PgSession, ticket: int) -> None:
        self._session = session
        self._ticket = ticket

    def wait(self) -> None:
        self._session.wait(self._ticket)


class PgLog:
    """The ``ChangeLog`` of one document during an apply."""

    def __init__(self, session: PgSession, document: PgDocument, source: Callable[[], Snapshot]):
        self.session = session
        self.document = document
        self.source = source
        self.fields = source().fields  # before any worker runs: safe to snapshot
        self.first = True  # the first transaction writes the header fields too

    def record(self, serial: int, key: str, value: Any, after: Commit | None = None) -> Commit:
        """Queue ``key`` set to ``value`` (None: removed) at ``serial``; memory only."""
        return self.session.append(_Change(self.document, serial, key, value))

    def close(self) -> str | None:
        return self.session.close(self)


class PgSession:
    """The queue and the transactions of one backend's documents while an apply runs."""

    def __init__(self, db: Database, schema: str, release: Callable[[], None]) -> None:
        self.db = db
        self._release = release
        self._cond = threading.Condition()
        self._queue: list[_Change] = []
        self._appended = 0  # tickets handed out
        self._committed = 0  # every ticket up to this one is committed
        self._leading = False
        self._broken: str | None = None
        self._logs: list[PgLog] = []
        self._closed: list[PgLog] = []
        self._own: psycopg.Connection[Any] | None = None
        if not db.holding():
            self._own = db.connect("apply")  # no lock held (tests, tools): a connection of its own
            db.hold(self._own)
        try:
            with db.use("apply") as connection:
                ensure(connection, schema)  # an apply on an empty database makes the tables
        except BaseException:
            self._end()
            raise

    def open(self, document: PgDocument, source: Callable[[], Snapshot]) -> PgLog:
        log = PgLog(self, document, source)
        self._logs.append(log)
        return log

    def append(self, change: _Change) -> PgCommit:
        with self._cond:
            self._queue.append(change)
            self._appended += 1
            return PgCommit(self, self._appended)

    def wait(self, ticket: int) -> None:
        """Return once ``ticket`` is committed: lead a transaction, or wait for one."""
        while True:
            with self._cond:
                while True:
                    if self._broken is not None:
                        raise StateError(self._broken)
                    if self._committed >= ticket:
                        return
                    if not self._leading:
                        break
                    self._cond.wait()
                self._leading = True
                batch, self._queue = self._queue, []
                upto = self._appended
            self._lead(batch, upto)

    def _lead(self, batch: list[_Change], upto: int) -> None:
        """Commit ``batch``; a failure (or an interrupt) breaks the session for every waiter."""
        try:
            if batch:
                self._commit(batch)
        except BaseException as exc:
            where = batch[0].document.describe()
            with self._cond:
                self._broken = (
                    f"cannot record in {where}: {exc or type(exc).__name__}. Nothing is "
                    "recorded from here on (was the lock released with force-unlock, or the "
                    "database restarted?)"
                )
                self._leading = False
                self._cond.notify_all()
            if not isinstance(exc, ReconcilerError):
                raise
            return
        with self._cond:
            self._committed, self._leading = upto, False
            self._cond.notify_all()

    def _commit(self, batch: list[_Change]) -> None:
        """One transaction, its statements in one round trip: each document's header moved
        on if it is still what this process wrote last, then every changed entry."""
        last: dict[PgDocument, int] = {}
        values: dict[tuple[PgDocument, str], Any] = {}
        for change in batch:
            last[change.document] = change.serial
            values[change.document, change.key] = change.value
        logs = {log.document: log for log in self._logs}
        with self.db.use("apply") as connection:
            try:
                with connection.transaction(), connection.pipeline() as pipeline:
                    claims = [
                        (
                            d,
                            d.advance(
                                connection, serial, logs[d].fields if logs[d].first else None
                            ),
                        )
                        for d, serial in last.items()
                    ]
                    _write_entries(connection, values)
                    pipeline.sync()
                    for document, claim in claims:
                        if claim.rowcount != 1:
                            raise _Stale(document)
            except _Stale as stale:
                raise stale.document.layout.error(stale.document.stale(connection)) from None
        for document, serial in last.items():
            logs[document].first = False
            document.seen = (serial, logs[document].fields.get(document.layout.identity))

    def close(self, log: PgLog) -> str | None:
        """Commit what is queued; the last log to close ends the session.

        A session broken earlier returns no problem: every change it could not record
        failed with that reason already, and what was committed is in the database.
        """
        problem = None
        with self._cond:
            last, broken = self._appended, self._broken is not None
        try:
            if not broken:
                self.wait(last)
                self._store_fields(log)
        except ReconcilerError as exc:
            problem = str(exc)
        self._closed.append(log)
        if len(self._closed) == len(self._logs):
            self._end()
        return problem

    def _store_fields(self, log: PgLog) -> None:
        """Header fields that changed during the apply (a key check gained), written last."""
        fields = log.source().fields
        document = log.document
        if fields == log.fields or document.seen is None:
            return
        with self.db.use("apply") as connection, connection.transaction():
            document.claim(connection, document.seen[0], fields)
        log.fields = fields
        document.seen = (document.seen[0], fields.get(document.layout.identity))

    def _end(self) -> None:
        self._release()
        if self._own is not None:
            self.db.hold(None)
            self._own.close()


class _Stale(Exception):
    """A document's header was not what this process wrote last: the transaction is undone."""

    def __init__(self, document: PgDocument) -> None:
        self.document = document


def _write_entries(
    connection: psycopg.Connection[Any], values: dict[tuple[PgDocument, str], Any]
) -> None:
    """Each changed address set to its last value in the batch (None: removed)."""
    from psycopg.types.json import Json

    upserts = [
        (d.workspace, d.layout.doc, key, Json(v)) for (d, key), v in values.items() if v is not None
    ]
    deletes = [(d.workspace, d.layout.doc, key) for (d, key), v in values.items() if v is None]
    documents = [d for d, _ in values]
    with connection.cursor() as cursor:
        for sql, rows in ((UPSERT_ENTRY, upserts), (DELETE_ENTRY, deletes)):
            if rows:
                cursor.executemany(documents[0].sql(sql), rows)
