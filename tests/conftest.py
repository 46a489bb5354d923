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

import gc
import io
import os
import re
import signal
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from reconciler.model import StateSettings
from reconciler.providers import http
from reconciler.sandbox import (
    SANDBOX_MINIMAX_API_KEY,
    SANDBOX_MINIMAX_GROUP_ID,
    SANDBOX_XAI_MANAGEMENT_KEY,
    SANDBOX_XAI_TEAM_ID,
    Sandbox,
)
from reconciler.secrets import generate_key
from reconciler.state import LocalBackend, StateBackend
from reconciler.state.factory import open_backend
from reconciler.testing import pgcluster

GROUP = SANDBOX_MINIMAX_GROUP_ID
PG_DSN_ENV = "RECONCILER_TEST_PG_DSN"  # a server for the PostgreSQL tests (.ci/run sets it)


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@dataclass
class Workdir:
    """A user's repository: config files, env, and the CLI to run in it."""

    path: Path
    sandbox: Sandbox
    env: dict[str, str]
    state: str = ""  # the config's state block (the postgres backend's), "" for the default
    pg: PgSchema | None = None

    @property
    def backend(self) -> str:
        return "local" if self.pg is None else "postgres"

    def _extra(self, extra: str) -> str:
        """``extra`` config lines, after this workdir's state block (unless one is given)."""
        given = textwrap.dedent(extra).strip()
        if self.state and not re.search(r"^state:", given, re.M):
            given = self.state + given
        return given.strip() + "\n" if given.strip() else ""

    def state_backend(self) -> StateBackend:
        """The backend this workdir's config names (the default local file, or PostgreSQL)."""
        if self.pg is None:
            return LocalBackend(self.path / "state" / "reconciler.json")
        settings = StateSettings(backend="postgres", schema=self.pg.schema)
        return open_backend(settings, {"RECONCILER_PG_DSN": self.pg.dsn})

    def stored_bytes(self) -> bytes:
        """Everything kept: every file, and this workdir's rows in PostgreSQL as text."""
        rows = b""
        if self.pg is not None:
            tables = ("state_documents", "state_entries", "state_locks")
            for table in tables:
                found = self.pg.query(f"SELECT to_regclass('{self.pg.schema}.{table}')")
                if found and found[0][0]:
                    dump = self.pg.query(f"SELECT t::text FROM {self.pg.schema}.{table} t")
                    rows += "\n".join(str(row[0]) for row in dump).encode()
        return self.all_file_bytes() + rows

    def write(self, name: str, text: str) -> Path:
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return target

    def config(self, accounts: str, *, extra: str = "", name: str = "reconciler.yaml") -> Path:
        """A one-group config against the sandbox; ``accounts`` is the sub_accounts list body."""
        body = textwrap.indent(textwrap.dedent(accounts).strip("\n"), " " * 6)
        header = (
            "version: 1\n" + self._extra(extra) + "minimax:\n"
            "  cn-main:\n"
            f'    group_id: "{GROUP}"\n'
            "    api_key_env: MINIMAX_API_KEY\n"
            f"    base_url: {self.sandbox.url}\n"
            "    sub_accounts:\n"
        )
        target = self.path / name
        target.write_text(header + body + "\n", encoding="utf-8")
        return target

    def xai_config(
        self, monthly_usd: str | None = "500.00", *, name: str = "reconciler.yaml", extra: str = ""
    ) -> Path:
        """A one-team xAI config against the sandbox; ``None`` leaves the limit out."""
        limit = f'    spending_limit:\n      monthly_usd: "{monthly_usd}"\n' if monthly_usd else ""
        text = (
            "version: 1\n" + self._extra(extra) + "xai:\n"
            "  prod:\n"
            f'    team_id: "{SANDBOX_XAI_TEAM_ID}"\n'
            "    management_key_env: XAI_MANAGEMENT_KEY\n"
            f"    base_url: {self.sandbox.url}\n" + limit
        )
        target = self.path / name
        target.write_text(text, encoding="utf-8")
        return target

    def run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 60) -> Result:
        """The CLI with ``args``, in this process; ``timeout`` applies to subprocess runs."""
        merged = {**self.env, **(env or {})}
        merged = {k: v for k, v in merged.items() if v is not None}
        return run_in_process(list(args), self.path, merged)

    def start(self, *args: str) -> subprocess.Popen[str]:
        """The CLI in the background (to interrupt, kill or race it); output is captured."""
        return subprocess.Popen(
            [sys.executable, "-m", "reconciler", *args],
            cwd=self.path,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def accounts(self) -> dict[str, dict]:
        return {a["account_name"]: a for a in self.sandbox.minimax_accounts(GROUP)}

    def all_file_bytes(self) -> bytes:
        return b"".join(p.read_bytes() for p in self.path.rglob("*") if p.is_file())


def run_in_process(args: list[str], cwd: Path, env: dict[str, str]) -> Result:
    """``reconciler ARGS`` through ``main()``, as a child process would see the world.

    The working directory, the environment, stdin (empty, no terminal), stdout, stderr,
    the SIGTERM handler and the GC settings are this process's own, so each is swapped
    for the run and put back after it. xdist runs tests in separate processes, so no two
    runs share them.
    """
    from reconciler.cli import main

    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    saved_streams = sys.stdin, sys.stdout, sys.stderr
    saved_sigterm, saved_gc = signal.getsignal(signal.SIGTERM), gc.get_threshold()
    stdout, stderr = _stream(), _stream()
    try:
        os.environ.clear()
        os.environ.update(env)
        os.chdir(cwd)
        sys.stdin, sys.stdout, sys.stderr = io.StringIO(""), stdout, stderr
        try:
            main(args)
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved_streams
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        signal.signal(signal.SIGTERM, saved_sigterm)
        gc.set_threshold(*saved_gc)
        gc.unfreeze()  # main() freezes what it made, for a fast exit; tests keep collecting
    return Result(code, _text(stdout), _text(stderr))


def _stream() -> io.TextIOWrapper:
    """A stream like a redirected stdout: UTF-8 (as PYTHONIOENCODING says), no terminal."""
    return io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict", write_through=True)


def _text(stream: io.TextIOWrapper) -> str:
    stream.flush()
    buffer = stream.buffer
    assert isinstance(buffer, io.BytesIO)
    return buffer.getvalue().decode("utf-8")


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


@dataclass(frozen=True)
class PgSchema:
    """A schema of its own for one test, dropped after it: parallel tests share nothing."""

    dsn: str
    schema: str

    def state_block(self, workspace: str = "default") -> str:
        return (
            "state:\n  backend: postgres\n  dsn_env: RECONCILER_PG_DSN\n"
            f"  schema: {self.schema}\n  workspace: {workspace}\n"
        )

    def query(self, sql: str, *params: object) -> list[tuple[object, ...]]:
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as connection:
            cursor = connection.execute(sql, params)
            return cursor.fetchall() if cursor.description else []


@pytest.fixture
def pg(pg_server: str) -> Iterator[PgSchema]:
    schema = f"t_{uuid.uuid4().hex[:16]}"
    yield PgSchema(pg_server, schema)
    PgSchema(pg_server, schema).query(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


BACKENDS = ("local", "postgres")


@pytest.fixture
def workdir(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> Workdir:
    """A user's repository; parametrized indirectly (``BACKENDS``), its state's backend."""
    monkeypatch.setattr(http, "DEFAULT_POLICY", TEST_POLICY)
    base_env = {
        k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "SYSTEMROOT")
    }
    base_env.update(
        {
            "MINIMAX_API_KEY": SANDBOX_MINIMAX_API_KEY,
            "XAI_MANAGEMENT_KEY": SANDBOX_XAI_MANAGEMENT_KEY,
            "RECONCILER_SECRET_KEY": generate_key(),
            "PYTHONIOENCODING": "utf-8",
        }
    )
    backend = getattr(request, "param", "local")
    if backend == "postgres":
        pg: PgSchema = request.getfixturevalue("pg")
        base_env["RECONCILER_PG_DSN"] = pg.dsn
        return Workdir(tmp_path, sandbox, base_env, pg.state_block(), pg)
    return Workdir(tmp_path, sandbox, base_env)
