"""Reaching the PostgreSQL state: psycopg imported lazily, the DSN never shown.

The DSN comes only from the environment variable ``state.dsn_env`` names (never the
config: it may hold a password). Every message about the database names that variable
and the target as host, port, database and user, never the DSN itself: libpq's own
words are passed on with the password and the DSN cut out, and a DSN that does not parse
is described, not quoted (its parser quotes the text it choked on). ``Database`` hands
out one connection per command: the lock's, while a lock is held (so a write is made on
the connection whose death frees the lock), else one opened for the operation.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from reconciler.errors import StateError

if TYPE_CHECKING:
    import psycopg

EXTRA = "ai-account-reconciler[postgres]"
CONNECT_TIMEOUT_S = 10  # unless the DSN says otherwise
# A database that stops answering (a partition, a vanished host) must end a command with
# an error, not hang it: TCP keepalives probe an idle connection (the lock's, for a whole
# apply) and tcp_user_timeout drops one whose data goes unacknowledged. Each unless the
# DSN sets it; a Unix socket ignores them.
TCP_DEFAULTS = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
    "tcp_user_timeout": 60_000,  # milliseconds
}


def import_psycopg() -> Any:
    """psycopg, or a ``StateError`` naming the extra that installs it."""
    try:
        import psycopg
    except ImportError:
        raise StateError(
            "state.backend: postgres needs psycopg (PostgreSQL's driver for Python), which is "
            f"not installed: pip install '{EXTRA}'"
        ) from None
    return psycopg


class Database:
    """Connections to one database, from a DSN no message ever shows."""

    def __init__(self, dsn: str, dsn_env: str) -> None:
        self.psycopg = import_psycopg()
        self.dsn_env = dsn_env
        self._dsn = dsn
        self.params = _parse(self.psycopg, dsn, dsn_env)
        self.target = _target(self.params)
        self._held: psycopg.Connection[Any] | None = None
        self._lock = threading.RLock()

    @classmethod
    def from_environ(cls, dsn_env: str, environ: Mapping[str, str]) -> Database:
        dsn = environ.get(dsn_env, "").strip()
        if not dsn:
            raise StateError(
                f"{dsn_env} is {'empty' if dsn_env in environ else 'unset'}: state.backend "
                "postgres reads the database's connection "
                f"string (postgresql://USER@HOST:PORT/DATABASE?sslmode=verify-full) from it"
            )
        return cls(dsn, dsn_env)

    def connect(self, purpose: str) -> psycopg.Connection[Any]:
        """A new autocommit connection, named for ``pg_stat_activity`` by its purpose."""
        options: dict[str, Any] = {"autocommit": True, "application_name": f"reconciler {purpose}"}
        defaults = {"connect_timeout": CONNECT_TIMEOUT_S, **TCP_DEFAULTS}
        options.update({key: value for key, value in defaults.items() if key not in self.params})
        try:
            return self.psycopg.connect(self._dsn, **options)  # type: ignore[no-any-return]
        except self.psycopg.Error as exc:
            raise StateError(
                f"cannot connect to the state database {self.target} ({self.dsn_env}): "
                f"{self.scrub(exc)}"
            ) from None

    def holding(self) -> bool:
        with self._lock:
            return self._held is not None

    def hold(self, connection: psycopg.Connection[Any] | None) -> None:
        """Use ``connection`` for every operation from now on (a lock's); None: stop."""
        with self._lock:
            self._held = connection

    def let_go(self, connection: psycopg.Connection[Any], wait: float) -> bool:
        """Stop handing out the held ``connection``; True once no operation runs on it.

        An operation still running after ``wait`` seconds (a commit the database holds up,
        left running by a second interrupt) is cancelled. False when even that does not
        end it (the database stopped answering): the connection is then left to the
        process's exit, which ends its session and frees the lock.
        """
        for attempt in range(2):
            if self._lock.acquire(timeout=wait):
                try:
                    self._held = None
                finally:
                    self._lock.release()
                return True
            if attempt == 0:
                _cancel(connection, wait)
        return False

    @contextlib.contextmanager
    def use(self, purpose: str) -> Iterator[psycopg.Connection[Any]]:
        """The held connection (one operation at a time), else a new one closed after."""
        with self._lock:
            held = self._held
            if held is not None:
                with self.failures():
                    yield held
                return
        connection = self.connect(purpose)
        try:
            with self.failures():
                yield connection
        finally:
            connection.close()

    @contextlib.contextmanager
    def failures(self) -> Iterator[None]:
        """psycopg's errors as ``StateError``s naming the target, the DSN cut out."""
        try:
            yield
        except self.psycopg.errors.InsufficientPrivilege as exc:
            raise StateError(
                f"the state database {self.target} refused: {self.scrub(exc)}. The role needs "
                "the grants the README lists (Team state on PostgreSQL)"
            ) from None
        except self.psycopg.Error as exc:
            raise StateError(f"the state database {self.target}: {self.scrub(exc)}") from None

    def scrub(self, exc: BaseException) -> str:
        """libpq's message, first line, with the password and the DSN cut out."""
        text = str(exc).strip() or type(exc).__name__
        for secret in (self._dsn, self.params.get("password")):
            if secret:
                text = text.replace(secret, "***")
        return " ".join(text.split())


def _cancel(connection: psycopg.Connection[Any], wait: float) -> None:
    """Ask the server to cancel what ``connection`` runs (best effort, from any thread)."""
    with contextlib.suppress(Exception):
        if hasattr(connection, "cancel_safe"):  # psycopg 3.2+: bounded by a timeout
            connection.cancel_safe(timeout=wait)
        else:
            connection.cancel()


def _parse(psycopg: Any, dsn: str, dsn_env: str) -> dict[str, str]:
    try:
        params: dict[str, str] = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.Error:
        raise StateError(
            f"{dsn_env} does not hold a PostgreSQL connection string (a URI like "
            "postgresql://USER@HOST:PORT/DATABASE, or key=value pairs like host=... dbname=...); "
            "its value is not shown, it may hold a password"
        ) from None
    return params


def _target(params: Mapping[str, str]) -> str:
    """``user@host:port/database`` from what the DSN says (libpq's defaults otherwise)."""
    host = params.get("host") or params.get("hostaddr") or "localhost"
    port = f":{params['port']}" if params.get("port") else ""
    user = f"{params['user']}@" if params.get("user") else ""
    database = params.get("dbname") or params.get("user") or ""
    return f"{user}{host}{port}/{database}"
