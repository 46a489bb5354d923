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

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from reconciler.providers import http
from reconciler.sandbox import Sandbox
from reconciler.testing.cli import Result, run_in_process
from reconciler.testing.workdir import GROUP, Workdir, sandbox_env

__all__ = ["GROUP", "Result", "Workdir", "run_in_process"]


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as server:
        yield server


# Backoff between retries for in-process runs: the retries happen, the waits are short.
TEST_POLICY = replace(http.DEFAULT_POLICY, base_delay=0.01, max_delay=0.05)


@pytest.fixture
def workdir(tmp_path: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Workdir:
    monkeypatch.setattr(http, "DEFAULT_POLICY", TEST_POLICY)
    return Workdir(tmp_path, sandbox, sandbox_env())
