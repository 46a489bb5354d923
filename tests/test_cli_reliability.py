"""End to end: hand edits and hostile answers never cost an account or a secret.

Each test is one defect an adversarial run found (issue "Nothing lost under hung
providers, hostile answers, full disks and forced unlocks"), shown fixed through the
real CLI against the sandbox.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from dataclasses import replace

from reconciler.providers import http
from reconciler.state import LocalBackend
from reconciler.testing.workdir import wait_for

A = 'minimax.cn-main.sub_account["a"]'
B = 'minimax.cn-main.sub_account["b"]'


def _recorded(workdir) -> dict:
    """The state's records as reconciler reads them (snapshot and journal)."""
    return LocalBackend(workdir.path / "state" / "reconciler.json").read().resources


def _posts(workdir) -> int:
    return sum(r["method"] == "POST" for r in workdir.sandbox.requests)


def test_a_create_whose_answer_drips_ends_at_the_calls_deadline_and_stays_pending(
    workdir, monkeypatch
):
    monkeypatch.setattr(http, "DEFAULT_POLICY", replace(http.DEFAULT_POLICY, deadline=1.0))
    workdir.config("- name: a\n")
    workdir.sandbox.add_fault("POST", "/v1/sub_account", kind="drip", delay=0.5, times=None)
    started = time.monotonic()

    result = workdir.run("apply", "--auto-approve")

    assert time.monotonic() - started < 5
    assert result.code == 1, result.output
    assert "timed out" in result.stdout and "stays recorded as pending" in result.stdout
    assert _recorded(workdir)[A]["pending"] is True
    workdir.sandbox.clear_faults()
    resumed = workdir.run("apply", "--auto-approve")  # sent again: refused, named, no twin
    assert resumed.code == 1 and "its subject_id is unknown" in resumed.stdout
    assert list(workdir.accounts()) == ["a"]


def _interrupted_apply(workdir, *signals: signal.Signals, env: dict | None = None):
    """An apply whose only create drips its answer for minutes, sent ``signals`` once the
    create is in flight; returns the process, its output, and seconds from the first
    signal to its exit."""
    workdir.config("- name: a\n- name: b\n")
    workdir.sandbox.add_fault("POST", "/v1/sub_account", kind="drip", delay=1.0, times=1)
    workdir.env.update(env or {})
    proc = workdir.start("apply", "--auto-approve", "--parallelism", "1")
    try:
        wait_for(lambda: _posts(workdir) == 1)
        time.sleep(0.3)  # the answer has begun to drip
        signalled = time.monotonic()
        for number, signum in enumerate(signals):
            if number:
                time.sleep(0.3)
            os.kill(proc.pid, signum)
        stdout, stderr = proc.communicate(timeout=60)
        took = time.monotonic() - signalled
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc, stdout, stderr, took


def test_sigterm_during_a_dripping_create_exits_after_the_grace_period_reporting_it_pending(
    workdir,
):
    proc, stdout, stderr, took = _interrupted_apply(
        workdir, signal.SIGTERM, env={"RECONCILER_GRACE_PERIOD": "1s"}
    )

    assert 1 <= took < 5, took
    assert proc.returncode == 1
    assert "Waiting up to 1s for their answers" in stderr
    assert "no answer came within the 1s grace period" in stderr
    assert f"PENDING: {A} (create): abandoned" in stdout
    assert "Apply interrupted: 0 succeeded, 0 failed, 1 skipped, 1 pending." in stdout
    assert "Traceback" not in stderr
    assert _recorded(workdir)[A]["pending"] is True  # never recorded as done
    assert B not in _recorded(workdir)
    assert _posts(workdir) == 1  # b never sent


def test_a_second_interrupt_stops_waiting_for_the_calls_in_flight(workdir):
    # As a CI runner escalates: SIGINT, then SIGTERM (GitHub Actions waits 7.5 s between).
    proc, stdout, stderr, took = _interrupted_apply(workdir, signal.SIGINT, signal.SIGTERM)

    assert took < 4, took  # well before the default grace period of 8s
    assert proc.returncode == 1
    assert "Stopping: interrupted again" in stderr
    assert f"PENDING: {A} (create): abandoned" in stdout
    assert _recorded(workdir)[A]["pending"] is True


