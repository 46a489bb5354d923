"""One document (the state, or the sealed secrets) of one workspace in PostgreSQL.

A document is a row of ``state_documents`` (its header fields, in order, and its serial)
and one row of ``state_entries`` per address. Reading takes both in one snapshot
(``REPEATABLE READ``), so a reader without a lock never sees half a change. Every write
moves the header on with one conditional ``UPDATE``: only if it still holds the serial and
identity (lineage, key check) this process last read or wrote. A writer whose copy is
stale is refused, naming both serials, and its transaction writes nothing. During an apply the documents of a
backend share one ``PgSession``: changes queue in memory under the recorder's lock, and
whoever then waits becomes the leader and commits everything queued in one transaction
(group commit, like the local journal's shared flush; ``postgres_session.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from reconciler.state.backend import Snapshot
from reconciler.state.journaled import Layout
from reconciler.state.postgres_connect import Database
from reconciler.state.postgres_tables import ensure, statement, version

if TYPE_CHECKING:
    import psycopg

    from reconciler.state.postgres_session import PgLog, SessionHost

Seen = tuple[int, Any] | None  # (serial, identity) as last read or written; None: no document

_HEADER = (
    "SELECT fields, serial FROM {schema}.state_documents WHERE workspace = %s AND document = %s"
)
_ENTRIES = (
    "SELECT address, value FROM {schema}.state_entries WHERE workspace = %s AND document = %s"
)
_ADVANCE_HEADER = (
    "UPDATE {schema}.state_documents SET fields = coalesce(%s, fields), serial = %s, "
    "updated_at = now() WHERE workspace = %s AND document = %s AND serial = %s AND "
    "(fields ->> %s) IS NOT DISTINCT FROM %s"
)
_INSERT_HEADER = (
    "INSERT INTO {schema}.state_documents (workspace, document, fields, serial) "
    "VALUES (%s, %s, %s, %s)"
)
_DELETE_ENTRIES = "DELETE FROM {schema}.state_entries WHERE workspace = %s AND document = %s"
_COPY_ENTRIES = "COPY {schema}.state_entries (workspace, document, address, value) FROM STDIN"
UPSERT_ENTRY = (
    "INSERT INTO {schema}.state_entries (workspace, document, address, value) "
    "VALUES (%s, %s, %s, %s) ON CONFLICT (workspace, document, address) "
    "DO UPDATE SET value = EXCLUDED.value"
)
DELETE_ENTRY = (
    "DELETE FROM {schema}.state_entries WHERE workspace = %s AND document = %s AND address = %s"
)


class PgDocument:
    """A ``DocumentStore``: one document of one workspace, read whole, written with a check."""

    def __init__(
        self, db: Database, schema: str, workspace: str, layout: Layout, host: SessionHost
    ) -> None:
        self.db = db
        self.schema = schema
        self.workspace = workspace
        self.layout = layout
        self._host = host
        self.seen: Seen = None

    def describe(self) -> str:
        noun = "the state" if self.layout.doc == "state" else self.layout.noun
        return (
            f"{noun} in PostgreSQL {self.db.target} (schema {self.schema}, "
            f"workspace {self.workspace})"
        )

    def sql(self, text: str) -> Any:
        return statement(text, self.schema)

    def read(self) -> dict[str, Any] | None:
        """The document as JSON data (header fields, serial, entries); None when absent."""
        with self.db.use("read") as connection:
            data = self._read(connection)
        if data is None:
            self.seen = None
            return None
        self.layout.check(data, self.describe())
        self.seen = (data["serial"], data.get(self.layout.identity))
        return data

    def exists(self) -> bool:
        with self.db.use("read") as connection:
            if not version(connection, self.schema):
                return False
            row = connection.execute(self.sql(_HEADER), self._key()).fetchone()
        return row is not None

    def _read(self, connection: psycopg.Connection[Any]) -> dict[str, Any] | None:
        if not version(connection, self.schema):
            return None  # no table yet: nothing was ever written here
        with connection.transaction():
            connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            header = connection.execute(self.sql(_HEADER), self._key()).fetchone()
            if header is None:
                return None
            rows = connection.execute(self.sql(_ENTRIES), self._key()).fetchall()
        fields, serial = header
        fields = fields if isinstance(fields, dict) else {}
        return {**fields, "serial": serial, self.layout.entries: dict(rows)}

    def write(self, snapshot: Snapshot) -> int:
        """Replace the whole document, if it is still what this process read; its entries."""
        from psycopg.types.json import Json

        with self.db.use("write") as connection:
            ensure(connection, self.schema)
            with connection.transaction():
                self.claim(connection, snapshot.serial, snapshot.fields)
                connection.execute(self.sql(_DELETE_ENTRIES), self._key())
                with connection.cursor().copy(self.sql(_COPY_ENTRIES)) as copy:
                    for address, value in snapshot.entries.items():
                        copy.write_row((*self._key(), address, Json(value)))
        self.seen = (snapshot.serial, snapshot.fields.get(self.layout.identity))
        return len(snapshot.entries)

    def claim(
        self, connection: psycopg.Connection[Any], serial: int, fields: dict[str, Any] | None
    ) -> None:
        """In a transaction: move the header on (``advance``), or raise the layout's error
        naming what another writer left there (the transaction is then rolled back)."""
        if self.advance(connection, serial, fields).rowcount != 1:
            raise self.layout.error(self.stale(connection))

    def advance(
        self, connection: psycopg.Connection[Any], serial: int, fields: dict[str, Any] | None
    ) -> psycopg.Cursor[Any]:
        """Move the header to ``serial`` (and ``fields``) only if it is still what was seen:
        one statement, whose row count (1, or 0 for a stale writer) is read after the
        pipeline's sync. ``stale()`` then says what moved."""
        from psycopg.types.json import Json

        dumped = Json(fields) if fields is not None else None
        if self.seen is None:
            return connection.execute(
                self.sql(_INSERT_HEADER + " ON CONFLICT DO NOTHING"),
                (*self._key(), dumped or Json({}), serial),
            )
        return connection.execute(
            self.sql(_ADVANCE_HEADER),
            (dumped, serial, *self._key(), self.seen[0], self.layout.identity, self.seen[1]),
        )

    def stale(self, connection: psycopg.Connection[Any]) -> str:
        """Why a write was refused: what the header holds now, against what was seen."""
        row = connection.execute(self.sql(_HEADER), self._key()).fetchone()
        stored: Seen = None
        if row is not None:
            header = row[0] if isinstance(row[0], dict) else {}
            stored = (row[1], header.get(self.layout.identity))
        return self._stale(stored)

    def _stale(self, stored: Seen) -> str:
        identity = self.layout.identity
        if stored is None:
            now = "no longer exists"
        elif self.seen is not None and stored[1] != self.seen[1]:
            now = f"now holds another {identity} ({stored[1]}, not {self.seen[1]})"
        else:
            now = f"is now at serial {stored[0]}"
        read = f"read serial {self.seen[0]}" if self.seen is not None else "found none"
        return (
            f"{self.describe()} {now}, but this command {read}: another command wrote it "
            "meanwhile. Nothing was written; run this command again"
        )

    def open_session(self, identity: Any, source: Callable[[], Snapshot]) -> PgLog:
        """Record this document's changes through the backend's shared session."""
        return self._host.session().open(self, source)

    def check_writable(self, room: int = 0) -> None:
        """The backend checks both documents at once (``PostgresBackend.check_writable``)."""

    def _key(self) -> tuple[str, str]:
        return self.workspace, self.layout.doc
