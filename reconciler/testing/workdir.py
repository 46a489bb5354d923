"""A user's repository for end-to-end runs: config files, an environment, the CLI.

``Workdir`` writes configs against a running sandbox and runs ``reconciler`` there, in
this process (``run``: see ``cli.py``) or as a child process (``start``: for signals,
``kill -9`` and locks held elsewhere). The test suite's ``workdir`` fixture and the
reliability report both build on it; ``sandbox_env`` is the environment such a run sees
(the sandbox's keys, a fresh secrets key, nothing else of this process's but its paths).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.model import StateSettings
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
from reconciler.testing.cli import Result, run_in_process

GROUP = SANDBOX_MINIMAX_GROUP_ID


def wait_for(condition: Callable[[], object], timeout: float = 15.0) -> None:
    """Poll ``condition`` until it holds (a child process got that far); fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def sandbox_env() -> dict[str, str]:
    """What a run against the sandbox sees: its keys, a new secrets key, PATH and HOME."""
    kept = ("PATH", "HOME", "LANG", "LC_ALL", "SYSTEMROOT")
    env = {k: v for k, v in os.environ.items() if k in kept}
    env.update(
        {
            "MINIMAX_API_KEY": SANDBOX_MINIMAX_API_KEY,
            "XAI_MANAGEMENT_KEY": SANDBOX_XAI_MANAGEMENT_KEY,
            "RECONCILER_SECRET_KEY": generate_key(),
            "PYTHONIOENCODING": "utf-8",
        }
    )
    return env


@dataclass(frozen=True)
class PgSchema:
    """A PostgreSQL schema of one test's own, dropped after it: parallel tests share nothing."""

    dsn: str
    schema: str

    def state_block(self, workspace: str = "default") -> str:
        return (
            "state:\n  backend: postgres\n  dsn_env: RECONCILER_PG_DSN\n"
            f"  schema: {self.schema}\n  workspace: {workspace}\n"
        )

    def query(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as connection:
            cursor = connection.execute(sql, params)
            return cursor.fetchall() if cursor.description else []


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

    def another_state(self, name: str) -> str:
        """A state block for another state of this workdir's backend: ``NAME/reconciler.json``
        for the local file, workspace ``NAME`` in PostgreSQL."""
        if self.pg is None:
            return f"state:\n  path: {name}/reconciler.json\n"
        return self.pg.state_block(name)

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
            for table in ("state_documents", "state_entries", "state_locks"):
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

    def accounts(self) -> dict[str, dict[str, Any]]:
        return {a["account_name"]: a for a in self.sandbox.minimax_accounts(GROUP)}

    def all_file_bytes(self) -> bytes:
        return b"".join(p.read_bytes() for p in self.path.rglob("*") if p.is_file())
