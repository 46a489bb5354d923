"""PostgreSQL state backend: team state, lock and sealed secrets in one database.

``state: {backend: postgres, dsn_env: RECONCILER_PG_DSN, schema: reconciler, workspace:
default}``. The state and the sealed secrets are two documents of a workspace
(``postgres_document.py``), both recorded change by change in transactions during an
apply (``postgres_session.py``), in tables made on first use (``postgres_tables.py``).
The lock is a session-level advisory lock keyed by schema and workspace: shared for
plans, exclusive for writers, and freed by the database the moment the holder's
connection ends, ``kill -9`` included. An exclusive holder also writes who it is (lock
ID, operation, user@host, pid, since, and its database session) to ``state_locks`` for
everyone else's "state is locked" message. ``force-unlock`` ends exactly the database
session that holds this workspace's lock under that lock ID, and nothing else; the
holder, if it still runs, then fails to write (its writes go through that session).
psycopg is an optional extra, imported only here.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from reconciler.errors import LockError, StateError
from reconciler.model import StateSettings
from reconciler.state.backend import (
    ChangeLog,
    LockInfo,
    Snapshot,
    locked_message,
    refuse_live_holder,
)
from reconciler.state.document import STATE_LAYOUT, StateDocument
from reconciler.state.postgres_connect import Database
from reconciler.state.postgres_document import PgDocument
from reconciler.state.postgres_session import PgSession
from reconciler.state.postgres_tables import ensure, lock_key, lock_parts, statement, version
from reconciler.state.sealed import SECRETS_LAYOUT

if TYPE_CHECKING:
    import psycopg

_LOCK_POLL_S = 0.2
_UNLOCK_WAIT_S = 5.0
_RELEASE_WAIT_S = 2.0  # for a commit still running when the command ends (interrupted)
_HOLDER = (
    "SELECT lock_id, operation, who, pid, created, backend_pid FROM {schema}.state_locks "
    "WHERE workspace = %s"
)
_REGISTER = (
    "INSERT INTO {schema}.state_locks (workspace, lock_id, operation, who, pid, created, "
    "backend_pid) VALUES (%s, %s, %s, %s, %s, %s, pg_backend_pid()) ON CONFLICT (workspace) "
    "DO UPDATE SET lock_id = EXCLUDED.lock_id, operation = EXCLUDED.operation, who = "
    "EXCLUDED.who, pid = EXCLUDED.pid, created = EXCLUDED.created, backend_pid = "
    "EXCLUDED.backend_pid"
)
_UNREGISTER = "DELETE FROM {schema}.state_locks WHERE workspace = %s AND lock_id = %s"
_EXCLUSIVE_HOLDER = (
    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM "
    "pg_database WHERE datname = current_database()) AND classid::bigint = %s AND "
    "objid::bigint = %s AND objsubid = 1 AND mode = 'ExclusiveLock' AND granted"
)


class PostgresBackend:
    """The state and sealed secrets of one workspace in PostgreSQL, with its lock."""

    def __init__(self, db: Database, schema: str, workspace: str) -> None:
        self.db = db
        self.schema = schema
        self.workspace = workspace
        self._key = lock_key(schema, workspace)
        self._state = PgDocument(db, schema, workspace, STATE_LAYOUT, self)
        self._sealed = PgDocument(db, schema, workspace, SECRETS_LAYOUT, self)
        self._session: PgSession | None = None

    @classmethod
    def from_settings(cls, settings: StateSettings, environ: Mapping[str, str]) -> PostgresBackend:
        return cls(
            Database.from_environ(settings.dsn_env, environ), settings.schema, settings.workspace
        )

    def describe(self) -> str:
        return f"PostgreSQL {self.db.target} (schema {self.schema}, workspace {self.workspace})"

    def read(self) -> StateDocument:
        data = self._state.read()
        return StateDocument() if data is None else StateDocument.from_data(data, self.describe())

    def write(self, state: StateDocument) -> None:
        """Raise the serial and replace the whole state, if no one wrote it meanwhile."""
        state.serial += 1
        try:
            self._state.write(state.snapshot())
        except BaseException:
            state.serial -= 1
            raise

    def change_log(self, state: StateDocument, source: Callable[[], Snapshot]) -> ChangeLog:
        return self._state.open_session(state.lineage, source)

    def session(self) -> PgSession:
        """The one session both documents record into during an apply."""
        if self._session is None:
            self._session = PgSession(self.db, self.schema, self._end_session)
        return self._session

    def _end_session(self) -> None:
        self._session = None

    def state_store(self) -> PgDocument:
        return self._state

    def sealed_secrets(self) -> PgDocument:
        return self._sealed

    def missing_state(self) -> tuple[str, str] | None:
        if self._state.exists():
            return None
        return (
            f"no state in {self.describe()}",
            f"check state.schema, state.workspace and the database {self.db.dsn_env} names "
            "(`reconciler state push` moves a local state there)",
        )

    def owns_file(self, path: str) -> str | None:
        return None  # nothing of this backend is a file

    def check_writable(self, room: int = 0) -> None:
        """Before any provider call: a writable primary, the tables, and the grants (``room``
        is for a disk of ours; the database server manages its own)."""
        with self.db.use("check") as connection:
            row = connection.execute(
                "SELECT pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on'"
            ).fetchone()
            if row and row[0]:
                raise StateError(
                    f"the state database {self.db.target} is read-only (a standby?): apply "
                    "records every change there, so it stops before calling any provider. "
                    f"Point {self.db.dsn_env} at the primary. Nothing was changed."
                )
            ensure(connection, self.schema)
            for table in ("state_documents", "state_entries"):
                for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE"):
                    granted = connection.execute(
                        "SELECT has_table_privilege(format('%%I.%%I', %s::text, %s::text), %s)",
                        [self.schema, table, privilege],
                    ).fetchone()
                    if not granted or not granted[0]:
                        raise StateError(
                            f"the role cannot {privilege} on {self.schema}.{table} in "
                            f"{self.db.target}: apply records every change there, so it stops "
                            "before calling any provider (see the README for the grants). "
                            "Nothing was changed."
                        )

    @contextlib.contextmanager
    def lock(
        self, operation: str, *, shared: bool = False, timeout: float = 0.0
    ) -> Iterator[LockInfo | None]:
        """Hold the workspace's advisory lock on a connection of its own for the block."""
        connection = self.db.connect(operation)
        idle = True
        try:
            with self.db.failures():
                self._acquire(connection, operation, shared, timeout)
                info = None if shared else self._register(connection, operation)
            self.db.hold(connection)
            try:
                yield info
            finally:
                idle = self.db.let_go(connection, _RELEASE_WAIT_S)
                if info is not None and idle:
                    with contextlib.suppress(Exception):  # the lock dies with the connection
                        unregister = statement(_UNREGISTER, self.schema)
                        connection.execute(unregister, [self.workspace, info.id])
        finally:
            if idle:
                connection.close()  # ends the session: the database frees the lock

    def _acquire(
        self, connection: psycopg.Connection[Any], operation: str, shared: bool, timeout: float
    ) -> None:
        take = "pg_try_advisory_lock_shared" if shared else "pg_try_advisory_lock"
        deadline = time.monotonic() + timeout
        while True:
            row = connection.execute(f"SELECT {take}(%s)", [self._key]).fetchone()
            if row and row[0]:
                return
            left = deadline - time.monotonic()
            if left <= 0:
                raise LockError(self._locked(connection, operation, timeout))
            time.sleep(min(_LOCK_POLL_S, left))

    def _locked(self, connection: psycopg.Connection[Any], operation: str, waited: float) -> str:
        return locked_message(self.describe(), self._holder(connection), operation, waited)

    def _register(self, connection: psycopg.Connection[Any], operation: str) -> LockInfo:
        """Make the tables if need be, then say who holds the lock, for everyone to read."""
        ensure(connection, self.schema)
        info = LockInfo.of_this_process(operation)
        row = [self.workspace, info.id, info.operation, info.who, info.pid, info.created]
        connection.execute(statement(_REGISTER, self.schema), row)
        return info

    def holder(self) -> LockInfo | None:
        with self.db.use("holder") as connection:
            return self._holder(connection)

    def _holder(self, connection: psycopg.Connection[Any]) -> LockInfo | None:
        """Who holds the exclusive lock now: the registered holder, if its session holds it."""
        found = self._holder_row(connection)
        return found[0] if found else None

    def _holder_row(self, connection: psycopg.Connection[Any]) -> tuple[LockInfo, int] | None:
        if not version(connection, self.schema):
            return None
        pid = self._exclusive_pid(connection)
        row = connection.execute(statement(_HOLDER, self.schema), [self.workspace]).fetchone()
        if pid is None or row is None or row[5] != pid:
            return None  # nobody holds it exclusively, or not under a registered lock ID
        return LockInfo(*row[:5]), pid

    def _exclusive_pid(self, connection: psycopg.Connection[Any]) -> int | None:
        row = connection.execute(_EXCLUSIVE_HOLDER, lock_parts(self._key)).fetchone()
        return int(row[0]) if row else None

    def force_unlock(self, lock_id: str, *, force: bool = False) -> LockInfo:
        """End the database session holding this workspace's lock under ``lock_id``: the
        holder's writes go through that session, so it can write nothing after (the fence)."""
        with self.db.use("force-unlock") as connection:
            if self._exclusive_pid(connection) is None:
                raise LockError(f"state {self.describe()} is not locked (no apply holds it)")
            found = self._holder_row(connection)
            if found is None:
                raise LockError(
                    f"state {self.describe()} is locked by a process that left no lock ID (a "
                    "command just starting); it is released when that process ends"
                )
            holder, pid = found
            if holder.id != lock_id:
                raise LockError(
                    f"lock ID {lock_id} does not match the lock held by {holder.describe()}"
                )
            refuse_live_holder(holder, force)
            self._terminate(connection, pid)
            connection.execute(statement(_UNREGISTER, self.schema), [self.workspace, lock_id])
        return holder

    def _terminate(self, connection: psycopg.Connection[Any], pid: int) -> None:
        try:
            connection.execute("SELECT pg_terminate_backend(%s)", [pid])
        except self.db.psycopg.errors.InsufficientPrivilege:
            raise LockError(
                f"this role may not end the database session holding the lock (backend pid "
                f"{pid}): use the holder's role, or one granted pg_signal_backend; or ask an "
                f"administrator to run SELECT pg_terminate_backend({pid})"
            ) from None
        deadline = time.monotonic() + _UNLOCK_WAIT_S
        while self._exclusive_pid(connection) == pid and time.monotonic() < deadline:
            time.sleep(0.05)
