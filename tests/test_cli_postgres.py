"""End to end: what a user of `state.backend: postgres` sees, from config to lock."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time

import pytest
from conftest import BACKENDS

from reconciler.testing.workdir import wait_for


def test_every_state_key_acts_for_its_backend_only(workdir):
    workdir.config(
        "- name: ci-bot\n",
        extra="state:\n  backend: postgres\n  path: state/x.json\n",
    )
    refused = workdir.run("validate")
    assert refused.code == 1
    assert "reconciler.yaml:4" in refused.stderr
    assert "state.path: acts only with backend: local" in refused.stderr

    workdir.config("- name: ci-bot\n", extra="state:\n  workspace: prod\n")
    local = workdir.run("validate")
    assert local.code == 1 and "state.workspace: acts only with backend: postgres" in local.stderr

    workdir.config("- name: ci-bot\n", extra="state:\n  backend: postgres\n  schema: Bad-Name\n")
    schema = workdir.run("validate")
    assert schema.code == 1 and "must be a PostgreSQL schema name" in schema.stderr


def test_no_provider_may_be_handed_the_state_databases_variable(workdir):
    workdir.write(
        "reconciler.yaml",
        f"""
        version: 1
        state:
          backend: postgres
          dsn_env: TEAM_PG_DSN
        xai:
          prod:
            team_id: "t"
            management_key_env: TEAM_PG_DSN
            base_url: {workdir.sandbox.url}
        """,
    )
    refused = workdir.run("validate")
    assert refused.code == 1
    assert "reconciler.yaml:8" in refused.stderr
    assert "TEAM_PG_DSN holds the state database's connection string" in refused.stderr

    workdir.config("- name: ci-bot\n", extra="")
    text = (workdir.path / "reconciler.yaml").read_text()
    (workdir.path / "reconciler.yaml").write_text(
        text.replace("MINIMAX_API_KEY", "RECONCILER_PG_DSN")
    )
    default = workdir.run("validate")
    assert default.code == 1 and "RECONCILER_PG_DSN holds" in default.stderr
    assert "by default" in default.stderr


def test_an_unset_dsn_variable_is_named_before_any_provider_call(workdir):
    workdir.config("- name: ci-bot\n", extra="state:\n  backend: postgres\n")
    planned = workdir.run("plan")
    assert planned.code == 1
    assert "RECONCILER_PG_DSN is unset" in planned.stderr
    assert workdir.sandbox.requests == []


def test_without_psycopg_the_command_names_the_extra(workdir, monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)
    workdir.config("- name: ci-bot\n", extra="state:\n  backend: postgres\n")
    planned = workdir.run("plan", env={"RECONCILER_PG_DSN": "host=127.0.0.1"})
    assert planned.code == 1
    assert "pip install 'ai-account-reconciler[postgres]'" in planned.stderr
    assert "Traceback" not in planned.output


@pytest.mark.parametrize("workdir", ["postgres"], indirect=True)
def test_a_plan_against_an_empty_workspace_says_where_it_looked(workdir):
    workdir.config("- name: ci-bot\n")
    planned = workdir.run("plan")
    assert planned.code == 0
    assert "no state in PostgreSQL" in planned.output
    assert f"schema {workdir.pg.schema}, workspace default" in planned.output
    assert "1 to create" in planned.output


@pytest.mark.parametrize("workdir", ["postgres"], indirect=True)
def test_two_workspaces_in_one_database_keep_apart(workdir):
    prod = workdir.config("- name: prod-bot\n", name="prod.yaml")
    staging_state = workdir.pg.state_block("staging")
    staging = workdir.config("- name: staging-bot\n", name="staging.yaml", extra=staging_state)
    assert workdir.run("apply", "--auto-approve", "-c", str(prod)).code == 0
    assert workdir.run("apply", "--auto-approve", "-c", str(staging)).code == 0
    listed = workdir.run("state", "list", "-c", str(staging)).stdout
    assert "staging-bot" in listed and "prod-bot" not in listed
    assert workdir.run("plan", "--detailed-exitcode", "-c", str(prod)).code == 0


@pytest.mark.parametrize("workdir", BACKENDS, indirect=True)
def test_a_second_apply_waits_for_the_first_with_lock_timeout(workdir):
    workdir.config("- name: slow\n")
    workdir.sandbox.add_fault(
        method="POST", path="/v1/sub_account", kind="latency", delay=1.0, times=1
    )
    first = workdir.start("apply", "--auto-approve")
    try:
        wait_for(lambda: any(r["method"] == "POST" for r in workdir.sandbox.requests))
        second = workdir.run("apply", "--auto-approve", "--lock-timeout", "30s")
        assert second.code == 0, second.output
        assert "No changes." in second.stdout
        first.communicate(timeout=30)
        assert first.returncode == 0
    finally:
        if first.poll() is None:
            first.kill()
        first.communicate()
    assert len(workdir.accounts()) == 1


@pytest.mark.parametrize("workdir", ["postgres"], indirect=True)
def test_the_secrets_command_never_inherits_the_state_databases_dsn(workdir):
    sink = workdir.path / "sink.py"
    dumped = workdir.path / "env.json"
    sink.write_text(
        "import json, os, sys\nsys.stdin.read()\n"
        f"open({str(dumped)!r}, 'w').write(json.dumps(dict(os.environ)))\n"
    )
    state = workdir.pg.state_block().replace("RECONCILER_PG_DSN", "TEAM_PG_DSN")
    extra = f"{state}secrets:\n  command: '{sys.executable} {sink}'"
    workdir.config("- name: a\n", extra=extra)

    applied = workdir.run("apply", "--auto-approve", env={"TEAM_PG_DSN": workdir.pg.dsn})

    assert applied.code == 0, applied.output
    inherited = json.loads(dumped.read_text())
    assert "TEAM_PG_DSN" not in inherited and "RECONCILER_PG_DSN" not in inherited
    assert workdir.pg.dsn not in dumped.read_text()


@pytest.mark.parametrize("workdir", ["postgres"], indirect=True)
def test_after_force_unlock_the_old_holder_can_record_nothing(workdir):
    workdir.config("- name: slow\n")
    workdir.sandbox.add_fault(
        method="POST", path="/v1/sub_account", kind="latency", delay=1.5, times=1
    )
    holder = workdir.start("apply", "--auto-approve")
    try:
        wait_for(lambda: any(r["method"] == "POST" for r in workdir.sandbox.requests))
        blocked = workdir.run("plan")
        assert blocked.code == 1 and f"pid {holder.pid}, apply" in blocked.stderr
        lock_id = re.search(r"force-unlock --force ([0-9a-f-]{36})", blocked.stderr)[1]
        alive = workdir.run("force-unlock", lock_id)
        assert alive.code == 1 and "still running on this host" in alive.stderr
        released = workdir.run("force-unlock", "--force", lock_id)
        assert released.code == 0 and "Released the lock" in released.stderr
        before = json.loads(workdir.run("state", "pull").stdout)["state"]
        out, errors = holder.communicate(timeout=30)
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.communicate()
    assert holder.returncode == 1
    assert "the state could not be written (cannot record in" in out
    assert "force-unlock" in out and "import it with subject_id" in out
    assert "Traceback" not in out + errors
    after = json.loads(workdir.run("state", "pull").stdout)["state"]
    assert after == before  # the old holder wrote nothing once its lock was taken away
    assert len(workdir.accounts()) == 1


@pytest.mark.parametrize("workdir", ["postgres"], indirect=True)
def test_money_commands_read_the_state_in_postgresql(workdir):
    workdir.config("- name: ci-bot\n")
    assert workdir.run("apply", "--auto-approve").code == 0
    checked = workdir.run("check")
    assert checked.code == 0, checked.output
    usage = workdir.run("usage", "--format", "json")
    assert usage.code == 0, usage.output


def _blocked_commit(workdir) -> bool:
    """Whether the apply's connection waits for a row lock another session holds."""
    return bool(
        workdir.pg.query(
            "SELECT 1 FROM pg_stat_activity WHERE application_name = 'reconciler apply' "
            "AND wait_event_type = 'Lock'"
        )
    )


