"""The PostgreSQL backend's tables, made on first use and migrated by version; lock keys.

Four tables in the configured schema (``docs/state-format.md`` describes them), shared by
every workspace: ``state_documents`` (each document's header fields and serial),
``state_entries`` (one row per address and document), ``state_locks`` (who holds a
workspace's exclusive lock) and ``state_migrations`` (the versions applied). A writer
creates or migrates them under a transaction-level advisory lock, so two CI runners
starting at once on an empty database do not race; a reader never creates anything (an
absent table is an empty state, and a read-only role can plan). Tables of a newer
version than this reconciler knows are refused rather than misread.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from reconciler.errors import StateError

if TYPE_CHECKING:
    import psycopg

LATEST = 1

_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """CREATE TABLE {schema}.state_documents (
            workspace text NOT NULL,
            document text NOT NULL,
            fields json NOT NULL,
            serial bigint NOT NULL CHECK (serial >= 0),
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (workspace, document))""",
        """CREATE TABLE {schema}.state_entries (
            workspace text NOT NULL,
            document text NOT NULL,
            address text NOT NULL,
            value json NOT NULL,
            PRIMARY KEY (workspace, document, address),
            FOREIGN KEY (workspace, document)
                REFERENCES {schema}.state_documents ON DELETE CASCADE)""",
        """CREATE TABLE {schema}.state_locks (
            workspace text PRIMARY KEY,
            lock_id text NOT NULL,
            operation text NOT NULL,
            who text NOT NULL,
            pid integer NOT NULL,
            created text NOT NULL,
            backend_pid integer NOT NULL)""",
    ),
}


def lock_key(schema: str, workspace: str) -> int:
    """The advisory lock of one workspace: a signed 64-bit number from schema + workspace."""
    digest = hashlib.sha256(f"reconciler state\0{schema}\0{workspace}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lock_parts(key: int) -> tuple[int, int]:
    """How ``pg_locks`` shows a 64-bit advisory key: (classid, objid)."""
    unsigned = key & 0xFFFF_FFFF_FFFF_FFFF
    return unsigned >> 32, unsigned & 0xFFFF_FFFF


def version(connection: psycopg.Connection[Any], schema: str) -> int:
    """The tables' version: 0 when there are none; ``StateError`` when newer than known."""
    found = connection.execute(
        "SELECT to_regclass(format('%%I.state_migrations', %s::text)) IS NOT NULL", [schema]
    ).fetchone()
    if not found or not found[0]:
        return 0
    sql = statement("SELECT max(version) FROM {schema}.state_migrations", schema)
    row = connection.execute(sql).fetchone()
    current = int(row[0]) if row and row[0] is not None else 0
    if current > LATEST:
        raise StateError(
            f"the state tables in schema {schema} are version {current}, newer than this "
            f"reconciler knows ({LATEST}): upgrade reconciler"
        )
    return current


def ensure(connection: psycopg.Connection[Any], schema: str) -> None:
    """Create or migrate the tables (a writer, before its first write)."""
    if version(connection, schema) == LATEST:
        return
    with connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(%s)", [lock_key(schema, "")])
        exists = connection.execute(
            "SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema]
        ).fetchone()
        if not exists:
            connection.execute(statement("CREATE SCHEMA {schema}", schema))
        connection.execute(
            statement(
                "CREATE TABLE IF NOT EXISTS {schema}.state_migrations "
                "(version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
                schema,
            )
        )
        for step in range(version(connection, schema) + 1, LATEST + 1):
            for text in _MIGRATIONS[step]:
                connection.execute(statement(text, schema))
            insert = "INSERT INTO {schema}.state_migrations (version) VALUES (%s)"
            connection.execute(statement(insert, schema), [step])


def statement(text: str, schema: str) -> Any:
    """``text`` with ``{schema}`` as a quoted identifier (the config's pattern allows no
    quote, and it is quoted all the same)."""
    from psycopg import sql

    return sql.SQL(text).format(schema=sql.Identifier(schema))
