"""The PostgreSQL backend against a real server: documents, stale writers, locks, workspaces.

Each test has a schema of its own (the ``pg`` fixture), so parallel tests share nothing.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from conftest import PgSchema

from reconciler.errors import LockError, SecretsError, StateError
from reconciler.model import StateSettings
from reconciler.resources.minimax_sub_account import RecordedSubAccount
from reconciler.secrets import SecretStore, generate_key, load_key
from reconciler.state.factory import open_backend
from reconciler.state.postgres import PostgresBackend


def backend(pg: PgSchema, workspace: str = "default") -> PostgresBackend:
    settings = StateSettings(backend="postgres", schema=pg.schema, workspace=workspace)
    made = open_backend(settings, {"RECONCILER_PG_DSN": pg.dsn})
    assert isinstance(made, PostgresBackend)
    return made


def record(name: str, subject_id: str = "1766027179931476045") -> RecordedSubAccount:
    return RecordedSubAccount(
        alias="cn-main",
        name=name,
        group_id="1687256519302470",
        subject_id=subject_id,
        token_generation=1,
        token_issued_at=datetime(2026, 8, 1, 9, 30, tzinfo=UTC),
        token_fingerprint="0123abcd",
        created_at=datetime(2026, 7, 1, 12, 0, tzinfo=UTC),
    )


def tables(pg: PgSchema) -> list[str]:
    rows = pg.query("SELECT tablename FROM pg_tables WHERE schemaname = %s", pg.schema)
    return sorted(str(row[0]) for row in rows)


def test_reading_an_empty_database_gives_a_fresh_state_and_creates_nothing(pg):
    state = backend(pg).read()
    assert state.serial == 0 and state.resources == {}
    assert backend(pg).missing_state() is not None
    assert tables(pg) == []


def test_a_write_creates_the_tables_and_reads_back_exactly(pg):
    first = backend(pg)
    state = first.read()
    state.put(record("ci-bot"))
    state.put(record("数据分析", "1766027179931476046"))
    first.write(state)
    assert tables(pg) == ["state_documents", "state_entries", "state_locks", "state_migrations"]
    again = backend(pg).read()
    assert (again.lineage, again.serial) == (state.lineage, 1)
    assert again.resources == state.resources
    assert list(again.resources[record("ci-bot").address]) == list(record("ci-bot").to_dict())
    assert backend(pg).missing_state() is None


def test_a_writer_holding_an_old_serial_is_refused_and_writes_nothing(pg):
    slow, fast = backend(pg), backend(pg)
    stale = slow.read()
    current = fast.read()
    current.put(record("ci-bot"))
    fast.write(current)
    stale.put(record("other", "1766027179931476046"))
    with pytest.raises(StateError, match=r"now at serial 1, but this command found none"):
        slow.write(stale)
    assert set(backend(pg).read().resources) == {record("ci-bot").address}
    current.remove(record("ci-bot").address)
    fast.write(current)
    old = slow.read()
    fast.write(fast.read())
    with pytest.raises(StateError, match=r"is now at serial 3, but this command read serial 2"):
        slow.write(old)


def test_a_change_log_over_a_state_written_by_another_is_refused(pg):
    ours, theirs = backend(pg), backend(pg)
    state = ours.read()
    ours.write(state)
    theirs.write(theirs.read())
    log = ours.change_log(state, state.snapshot)
    state.serial += 1
    commit = log.record(state.serial, record("ci-bot").address, record("ci-bot").to_dict())
    with pytest.raises(StateError, match="now at serial 2, but this command read serial 1"):
        commit.wait()
    log.close()
    assert backend(pg).read().resources == {}


def test_changes_from_many_threads_are_committed_together_and_all_kept(pg):
    store_backend = backend(pg)
    state = store_backend.read()
    key = load_key("K", {"K": generate_key()})
    store = SecretStore(store_backend.sealed_secrets(), key)
    lock = threading.Lock()
    log = store_backend.change_log(state, state.snapshot)
    store.begin()

    def create(i: int) -> None:
        made = record(f"acct-{i:03d}", str(1766027179931476000 + i))
        with lock:
            store.put(made.address, "token", f"token-{i}", "2026-08-01T09:00:00Z", made.subject_id)
            sealed = store.commit()
            state.put(made)
            state.serial += 1
            commit = log.record(state.serial, made.address, made.to_dict(), after=sealed)
        commit.wait()

    threads = [threading.Thread(target=create, args=(i,)) for i in range(200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert log.close() is None and store.end() is None
    read = backend(pg).read()
    assert (read.serial, len(read.resources)) == (200, 200)
    reopened = SecretStore(backend(pg).sealed_secrets(), key)
    assert reopened.get(record("acct-007").address, "token") == "token-7"
    with pytest.raises(SecretsError, match="not the key"):
        SecretStore(backend(pg).sealed_secrets(), load_key("K", {"K": generate_key()}))


def test_workspaces_side_by_side_keep_their_own_state_and_lock(pg):
    prod, staging = backend(pg, "prod"), backend(pg, "staging")
    state = prod.read()
    state.put(record("ci-bot"))
    prod.write(state)
    assert staging.read().resources == {}
    with prod.lock("apply"), staging.lock("apply") as held:
        assert held is not None
        with pytest.raises(LockError, match=r"workspace prod\) is locked by .*apply"):
            backend(pg, "prod").lock("apply").__enter__()
    assert backend(pg, "prod").read().resources == state.resources


def test_a_held_lock_names_its_holder_to_another_process(pg):
    holder = backend(pg)
    with holder.lock("apply") as info:
        assert info is not None
        assert backend(pg).holder() == info
        with pytest.raises(LockError) as refused:
            backend(pg).lock("plan", shared=True).__enter__()
    message = str(refused.value)
    assert f"pid {info.pid}, apply" in message and f"force-unlock --force {info.id}" in message
    assert backend(pg).holder() is None


def test_plans_share_the_lock_and_an_apply_waits_for_them(pg):
    with (
        backend(pg).lock("plan", shared=True),
        backend(pg).lock("plan", shared=True),
        pytest.raises(LockError, match="a plan reading it"),
    ):
        backend(pg).lock("apply").__enter__()
    with backend(pg).lock("apply") as info:
        assert info is not None


def test_lock_timeout_waits_for_the_holder_to_finish(pg):
    holder = backend(pg)
    released = threading.Event()

    def hold() -> None:
        with holder.lock("apply"):
            time.sleep(0.6)
        released.set()

    thread = threading.Thread(target=hold)
    thread.start()
    time.sleep(0.2)
    with backend(pg).lock("apply", timeout=10) as info:
        assert released.is_set() and info is not None
    thread.join()


HOLD_LOCK = """
import sys, time
from reconciler.model import StateSettings
from reconciler.state.factory import open_backend
settings = StateSettings(backend="postgres", schema=sys.argv[1])
with open_backend(settings, {"RECONCILER_PG_DSN": sys.argv[2]}).lock("apply") as info:
    print(info.id, flush=True)
    time.sleep(60)
