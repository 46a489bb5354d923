"""kill -9 at a random moment of an apply, and what the state must be after it.

``kill_at_a_random_moment`` starts ``reconciler apply`` in a child process and SIGKILLs
it, in start-up or after a random share of its creates has reached the sandbox;
``whole_state_problem`` says why the state it left would not do (it must load, and every
account recorded as created must have its secrets sealed for that same account);
``unaccounted`` lists, after a last apply, the accounts at the provider that are neither
recorded with their token nor named in that apply's output with a way to recover them.
The kill test and the reliability report share them.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from typing import IO

from reconciler.secrets import SecretStore, load_key
from reconciler.testing.workdir import GROUP, Workdir

WAIT_S = 30


def address(name: str) -> str:
    return f'minimax.cn-main.sub_account["{name}"]'


def kill_at_a_random_moment(
    workdir: Workdir, chance: random.Random, creates: int, outputs: list[str] | None = None
) -> str:
    """Start an apply of ``creates`` accounts and SIGKILL it; returns when it was killed.

    Its creates are those the state does not record as done: new ones, and pending ones
    sent again (refused as duplicates when an earlier answer was lost). What it printed
    before it died is added to ``outputs``.
    """
    before = _creates_received(workdir)
    state = workdir.state_backend().read()
    todo = creates - sum(not record["pending"] for record in state.resources.values())
    target = chance.randint(1, todo) if todo and chance.random() > 0.15 else 0
    proc = workdir.start("apply", "--auto-approve", "--parallelism", "16")
    assert proc.stdout is not None and proc.stderr is not None
    printed: list[str] = [] if outputs is None else outputs
    drains = [_drain(stream, printed) for stream in (proc.stdout, proc.stderr)]
    try:
        if target == 0:
            time.sleep(chance.uniform(0, 0.4))
            moment = "in start-up"
        else:
            deadline = time.monotonic() + WAIT_S
            while _creates_received(workdir) - before < target and proc.poll() is None:
                assert time.monotonic() < deadline, "the apply made no progress"
                time.sleep(0.002)
            moment = f"after {target} of {todo} creates were sent"
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        else:
            moment += " (it had finished)"
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=WAIT_S)
        for drain in drains:
            drain.join(timeout=WAIT_S)
        proc.stdout.close()
        proc.stderr.close()
    _settle(workdir)
    return moment


def whole_state_problem(workdir: Workdir) -> str | None:
    """Why the state after a kill would not do: it must load, and sealed before done."""
    backend = workdir.state_backend()
    state = backend.read()
    store = SecretStore(backend.sealed_secrets(), _key(workdir))
    for where, record in state.resources.items():
        if record["pending"]:
            continue
        if record["subject_id"] not in store.subjects(where):
            return f"{where} is recorded as created, but its secrets are not sealed"
    return None


def unaccounted(workdir: Workdir, stdout: str) -> tuple[list[str], list[str]]:
    """After an apply: the accounts at the provider neither recorded with their token nor
    named in its output with ``import`` advice; and those that were named."""
    backend = workdir.state_backend()
    state, store = backend.read(), SecretStore(backend.sealed_secrets(), _key(workdir))
    reported = failures(stdout)
    left, named = [], []
    for account in workdir.sandbox.minimax_accounts(GROUP):
        where = address(account["account_name"])
        record = state.resources.get(where, {})
        recorded = record.get("subject_id") == account["subject_id"] and not record["pending"]
        if recorded and store.has(where) and store.get(where, "token") == account["token"]:
            continue
        if "import" in reported.get(where, ""):
            named.append(where)
        else:
            left.append(where)
    return left, named


def failures(stdout: str) -> dict[str, str]:
    """An apply's FAILED lines (with their indented advice) by address."""
    found = {}
    for chunk in stdout.split("FAILED: ")[1:]:
        where, _, message = chunk.partition(" (")
        found[where] = message.split("\nApply ")[0]
    return found


def _key(workdir: Workdir) -> bytes | None:
    return load_key("K", {"K": workdir.env["RECONCILER_SECRET_KEY"]})


def _drain(stream: IO[str], into: list[str]) -> threading.Thread:
    """Read a child's output as it comes: a full pipe would stop it (its plan is 100 kB)."""
    thread = threading.Thread(target=lambda: into.append(stream.read()), daemon=True)
    thread.start()
    return thread


def _creates_received(workdir: Workdir) -> int:
    return sum(r["method"] == "POST" for r in workdir.sandbox.requests)


def _settle(workdir: Workdir) -> None:
    """Creates sent before the kill still land at the provider: wait until they have."""
    deadline = time.monotonic() + WAIT_S
    last = -1
    while (count := len(workdir.accounts())) != last:
        assert time.monotonic() < deadline
        last = count
        time.sleep(0.05)
