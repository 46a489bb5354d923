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
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from reconciler.providers import http
from reconciler.sandbox import (
    SANDBOX_MINIMAX_API_KEY,
    SANDBOX_MINIMAX_GROUP_ID,
    SANDBOX_XAI_MANAGEMENT_KEY,
    SANDBOX_XAI_TEAM_ID,
    Sandbox,
)
from reconciler.secrets import generate_key
from reconciler.testing.cli import Result, run_in_process

__all__ = ["Result", "Workdir", "run_in_process"]

GROUP = SANDBOX_MINIMAX_GROUP_ID


@dataclass
class Workdir:
    """A user's repository: config files, env, and the CLI to run in it."""

    path: Path
    sandbox: Sandbox
    env: dict[str, str]

    def write(self, name: str, text: str) -> Path:
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return target

    def config(self, accounts: str, *, extra: str = "", name: str = "reconciler.yaml") -> Path:
        """A one-group config against the sandbox; ``accounts`` is the sub_accounts list body."""
        body = textwrap.indent(textwrap.dedent(accounts).strip("\n"), " " * 6)
        header = (
            "version: 1\n"
            + (textwrap.dedent(extra).strip() + "\n" if extra.strip() else "")
            + "minimax:\n"
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
            "version: 1\n"
            + (textwrap.dedent(extra).strip() + "\n" if extra.strip() else "")
            + "xai:\n"
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


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as server:
        yield server


# Backoff between retries for in-process runs: the retries happen, the waits are short.
TEST_POLICY = replace(http.DEFAULT_POLICY, base_delay=0.01, max_delay=0.05)


@pytest.fixture
def workdir(tmp_path: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Workdir:
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
    return Workdir(tmp_path, sandbox, base_env)