"""


def test_a_holder_killed_with_sigkill_frees_the_lock_at_once(pg):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, pg.schema, pg.dsn], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None
    try:
        lock_id = holder.stdout.readline().strip()
        with pytest.raises(LockError, match=lock_id):
            backend(pg).lock("apply").__enter__()
        holder.kill()
        holder.wait()
        # At once: the server sees the connection close (a lost machine would take the
        # server's TCP keepalive, minutes); 2 s covers the kernel's and the server's turn.
        with backend(pg).lock("apply", timeout=2) as info:
            assert info is not None and info.id != lock_id
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()


def test_force_unlock_ends_only_the_holders_session_which_then_cannot_write(pg):
    holder = backend(pg)
    state = holder.read()
    other = pg.query("SELECT 1")  # a session of another client, which must survive
    assert other == [(1,)]
    with holder.lock("apply") as info:
        assert info is not None
        with pytest.raises(LockError, match=f"does not match the lock held by .*{info.id}"):
            backend(pg).force_unlock("not-the-id")
        with pytest.raises(LockError, match="still running on this host"):
            backend(pg).force_unlock(info.id)
        released = backend(pg).force_unlock(info.id, force=True)
        assert released == info
        with backend(pg).lock("apply") as taken:
            assert taken is not None
            with pytest.raises(StateError):
                holder.write(state)
    assert backend(pg).read().serial == 0
    with pytest.raises(LockError, match="is not locked"):
        backend(pg).force_unlock(info.id, force=True)


def test_tables_of_a_newer_version_are_refused_not_misread(pg):
    backend(pg).write(backend(pg).read())
    pg.query(f"INSERT INTO {pg.schema}.state_migrations (version) VALUES (99)")
    with pytest.raises(StateError, match="version 99, newer than this reconciler knows"):
        backend(pg).read()


def test_two_writers_creating_the_tables_at_once_both_succeed(pg):
    errors: list[BaseException] = []

    def first_write(workspace: str) -> None:
        try:
            made = backend(pg, workspace)
            made.write(made.read())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=first_write, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(pg.query(f"SELECT * FROM {pg.schema}.state_documents")) == 4


def test_a_missing_dsn_variable_is_named(pg):
    with pytest.raises(StateError, match="RECONCILER_PG_DSN is unset"):
        open_backend(StateSettings(backend="postgres"), {})
    with pytest.raises(StateError, match="RECONCILER_PG_DSN is empty"):
        open_backend(StateSettings(backend="postgres"), {"RECONCILER_PG_DSN": "  "})


@pytest.mark.parametrize(
    "dsn",
    [
        "host=db password=hunter2-секрет sslmode",
        "postgresql://u:hunter2-секрет@db/x?nonsense=1",
        "hunter2-секрет",
    ],
)
def test_a_dsn_that_does_not_parse_is_never_shown(dsn):
    with pytest.raises(StateError) as refused:
        open_backend(StateSettings(backend="postgres"), {"RECONCILER_PG_DSN": dsn})
    assert "RECONCILER_PG_DSN does not hold a PostgreSQL connection string" in str(refused.value)
    assert "hunter2" not in str(refused.value)


def test_a_wrong_password_names_the_target_never_the_password(pg):
    parts = urlsplit(pg.dsn)
    wrong = pg.dsn.replace(f":{parts.password}@", ":hunter2-wrong@")
    made = open_backend(StateSettings(backend="postgres"), {"RECONCILER_PG_DSN": wrong})
    with pytest.raises(StateError) as refused:
        made.read()
    message = str(refused.value)
    assert f"cannot connect to the state database {parts.username}@{parts.hostname}" in message
    assert "hunter2" not in message and "RECONCILER_PG_DSN" in message


def test_without_psycopg_the_error_names_the_extra_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(StateError, match=r"pip install 'ai-account-reconciler\[postgres\]'"):
        open_backend(StateSettings(backend="postgres"), {"RECONCILER_PG_DSN": "host=x"})


def test_a_read_only_role_can_plan_and_apply_is_refused_naming_the_grant(pg):
    writer = backend(pg)
    writer.write(writer.read())
    role = f"ro_{pg.schema}"
    pg.query(f"CREATE ROLE {role} LOGIN PASSWORD 'ro-password'")
    try:
        pg.query(f"GRANT USAGE ON SCHEMA {pg.schema} TO {role}")
        pg.query(f"GRANT SELECT ON ALL TABLES IN SCHEMA {pg.schema} TO {role}")
        parts = urlsplit(pg.dsn)
        dsn = pg.dsn.replace(f"{parts.username}:{parts.password}@", f"{role}:ro-password@")
        settings = StateSettings(backend="postgres", schema=pg.schema)
        reader = open_backend(settings, {"RECONCILER_PG_DSN": dsn})
        with reader.lock("plan", shared=True):
            assert reader.read().serial == 1
        with pytest.raises(StateError, match=rf"cannot INSERT on {pg.schema}.state_documents"):
            reader.check_writable()
    finally:
        pg.query(f"DROP OWNED BY {role}")
        pg.query(f"DROP ROLE {role}")


def test_connections_probe_an_idle_or_unanswering_server_unless_the_dsn_says_otherwise(pg):
    from reconciler.state.postgres_connect import Database

    defaulted = Database(pg.dsn, "RECONCILER_PG_DSN").connect("test")
    if pg.dsn.startswith("postgres"):  # a URI, else key=value pairs
        own = pg.dsn + ("&" if "?" in pg.dsn else "?") + "keepalives_idle=7"
    else:
        own = pg.dsn + " keepalives_idle=7"
    chosen = Database(own, "RECONCILER_PG_DSN").connect("test")
    try:
        given = defaulted.info.get_parameters()
        assert (given["keepalives"], given["keepalives_idle"]) == ("1", "30")
        assert given["tcp_user_timeout"] == "60000"
        assert chosen.info.get_parameters()["keepalives_idle"] == "7"  # the DSN's own wins
    finally:
        defaulted.close()
        chosen.close()