def test_two_records_of_one_subject_id_stop_every_command_before_any_delete(workdir):
    workdir.config("- name: a\n- name: b\n")
    assert workdir.run("apply", "--auto-approve").code == 0
    state_file = workdir.path / "state" / "reconciler.json"
    state = json.loads(state_file.read_text(encoding="utf-8"))
    state["resources"][B]["subject_id"] = state["resources"][A]["subject_id"]  # a bad merge
    state_file.write_text(json.dumps(state), encoding="utf-8")
    workdir.config("- name: a\n")  # b removed: its delete would hit a's account
    before = len(workdir.sandbox.requests)

    for command in (["plan"], ["apply", "--auto-approve"]):
        result = workdir.run(*command)
        assert result.code == 1, result.output
        assert "recorded with the same subject_id" in result.stderr
        assert A in result.stderr and B in result.stderr
    assert set(workdir.accounts()) == {"a", "b"}
    assert len(workdir.sandbox.requests) == before


def test_plan_out_never_writes_over_the_state_the_store_or_a_config_file(workdir):
    workdir.config("- name: a\n")
    assert workdir.run("apply", "--auto-approve").code == 0
    kept = {
        name: (workdir.path / name).read_bytes()
        for name in ("state/reconciler.json", "state/reconciler.secrets.json", "reconciler.yaml")
    }
    before = len(workdir.sandbox.requests)

    for target in [*kept, "state/reconciler.json.lock", "./state/../state/reconciler.json"]:
        result = workdir.run("plan", "--out", target)
        assert result.code == 1, (target, result.output)
        assert "would write over" in result.stderr and "Nothing was planned" in result.stderr

    assert {name: (workdir.path / name).read_bytes() for name in kept} == kept
    assert len(workdir.sandbox.requests) == before
    assert workdir.run("plan", "--out", "state-plan.json").code == 0  # beside it is fine


def test_the_secrets_command_gets_no_credential_even_one_this_config_does_not_name(workdir):
    sink = workdir.path / "sink.py"
    dumped = workdir.path / "env.json"
    sink.write_text(
        "import json, os, sys\nsys.stdin.read()\n"
        f"open({str(dumped)!r}, 'w').write(json.dumps(dict(os.environ)))\n"
    )
    extra = f"secrets:\n  command: '{sys.executable} {sink}'"
    workdir.config("- name: a\n", extra=extra)  # a MiniMax-only config
    env = {"XAI_MANAGEMENT_KEY": "xai-key-for-another-config", "VAULT_TOKEN": "sink-needs-this"}

    assert workdir.run("apply", "--auto-approve", env=env).code == 0

    inherited = json.loads(dumped.read_text())
    assert "XAI_MANAGEMENT_KEY" not in inherited
    assert "MINIMAX_API_KEY" not in inherited and "RECONCILER_SECRET_KEY" not in inherited
    assert inherited["VAULT_TOKEN"] == "sink-needs-this"


def test_force_unlock_refuses_a_live_holder_and_with_force_the_holder_never_writes_again(
    workdir,
):
    slow = 'minimax.cn-main.sub_account["slow"]'
    fast = 'minimax.cn-main.sub_account["fast"]'
    workdir.config("- name: slow\n")
    workdir.sandbox.add_fault("POST", "/v1/sub_account", kind="latency", delay=1.5, times=1)
    holder = workdir.start("apply", "--auto-approve")
    try:
        wait_for(lambda: _posts(workdir) == 1)  # its create waits at the provider
        locked = workdir.run("plan")
        lock_id = locked.stderr.split("force-unlock --force ")[1].split("`")[0]

        refused = workdir.run("force-unlock", lock_id)
        assert refused.code == 1
        assert f"still running on this host. Stop it (`kill {holder.pid}`)" in refused.stderr
        assert "add --force" in refused.stderr
        released = workdir.run("force-unlock", "--force", lock_id)
        assert released.code == 0, released.output
        assert "which is still running: each of its writes" in released.stderr

        # Another apply runs meanwhile: it sends the pending create again and adds one.
        workdir.config("- name: slow\n- name: fast\n")
        second = workdir.run("apply", "--auto-approve")
        assert second.code == 0, second.output
        kept = {p.name: p.read_bytes() for p in (workdir.path / "state").iterdir()}
        stdout, stderr = holder.communicate(timeout=30)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.communicate()

    assert holder.returncode == 1
    assert f"FAILED: {slow} (create)" in stdout  # MiniMax refused its name: the other made it
    assert "apply lost the state lock" in stderr and "it wrote nothing" in stderr
    assert "Traceback" not in stderr
    after = {p.name: p.read_bytes() for p in (workdir.path / "state").iterdir()}
    assert after == kept  # the old holder touched nothing
    accounts = workdir.accounts()
    assert set(accounts) == {"slow", "fast"}
    for name, address in (("slow", slow), ("fast", fast)):
        assert _recorded(workdir)[address]["subject_id"] == accounts[name]["subject_id"]
        shown = workdir.run("secrets", "show", address)
        assert shown.stdout.strip() == accounts[name]["token"]


