"""Real file systems: a full disk and a read-only state directory, in a mount namespace.

``unshare -rm`` gives the command its own mount namespace (no privilege needed where user
namespaces are allowed). For a full disk, a tmpfs of a few hundred KiB goes over
``state/``; the test fills it from outside through ``/proc/PID/root``, at a chosen moment
of the apply, and the state is copied out before the namespace ends, so the test reads
what the apply left on disk. For a read-only one, ``state/`` is bind-mounted read-only.
"""

from __future__ import annotations

import errno
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reconciler.sandbox import SANDBOX_MINIMAX_GROUP_ID
from reconciler.secrets import SecretStore, load_key
from reconciler.state import LocalBackend

_SCRIPT = r"""
set -e
mkdir -p state "$STAGE" "$OUT"
cp -a state/. "$STAGE"/
mount -t tmpfs -o size="$SIZE" reconciler-test state
cp -a "$STAGE"/. state/
if [ -n "$FULL" ]; then
  cat /dev/zero > state/filler 2>/dev/null || true
  truncate -s -16K state/filler  # 16 KiB left: files can still be made, little written
fi
set +e
"$PYTHON" -m reconciler apply --auto-approve --parallelism 1
code=$?
rm -f state/filler
cp -a state/. "$OUT"/
exit $code
"""

MUTATING = ("POST", "PUT", "DELETE")


def _namespaces_work() -> bool:
    if shutil.which("unshare") is None:
        return False
    try:
        probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True, timeout=10)
    except OSError:
        return False
    return probe.returncode == 0


pytestmark = pytest.mark.skipif(
    not _namespaces_work(), reason="needs `unshare -rm` (user and mount namespaces)"
)


def _start_on_tmpfs(workdir, *, full: bool = False) -> subprocess.Popen[str]:
    env = {
        **workdir.env,
        "PYTHON": sys.executable,
        "SIZE": "512k",
        "STAGE": str(workdir.path.parent / f"{workdir.path.name}-stage"),
        "OUT": str(_out(workdir)),
        "FULL": "1" if full else "",
    }
    return subprocess.Popen(
        ["unshare", "-rm", "sh", "-c", _SCRIPT],
        cwd=workdir.path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _out(workdir) -> Path:
    return workdir.path.parent / f"{workdir.path.name}-after"


def _fill(proc: subprocess.Popen[str], workdir) -> None:
    """Fill the apply's tmpfs, seen from outside its mount namespace."""
    filler = Path(f"/proc/{proc.pid}/root{workdir.path}/state/filler")
    with open(filler, "ab") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc


def _calls(workdir) -> list[dict]:
    return [r for r in workdir.sandbox.requests if r["method"] in MUTATING]


def _rotations_and_creates(workdir) -> None:
    """Six accounts made, then a config that rotates them and adds six more."""
    workdir.config("".join(f"- name: old-{i}\n" for i in range(6)))
    assert workdir.run("apply", "--auto-approve").code == 0
    old = "".join(f"- name: old-{i}\n  token_generation: 1\n" for i in range(6))
    workdir.config(old + "".join(f"- name: new-{i}\n" for i in range(6)))


def test_a_disk_filling_mid_apply_stops_every_provider_call_after_the_failed_write(workdir):
    _rotations_and_creates(workdir)
    for path in (r"/v1/sub_account", r"/v1/sub_account/.*/token"):
        method = "POST" if path == "/v1/sub_account" else "PUT"
        workdir.sandbox.add_fault(method, path, kind="latency", delay=0.3, times=None)
    before = len(_calls(workdir))

    proc = _start_on_tmpfs(workdir)
    try:
        deadline = time.monotonic() + 30
        while len(_calls(workdir)) - before < 2:
            assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
            time.sleep(0.01)
        _fill(proc, workdir)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()

    assert proc.returncode == 1, stdout + stderr
    assert "Traceback" not in stderr
    assert "not started: an earlier change could not be recorded" in stdout
    # One change at a time, one call each: the change whose write failed is the last sent.
    started = [
        line for line in stderr.splitlines() if re.match(r"\[\d+/\d+\] \w+ .* (done|FAILED) ", line)
    ]
    first_failure = next(n for n, line in enumerate(started) if " FAILED " in line)
    assert first_failure == len(started) - 1, stderr
    assert "No space left on device" in stdout
    assert len(_calls(workdir)) - before == len(started)
    _every_account_recorded_or_named(workdir, stdout)


def _every_account_recorded_or_named(workdir, stdout: str) -> None:
    backend = LocalBackend(_out(workdir) / "reconciler.json")
    state = backend.read()
    key = load_key("K", {"K": workdir.env["RECONCILER_SECRET_KEY"]})
    store = SecretStore(backend.sealed_secrets(), key)
    for account in workdir.sandbox.minimax_accounts(SANDBOX_MINIMAX_GROUP_ID):
        address = f'minimax.cn-main.sub_account["{account["account_name"]}"]'
        record = state.resources.get(address, {})
        sealed = store.has(address) and store.get(address, "token") == account["token"]
        if record.get("subject_id") == account["subject_id"] and sealed:
            continue
        failed = [line for line in stdout.splitlines() if line.startswith(f"FAILED: {address}")]
        assert failed, f"{address} is neither recorded with its token nor named:\n{stdout}"
        assert account["subject_id"] in stdout or "lost" in failed[0], failed


def test_a_full_disk_is_refused_before_the_first_provider_call(workdir):
    _rotations_and_creates(workdir)
    before = len(_calls(workdir))

    proc = _start_on_tmpfs(workdir, full=True)
    stdout, stderr = proc.communicate(timeout=60)

    assert proc.returncode == 1, stdout + stderr
    assert "No space left on device (this apply needs about" in stderr
    assert "Nothing was changed" in stderr
    assert len(_calls(workdir)) == before  # no rotation sent whose token could not be kept
    tokens = {a["account_name"]: a["token"] for a in workdir.accounts().values()}
    key = load_key("K", {"K": workdir.env["RECONCILER_SECRET_KEY"]})
    backend = LocalBackend(_out(workdir) / "reconciler.json")
    store = SecretStore(backend.sealed_secrets(), key)
    for name in (f"old-{i}" for i in range(6)):
        assert store.get(f'minimax.cn-main.sub_account["{name}"]', "token") == tokens[name]


def test_plan_runs_on_a_read_only_state_directory(workdir):
    workdir.config("- name: a\n")
    assert workdir.run("apply", "--auto-approve").code == 0
    workdir.config("- name: a\n- name: b\n")
    script = (
        "mount --bind state state && mount -o remount,ro,bind state && "
        '"$PYTHON" -m reconciler plan --detailed-exitcode'
    )

    done = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script],
        cwd=workdir.path,
        env={**workdir.env, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 2, done.stdout + done.stderr
    assert "Plan: 1 to create" in done.stdout
    assert "Error" not in done.stderr


def test_a_file_where_the_state_directory_should_be_is_named_as_such(workdir):
    (workdir.path / "blocker").write_text("not a directory\n")
    workdir.config("- name: a\n", extra="state:\n  path: blocker/reconciler.json")

    for command in (["plan"], ["apply", "--auto-approve"]):
        refused = workdir.run(*command)
        assert refused.code == 1, refused.output
        assert "Not a directory" in refused.stderr and "File exists" not in refused.stderr
        assert "Traceback" not in refused.output
    assert workdir.accounts() == {}
