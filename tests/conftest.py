"""Shared fixtures for end-to-end tests: a live sandbox and the real CLI.

``Workdir.run`` runs the CLI's entry point in this process, as ``reconciler`` would run
in a temporary working directory: with no terminal on stdin (as in CI), a clean
environment (only what a test passes is set), stdout and stderr captured apart, and
the exit code it exits with. ``Workdir.start`` runs ``python -m reconciler`` as a real
child process, for what only a process can show: signals, ``kill -9``, a lock held by
another process. In-process runs retry with a short backoff (the ``workdir`` fixture
injects a ``RetryPolicy``); a ``Retry-After`` is still honoured as the sandbox sends it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from reconciler.providers import http
from reconciler.sandbox import Sandbox
from reconciler.testing import pgcluster
from reconciler.testing.cli import Result, run_in_process
from reconciler.testing.workdir import GROUP, PgSchema, Workdir, sandbox_env

__all__ = ["BACKENDS", "GROUP", "PgSchema", "Result", "Workdir", "run_in_process"]

PG_DSN_ENV = "RECONCILER_TEST_PG_DSN"  # a server for the PostgreSQL tests (.ci/run sets it)
BACKENDS = ("local", "postgres")


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """Two workers per CPU for ``-n auto``: most end-to-end tests wait (on child processes,
    sockets, a sandbox's injected latency), so one worker per core leaves cores idle."""
    return 2 * (os.cpu_count() or 1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The ``slow`` tests first: each starts on a worker of its own at once, instead of
    being handed out last and running on alone while every other worker is idle."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as server:
        yield server


# Backoff between retries for in-process runs: the retries happen, the waits are short.
TEST_POLICY = replace(http.DEFAULT_POLICY, base_delay=0.01, max_delay=0.05)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A PostgreSQL server's DSN: ``RECONCILER_TEST_PG_DSN`` (``.ci/run`` starts one), else
    a throwaway cluster of this test process, else a skip (a failure when ``CI`` is set)."""
    given = os.environ.get(PG_DSN_ENV)
    if given:
        yield given
        return
    if pgcluster.find_bindir() is None:
        reason = f"no PostgreSQL: set {PG_DSN_ENV}, or install it (apt-get install postgresql)"
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL tests must run in CI: {reason}")
        pytest.skip(reason)
    cluster = pgcluster.start()
    try:
        yield cluster.dsn
    finally:
        cluster.stop()


@pytest.fixture
def pg(pg_server: str) -> Iterator[PgSchema]:
    schema = f"t_{uuid.uuid4().hex[:16]}"
    yield PgSchema(pg_server, schema)
    PgSchema(pg_server, schema).query(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture
def workdir(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> Workdir:
    """A user's repository; parametrized indirectly (``BACKENDS``), its state's backend."""
    monkeypatch.setattr(http, "DEFAULT_POLICY", TEST_POLICY)
    env = sandbox_env()
    if getattr(request, "param", "local") == "postgres":
        pg: PgSchema = request.getfixturevalue("pg")
        env["RECONCILER_PG_DSN"] = pg.dsn
        return Workdir(tmp_path, sandbox, env, pg.state_block(), pg)
    return Workdir(tmp_path, sandbox, env)