def test_a_symlinked_state_file_is_written_where_it_points_and_stays_a_link(workdir):
    workdir.config("- name: a\n")
    assert workdir.run("apply", "--auto-approve").code == 0
    real = workdir.path / "real"
    real.mkdir()
    link = workdir.path / "state" / "reconciler.json"
    link.rename(real / "st.json")
    link.symlink_to("../real/st.json")

    workdir.config("- name: a\n- name: b\n")
    result = workdir.run("apply", "--auto-approve")

    assert result.code == 0, result.output
    assert link.is_symlink() and os.readlink(link) == "../real/st.json"
    written = json.loads((real / "st.json").read_text(encoding="utf-8"))
    assert set(written["resources"]) == {A, B}
    assert (real / "st.json.lock").exists()  # one lock for every link to this state
    assert workdir.run("plan", "--detailed-exitcode").code == 0
    assert workdir.run("secrets", "show", B).stdout.strip() == workdir.accounts()["b"]["token"]


def test_temp_files_a_killed_writer_left_are_removed_by_the_next_writing_command(workdir):
    workdir.config("- name: a\n")
    assert workdir.run("apply", "--auto-approve").code == 0
    state = workdir.path / "state"
    left = [
        state / ".reconciler.json.k9x2_q7Z.tmp",
        state / ".reconciler.secrets.json.AbC123xy.tmp",
    ]
    for path in left:
        path.write_bytes(b'{"version": 1, "half": ')
    unrelated = state / "notes.tmp"
    unrelated.write_text("mine")

    assert workdir.run("plan").code == 0
    assert all(path.exists() for path in left)  # plan writes nothing
    workdir.config("- name: a\n- name: b\n")
    assert workdir.run("apply", "--auto-approve").code == 0

    assert not any(path.exists() for path in left)
    assert unrelated.read_text() == "mine"


def test_a_rotation_cut_off_by_kill_9_is_flagged_by_secrets_show_and_redone_by_the_next_apply(
    workdir,
):
    workdir.config("- name: a\n")
    assert workdir.run("apply", "--auto-approve").code == 0
    old_token = workdir.accounts()["a"]["token"]
    workdir.config("- name: a\n  token_generation: 1\n")
    workdir.sandbox.add_fault("PUT", r"/v1/sub_account/\d+/token", kind="latency", delay=1.0)
    proc = workdir.start("apply", "--auto-approve")
    try:
        wait_for(lambda: any(r["path"].endswith("/token") for r in workdir.sandbox.requests))
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.communicate(timeout=30)
    wait_for(lambda: workdir.accounts()["a"]["token"] != old_token)  # it went through

    shown = workdir.run("secrets", "show", A)
    assert shown.code == 0 and shown.stdout.strip() == old_token  # all there is, but doubtful
    assert "MiniMax may have revoked this token already" in shown.stderr
    assert old_token not in shown.stderr
    planned = workdir.run("plan", "--detailed-exitcode")
    assert planned.code == 2 and "never finished: the stored token may be revoked" in planned.stdout

    assert workdir.run("apply", "--auto-approve").code == 0
    again = workdir.run("secrets", "show", A)
    assert again.stdout.strip() == workdir.accounts()["a"]["token"] != old_token
    assert "Warning" not in again.stderr
    assert "rotating_since" not in _recorded(workdir)[A]
    assert workdir.run("plan", "--detailed-exitcode").code == 0


def test_a_grace_period_that_is_no_duration_is_refused_before_any_change(workdir):
    workdir.config("- name: a\n")

    result = workdir.run("apply", "--auto-approve", env={"RECONCILER_GRACE_PERIOD": "soon"})

    assert result.code == 1
    assert "RECONCILER_GRACE_PERIOD='soon' is not a duration like 8s, 30s or 1m" in result.stderr
    assert _posts(workdir) == 0
