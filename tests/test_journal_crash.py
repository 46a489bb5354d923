"""kill -9 while the journal is written and folded: what was durable is there, and it loads.

A child process records changes through the local backend as an apply does, with a tiny
fold threshold so the journal is moved aside and folded into the snapshot again and
again while changes keep coming; it prints each change once ``wait()`` returned. The
test kills it with SIGKILL at random moments, in several rounds on the same files (each
round resumes from what the last one left): every time the state must load, hold every
change the child reported durable, and be exactly a prefix of what was recorded.
"""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reconciler.state import LocalBackend

REPO = Path(__file__).resolve().parents[1]
ROUNDS = 8

WRITER = """
import sys
from reconciler.model import RecordedSubAccount
from reconciler.state import LocalBackend, changelog
changelog.FOLD_MIN_BYTES = 4096  # fold every few dozen changes
backend = LocalBackend(sys.argv[1])
state = backend.read()
log = backend.change_log(state, state.snapshot)
start = state.serial
for index in range(start, start + 3000):
    record = RecordedSubAccount("cn-main", f"acct-{index:05d}", "1", str(index + 1))
    state.put(record)
    state.serial += 1
    log.record(state.serial, record.address, record.to_dict()).wait()
    print(index, flush=True)
log.close()
print("closed", flush=True)
"""


@pytest.mark.slow
def test_kill_9_while_the_journal_is_written_and_folded_keeps_every_durable_change(tmp_path):
    seed = random.randrange(1 << 30)
    chance = random.Random(seed)
    path = tmp_path / "state" / "reconciler.json"
    durable = -1
    for round_ in range(ROUNDS):
        last = _run_and_kill(path, chance.uniform(0.05, 0.6))
        durable = max(durable, last)
        state = LocalBackend(path).read()
        names = sorted(data["name"] for data in state.resources.values())
        where = f"round {round_ + 1}, seed {seed}"
        assert names == [f"acct-{i:05d}" for i in range(len(names))], f"{where}: not a prefix"
        assert state.serial == len(names), where
        assert len(names) - 1 >= durable, f"{where}: {durable} was durable, {len(names)} loaded"
    assert durable > 100, f"seed {seed}: the child recorded too little to fold ({durable})"


def _run_and_kill(path: Path, after: float) -> int:
    """The last change the child reported durable before it was killed ``after`` seconds in."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert child.stdout is not None
    last = -1
    deadline = time.monotonic() + after
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select(
                [child.stdout], [], [], max(0.0, deadline - time.monotonic())
            )
            if not ready:
                break
            line = child.stdout.readline().strip()
            if not line or line == "closed":
                break
            last = int(line)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        for line in child.stdout.read().split():
            if line != "closed":
                last = max(last, int(line))  # printed before the kill: durable too
    finally:
        if child.poll() is None:
            child.kill()
        child.stdout.close()
    return last
