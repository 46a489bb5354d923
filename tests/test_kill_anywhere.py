"""kill -9 anywhere in a 400-create apply: every state loads, and nothing is lost or twinned.

One apply of 400 sub-accounts is killed with SIGKILL at 20 random moments (in start-up,
while creates are in flight, right after the last answer), each time resumed by a new
apply. After every kill the state and the secrets store must load, and every account the
state records as created must have its secret sealed for that same account. The last
apply runs to its end; then every account that exists at the provider is either recorded
with its secret, or named in that apply's output with a way to recover it, and no name
exists twice. The seed is in the failure message, to replay a failing run. It runs with
the state in the local file and in PostgreSQL.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time

import pytest
from conftest import BACKENDS

from reconciler.sandbox import SANDBOX_MINIMAX_GROUP_ID
from reconciler.secrets import SecretStore, load_key

CREATES = 400
KILLS = 20
WAIT_S = 30


def address(name: str) -> str:
    return f'minimax.cn-main.sub_account["{name}"]'


@pytest.mark.parametrize("workdir", BACKENDS, indirect=True)
def test_kill_9_at_20_random_moments_of_a_400_create_apply_loses_no_account(workdir):
    seed = random.randrange(1 << 30)
    chance = random.Random(seed)
    workdir.config("".join(f"- name: acct-{i:03d}\n" for i in range(CREATES)))
    workdir.sandbox.add_fault("POST", "/v1/sub_account", kind="latency", delay=0.02, times=None)
    key = load_key("K", {"K": workdir.env["RECONCILER_SECRET_KEY"]})

    for kill in range(KILLS):
        moment = _kill_at_a_random_moment(workdir, chance)
        problem = _whole_state_problem(workdir, key)
        assert problem is None, f"after kill {kill + 1} ({moment}), seed {seed}: {problem}"

    final = workdir.run("apply", "--auto-approve", "--parallelism", "16")

    assert "Traceback" not in final.output, f"seed {seed}"
    accounts = workdir.sandbox.minimax_accounts(SANDBOX_MINIMAX_GROUP_ID)
    names = [account["account_name"] for account in accounts]
    assert len(names) == len(set(names)) == CREATES, f"seed {seed}: twins or missing accounts"
    backend = workdir.state_backend()
    state, store = backend.read(), SecretStore(backend.sealed_secrets(), key)
    reported = _failures(final.stdout)
    unaccounted = []
    for account in accounts:
        where = address(account["account_name"])
        record = state.resources.get(where, {})
        if record.get("subject_id") == account["subject_id"] and not record["pending"]:
            assert store.get(where, "token") == account["token"], f"seed {seed}: {where}"
        elif "import" not in reported.get(where, ""):
            unaccounted.append(where)
    assert unaccounted == [], f"seed {seed}: neither recorded nor reported: {unaccounted}"
    assert final.code == (1 if reported else 0), f"seed {seed}"


def _failures(stdout: str) -> dict[str, str]:
    """The apply's FAILED lines (with their indented advice) by address."""
    failures = {}
    for chunk in stdout.split("FAILED: ")[1:]:
        where, _, message = chunk.partition(" (create): ")
        failures[where] = message.split("\nApply ")[0]
    return failures


def _kill_at_a_random_moment(workdir, chance: random.Random) -> str:
    """Start an apply and SIGKILL it: in start-up, or after a random share of its creates.

    Its creates are those the state does not record as done: new ones, and pending ones
    sent again (refused as duplicates when an earlier answer was lost).
    """
    before = _creates_received(workdir)
    state = workdir.state_backend().read()
    todo = CREATES - sum(not record["pending"] for record in state.resources.values())
    target = chance.randint(1, todo) if todo and chance.random() > 0.15 else 0
    proc = workdir.start("apply", "--auto-approve", "--parallelism", "16")
    drains = [_drain(stream) for stream in (proc.stdout, proc.stderr)]
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
        for stream in (proc.stdout, proc.stderr):
            stream.close()
    _settle(workdir)
    return moment


def _drain(stream) -> threading.Thread:
    """Read a child's output as it comes: a full pipe would stop it (its plan is 100 kB)."""
    thread = threading.Thread(target=stream.read, daemon=True)
    thread.start()
    return thread


def _creates_received(workdir) -> int:
    return sum(r["method"] == "POST" for r in workdir.sandbox.requests)


def _settle(workdir) -> None:
    """Creates sent before the kill still land at the provider: wait until they have."""
    deadline = time.monotonic() + WAIT_S
    last = -1
    while (count := len(workdir.accounts())) != last:
        assert time.monotonic() < deadline
        last = count
        time.sleep(0.05)


def _whole_state_problem(workdir, key: bytes | None) -> str | None:
    """Why the state after a kill would not do: it must load, and sealed before done."""
    backend = workdir.state_backend()
    state = backend.read()
    store = SecretStore(backend.sealed_secrets(), key)
    for where, record in state.resources.items():
        if record["pending"]:
            continue
        if record["subject_id"] not in store.subjects(where):
            return f"{where} is recorded as created, but its secrets are not sealed"
    return None