@pytest.mark.parametrize("workdir", ["postgres"], indirect=True)
def test_a_second_interrupt_ends_an_apply_whose_recording_the_database_holds_up(workdir):
    import psycopg

    workdir.config("- name: a\n")
    assert workdir.run("apply", "--auto-approve").code == 0
    workdir.config("- name: a\n- name: b\n")
    workdir.env["RECONCILER_GRACE_PERIOD"] = "1s"
    sent = len(workdir.sandbox.requests)
    with psycopg.connect(workdir.pg.dsn) as other:  # a session holding the state's row
        other.execute(f"SELECT 1 FROM {workdir.pg.schema}.state_documents FOR UPDATE")
        proc = workdir.start("apply", "--auto-approve")
        try:
            deadline = time.monotonic() + 15
            while not _blocked_commit(workdir):
                assert time.monotonic() < deadline, "the apply never waited on the row"
                time.sleep(0.05)
            os.kill(proc.pid, signal.SIGTERM)
            time.sleep(1.5)  # the grace period ends; the commit still waits
            os.kill(proc.pid, signal.SIGTERM)
            stopped = time.monotonic()
            _, stderr = proc.communicate(timeout=20)
            took = time.monotonic() - stopped
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        other.rollback()

    assert took < 6, took
    assert proc.returncode == 1
    assert "Interrupted" in stderr and "Traceback" not in stderr
    assert all(r["method"] == "GET" for r in workdir.sandbox.requests[sent:])  # b never sent
    assert workdir.run("plan").code == 0  # the state reads, the lock is free
