"""End to end: lost answers, retries, partial failures, locks, kills, imports, secret sinks."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import sys
import time

import pytest
from conftest import BACKENDS

from reconciler.sandbox import (
    SANDBOX_USEAPI_TOKEN,
    SANDBOX_XAI_MANAGEMENT_KEY,
    SANDBOX_XAI_TEAM_ID,
)
from reconciler.secrets import generate_key
from reconciler.testing.workdir import wait_for

CI_BOT = 'minimax.cn-main.sub_account["ci-bot"]'


def _state(workdir) -> dict:
    """The recorded state as reconciler reads it: the snapshot with its journal replayed."""
    state = workdir.state_backend().read()
    return {"serial": state.serial, "resources": state.resources}


@pytest.mark.parametrize("workdir", BACKENDS, indirect=True)
def test_lost_create_answer_is_pending_and_never_makes_a_twin(workdir):
    workdir.config("- name: ci-bot\n")
    workdir.sandbox.add_fault(method="POST", path="/v1/sub_account", kind="drop_after", times=1)
    lost = workdir.run("apply", "--auto-approve")
    assert lost.code == 1
    assert "FAILED" in lost.stdout and "ci-bot" in lost.stdout
    assert "import" in lost.stdout and "console" in lost.stdout
    assert len(workdir.accounts()) == 1
    assert _state(workdir)["resources"][CI_BOT]["pending"] is True

    replanned = workdir.run("plan")
    assert "answer was lost" in replanned.stdout and "1 to create" in replanned.stdout

    again = workdir.run("apply", "--auto-approve")
    assert again.code == 1
    assert "its subject_id is unknown" in again.stdout
    assert f"reconciler import '{CI_BOT}' SUBJECT_ID" in again.stdout
    assert len(workdir.accounts()) == 1


@pytest.mark.parametrize("workdir", BACKENDS, indirect=True)
def test_a_create_done_behind_a_gateway_error_is_reported_as_existing_not_refused(workdir):
    # The create runs, a gateway answers 504, the retry is refused as a duplicate name.
    workdir.config("- name: ci-bot\n")
    workdir.sandbox.add_fault(
        method="POST",
        path="/v1/sub_account",
        kind="http_status_after",
        http_status=504,
        retry_after=0,
    )
    result = workdir.run("apply", "--auto-approve")
    assert result.code == 1
    assert "its subject_id is unknown" in result.stdout
    assert f"reconciler import '{CI_BOT}' SUBJECT_ID" in result.stdout
    assert len(workdir.accounts()) == 1
    assert _state(workdir)["resources"][CI_BOT]["pending"] is True


@pytest.mark.parametrize("workdir", BACKENDS, indirect=True)
def test_import_adopts_an_account_whose_answer_was_lost(workdir):
    workdir.config("- name: ci-bot\n  status: disabled\n  token_generation: 1\n")
    workdir.sandbox.add_fault(method="POST", path="/v1/sub_account", kind="drop_after", times=4)
    assert workdir.run("apply", "--auto-approve").code == 1
    subject_id = workdir.accounts()["ci-bot"]["subject_id"]

    imported = workdir.run("import", CI_BOT, subject_id)
    assert imported.code == 0, imported.output
    planned = workdir.run("plan", "--format", "json")
    changes = json.loads(planned.stdout)["changes"]
    assert [(c["action"], c["reason"]) for c in changes] == [
        ("update", "status (unknown) -> disabled")
    ]

    workdir.config("- name: ci-bot\n  status: disabled\n  token_generation: 2\n")
    assert workdir.run("apply", "--auto-approve").code == 0
    account = workdir.accounts()["ci-bot"]
    assert account["status"] == 2
    assert workdir.run("secrets", "show", CI_BOT).stdout.strip() == account["token"]


def test_import_refuses_an_address_missing_from_config_or_already_managed(workdir):
    workdir.config("- name: ci-bot\n")
    for not_an_id in ("²³", "١٢٣", "12a"):
        refused = workdir.run("import", CI_BOT, not_an_id)
        assert refused.code == 1 and "is not a MiniMax subject_id" in refused.stderr
    missing = workdir.run("import", 'minimax.cn-main.sub_account["other"]', "123")
    assert missing.code == 1 and "not in the config" in missing.stderr
    assert workdir.run("apply", "--auto-approve").code == 0
    again = workdir.run("import", CI_BOT, "123")
    assert again.code == 1 and "already managed" in again.stderr


@pytest.mark.parametrize("not_an_id", ["00123", "0", "1" * 21, "9" * 32])
def test_import_refuses_an_id_minimax_cannot_have_naming_the_rule(workdir, not_an_id):
    workdir.config("- name: ci-bot\n")

    refused = workdir.run("import", CI_BOT, not_an_id)

    assert refused.code == 1, refused.output
    assert "is not a MiniMax subject_id: a whole number from the console, 1 to 20 digits" in (
        refused.stderr
    )
    assert "no leading zero" in refused.stderr
    assert workdir.run("state", "list").stdout.strip() == ""


def test_import_accepts_a_twenty_digit_id(workdir):
    workdir.config("- name: ci-bot\n")

    assert workdir.run("import", CI_BOT, "18446744073709551615").code == 0
    assert workdir.run("state", "list").stdout.strip() == CI_BOT


def test_rate_limits_and_server_errors_are_retried_with_retry_after(workdir):
    workdir.config("- name: a\n- name: b\n")
    workdir.sandbox.add_fault(
        method="POST",
        path="/v1/sub_account",
        kind="http_status",
        http_status=429,
        retry_after=0.5,
        times=1,
    )
    workdir.sandbox.add_fault(
        method="POST",
        path="/v1/sub_account",
        kind="base_resp",
        code=1002,
        message="rate limit",
        times=1,
    )
    workdir.sandbox.add_fault(
        method="POST",
        path="/v1/sub_account",
        kind="http_status",
        http_status=503,
        retry_after=None,
        times=1,
    )
    started = time.monotonic()
    result = workdir.run("apply", "--auto-approve", "--parallelism", "1")
    assert result.code == 0, result.output
    assert time.monotonic() - started >= 0.5  # Retry-After is honoured
    assert set(workdir.accounts()) == {"a", "b"}


def test_one_failed_change_does_not_stop_the_independent_ones(workdir):
    workdir.config("- name: a\n- name: b\n- name: c\n")
    assert workdir.run("apply", "--auto-approve").code == 0
    workdir.config(
        "- name: a\n  status: disabled\n- name: b\n  status: disabled\n- name: c\n  status: disabled\n"
    )
    b_id = workdir.accounts()["b"]["subject_id"]
    workdir.sandbox.add_fault(
        method="PUT",
        path=f"/v1/sub_account/{b_id}/status",
        kind="base_resp",
        code=1008,
        message="insufficient balance",
        times=None,
    )
    result = workdir.run("apply", "--auto-approve")
    assert result.code == 1
    assert 'FAILED: minimax.cn-main.sub_account["b"] (update)' in result.stdout
    assert "code 1008: insufficient balance" in result.stdout
    assert "2 succeeded, 1 failed, 0 skipped" in result.stdout
    statuses = {name: a["status"] for name, a in workdir.accounts().items()}
    assert statuses == {"a": 2, "b": 0, "c": 2}
    workdir.sandbox.clear_faults()
    replanned = workdir.run("plan", "--format", "json")
    assert [c["address"] for c in json.loads(replanned.stdout)["changes"]] == [
        'minimax.cn-main.sub_account["b"]'
    ]


def test_removing_a_protected_account_from_config_makes_plan_fail(workdir):
    workdir.config("- name: keep\n  prevent_destroy: true\n")
    assert workdir.run("apply", "--auto-approve").code == 0
    workdir.config("[]")
    result = workdir.run("plan")
    assert result.code == 1
    assert "prevent_destroy" in result.stderr and "state rm" in result.stderr
    assert workdir.run("apply", "--auto-approve").code == 1
    assert set(workdir.accounts()) == {"keep"}


def test_suggested_commands_can_be_pasted_into_a_shell_whatever_the_name(workdir):
    name = 'bob\'s "bot" $HOME'
    workdir.config(f"- name: {json.dumps(name)}\n  prevent_destroy: true\n")
    assert workdir.run("apply", "--auto-approve").code == 0
    workdir.config("[]")
    result = workdir.run("plan")
    assert result.code == 1
    suggested = re.search(r"`(reconciler state rm [^`]*)`", result.stderr).group(1)
    address = f"minimax.cn-main.sub_account[{json.dumps(name, ensure_ascii=False)}]"
    assert shlex.split(suggested) == ["reconciler", "state", "rm", address]
    assert workdir.run(*shlex.split(suggested)[1:]).code == 0


def test_protection_can_be_lifted_then_the_account_deleted(workdir):
    workdir.config("- name: keep\n  prevent_destroy: true\n")
    assert workdir.run("apply", "--auto-approve").code == 0
    workdir.config("- name: keep\n  prevent_destroy: false\n")
    lifted = workdir.run("plan")
    assert "prevent_destroy true -> false" in lifted.stdout
    assert workdir.run("apply", "--auto-approve").code == 0
    workdir.config("[]")
    assert workdir.run("apply", "--auto-approve").code == 0
    assert workdir.accounts() == {}


def test_every_command_finds_an_address_in_any_json_spelling_of_its_name(workdir):
    workdir.config("- name: ci-bot\n")
    assert workdir.run("apply", "--auto-approve").code == 0
    escaped = 'minimax.cn-main.sub_account["\\u0063i-bot"]'
    token = workdir.accounts()["ci-bot"]["token"]

    assert '"subject_id"' in workdir.run("state", "show", escaped).stdout
    assert workdir.run("secrets", "show", escaped).stdout.strip() == token
    assert workdir.run("state", "rm", escaped).code == 0
    subject_id = workdir.accounts()["ci-bot"]["subject_id"]
    assert workdir.run("import", escaped, subject_id).code == 0
    assert workdir.run("state", "list").stdout.strip() == CI_BOT


@pytest.mark.parametrize("workdir", BACKENDS, indirect=True)
def test_state_rm_forgets_without_deleting(workdir):
    workdir.config("- name: ci-bot\n")
    assert workdir.run("apply", "--auto-approve").code == 0
    assert workdir.run("state", "rm", CI_BOT).code == 0
    assert workdir.run("state", "list").stdout == ""
    assert set(workdir.accounts()) == {"ci-bot"}


def test_secrets_command_receives_each_new_secret_as_json(workdir):
    sink = workdir.path / "sink.py"
    sink.write_text(
        "import json, sys\n"
        "with open(sys.argv[1], 'a') as out:\n"
        "    out.write(json.dumps(json.load(sys.stdin)) + '\\n')\n"
    )
    received = workdir.path / "received dir" / "secrets.jsonl"
    received.parent.mkdir()
    extra = f"secrets:\n  command: '{sys.executable} {sink} \"{received}\"'"
    workdir.config("- name: ci-bot\n", extra=extra)
    assert workdir.run("apply", "--auto-approve", env={"RECONCILER_SECRET_KEY": None}).code == 0
    (record,) = [json.loads(line) for line in received.read_text().splitlines()]
    account = workdir.accounts()["ci-bot"]
    assert record["address"] == CI_BOT
    assert record["subject_id"] == account["subject_id"]
    assert record["token"] == account["token"] and record["password"] == account["password"]
    assert record["account"] == f"ci-bot@{account['group_id']}"
    assert set(record) == {"address", "account", "subject_id", "token", "password", "issued_at"}


def test_secrets_command_inherits_no_key_the_config_names(workdir):
    dump = workdir.path / "dump.py"
    dump.write_text("import json, os, sys\njson.dump(dict(os.environ), open(sys.argv[1], 'w'))\n")
    seen = workdir.path / "env.json"
    url = workdir.sandbox.url
    extra = (
        f"secrets:\n  command: '{sys.executable} {dump} {seen}'\n"
        f"xai:\n  prod:\n    team_id: {SANDBOX_XAI_TEAM_ID}\n"
        f"    management_key_env: XAI_MANAGEMENT_KEY\n    base_url: {url}\n"
        f"useapi:\n  default:\n    token_env: USEAPI_TOKEN\n    base_url: {url}\n"
    )
    workdir.config("- name: ci-bot\n", extra=extra)
    keys = {"XAI_MANAGEMENT_KEY": SANDBOX_XAI_MANAGEMENT_KEY, "USEAPI_TOKEN": SANDBOX_USEAPI_TOKEN}
    assert workdir.run("apply", "--auto-approve", env=keys).code == 0
    environment = json.loads(seen.read_text())
    for name in ("MINIMAX_API_KEY", "RECONCILER_SECRET_KEY", *keys):
        assert name not in environment
    assert "PATH" in environment


def test_failing_secrets_command_fails_loudly_but_keeps_the_secret(workdir):
    extra = f"secrets:\n  command: '{sys.executable} -c \"import sys; sys.exit(3)\"'"
    workdir.config("- name: ci-bot\n", extra=extra)
    result = workdir.run("apply", "--auto-approve")
    assert result.code == 1
    assert "secrets.command exited with status 3" in result.stdout
    assert "the secrets are in the encrypted store" in result.stdout
    assert (
        _state(workdir)["resources"][CI_BOT]["subject_id"]
        == workdir.accounts()["ci-bot"]["subject_id"]
    )
    assert (
        workdir.run("secrets", "show", CI_BOT).stdout.strip()
        == workdir.accounts()["ci-bot"]["token"]
    )


@pytest.mark.parametrize("workdir", BACKENDS, indirect=True)
def test_a_held_lock_names_its_holder_and_force_unlock_releases_it(workdir):
    workdir.config("- name: slow\n")
    workdir.sandbox.add_fault(
        method="POST", path="/v1/sub_account", kind="latency", delay=1.5, times=1
    )
    holder = workdir.start("apply", "--auto-approve")
    try:
        wait_for(lambda: any(r["method"] == "POST" for r in workdir.sandbox.requests))
        blocked = workdir.run("apply", "--auto-approve")
        assert blocked.code == 1
        assert "is locked by" in blocked.stderr and f"pid {holder.pid}, apply" in blocked.stderr
        planned = workdir.run("plan")
        assert planned.code == 1 and "is locked by" in planned.stderr
        lock_id = re.search(r"force-unlock --force ([0-9a-f-]{36})", blocked.stderr)[1]
        assert workdir.run("force-unlock", "not-the-id").code == 1
        holder.communicate(timeout=30)
        assert holder.returncode == 0
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.communicate()
    assert workdir.run("force-unlock", lock_id).code == 1  # released by its holder already


@pytest.mark.parametrize("workdir", BACKENDS, indirect=True)
def test_a_killed_apply_leaves_a_whole_state_and_no_lock(workdir):
    workdir.config("- name: a\n- name: b\n")
    workdir.sandbox.add_fault(
        method="POST", path="/v1/sub_account", kind="latency", delay=1.0, times=None
    )
    proc = workdir.start("apply", "--auto-approve")
    try:
        wait_for(lambda: sum(r["method"] == "POST" for r in workdir.sandbox.requests) == 2)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)
    state = _state(workdir)
    assert all(r["pending"] for r in state["resources"].values())
    workdir.sandbox.clear_faults()
    wait_for(lambda: len(workdir.accounts()) == 2)  # the sent creates land after the kill
    resumed = workdir.run("apply", "--auto-approve")
    assert resumed.code == 1  # sent again, refused as duplicates: reported, never twinned
    assert resumed.stdout.count("its subject_id is unknown") == 2
    assert len(workdir.accounts()) == 2


@pytest.mark.parametrize("workdir", BACKENDS, indirect=True)
@pytest.mark.parametrize(
    "signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=["ctrl-c", "sigterm", "sighup"]
)
def test_ctrl_c_sigterm_or_sighup_finishes_the_change_in_flight_and_starts_no_new_one(
    workdir, signum
):
    workdir.config("- name: a\n- name: b\n- name: c\n")
    workdir.sandbox.add_fault(
        method="POST", path="/v1/sub_account", kind="latency", delay=1.0, times=1
    )
    proc = workdir.start("apply", "--auto-approve", "--parallelism", "1")
    try:
        wait_for(lambda: any(r["method"] == "POST" for r in workdir.sandbox.requests))
        os.kill(proc.pid, signum)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 1
    assert "Interrupted: finishing the changes in flight" in stderr
    assert "Apply interrupted: 1 succeeded, 0 failed, 2 skipped" in stdout
    assert "Traceback" not in stderr
    (created,) = workdir.accounts()
    recorded = _state(workdir)["resources"]
    assert list(recorded) == [f'minimax.cn-main.sub_account["{created}"]']
    assert recorded[f'minimax.cn-main.sub_account["{created}"]']["pending"] is False


def test_a_failed_disable_after_create_still_hands_the_secrets_to_the_command(workdir):
    sink = workdir.path / "sink.py"
    sink.write_text("import sys\nopen(sys.argv[1], 'a').write(sys.stdin.read() + '\\n')\n")
    received = workdir.path / "received.jsonl"
    extra = f"secrets:\n  command: '{sys.executable} {sink} {received}'"
    workdir.config("- name: ci-bot\n  status: disabled\n", extra=extra)
    workdir.sandbox.add_fault(
        method="PUT",
        path="/v1/sub_account/.*/status",
        kind="base_resp",
        code=2013,
        message="invalid params",
        times=None,
    )
    result = workdir.run("apply", "--auto-approve", env={"RECONCILER_SECRET_KEY": None})
    assert result.code == 1
    assert "disabling it failed" in result.stdout
    account = workdir.accounts()["ci-bot"]
    assert json.loads(received.read_text())["token"] == account["token"]
    assert _state(workdir)["resources"][CI_BOT]["subject_id"] == account["subject_id"]
    workdir.sandbox.clear_faults()
    assert workdir.run("apply", "--auto-approve", env={"RECONCILER_SECRET_KEY": None}).code == 0
    assert workdir.accounts()["ci-bot"]["status"] == 2


@pytest.mark.parametrize("workdir", BACKENDS, indirect=True)
def test_a_delete_whose_answer_was_lost_is_forgotten_on_the_retry(workdir):
    workdir.config("- name: ci-bot\n")
    assert workdir.run("apply", "--auto-approve").code == 0
    workdir.config("[]")
    workdir.sandbox.add_fault(
        method="DELETE", path="/v1/sub_account/.*", kind="drop_after", times=1
    )
    result = workdir.run("apply", "--auto-approve")
    assert result.code == 0, result.output
    assert workdir.accounts() == {}
    assert _state(workdir)["resources"] == {}


def test_a_delete_refused_for_an_unknown_id_suggests_state_rm(workdir):
    workdir.config("- name: ci-bot\n")
    assert workdir.run("apply", "--auto-approve").code == 0
    subject_id = workdir.accounts()["ci-bot"]["subject_id"]
    workdir.sandbox.add_fault(
        method="DELETE",
        path=f"/v1/sub_account/{subject_id}",
        kind="base_resp",
        code=2013,
        message="invalid params, sub account not found",
        times=None,
    )
    workdir.config("[]")
    result = workdir.run("apply", "--auto-approve")
    assert result.code == 1
    assert f"reconciler state rm '{CI_BOT}'" in result.stdout


def test_import_refuses_a_subject_id_recorded_for_another_address(workdir):
    workdir.config("- name: ci-bot\n- name: other\n")
    assert workdir.run("apply", "--auto-approve", "--target", CI_BOT).code == 0
    subject_id = workdir.accounts()["ci-bot"]["subject_id"]
    result = workdir.run("import", 'minimax.cn-main.sub_account["other"]', subject_id)
    assert result.code == 1
    assert f"already recorded as {CI_BOT}" in result.stderr


def test_a_tampered_saved_plan_is_refused(workdir):
    workdir.config("- name: ci-bot\n")
    assert workdir.run("plan", "--out", "p.json").code == 0
    plan = json.loads((workdir.path / "p.json").read_text())
    plan["changes"][0]["action"] = "destroy-everything"
    (workdir.path / "p.json").write_text(json.dumps(plan))
    result = workdir.run("apply", "p.json")
    assert result.code == 1
    assert "not a valid saved plan" in result.stderr
    assert workdir.accounts() == {}


def test_import_of_another_id_keeps_sealed_secrets_unless_told_they_are_gone(workdir):
    workdir.config("- name: ci-bot\n")
    assert workdir.run("apply", "--auto-approve").code == 0
    account = workdir.accounts()["ci-bot"]
    assert workdir.run("state", "rm", CI_BOT).code == 0

    mistyped = workdir.run("import", CI_BOT, "999")
    assert mistyped.code == 1
    assert f"sealed for subject_id {account['subject_id']}, not 999" in mistyped.stderr
    assert f"reconciler import '{CI_BOT}' {account['subject_id']}" in mistyped.stderr
    assert workdir.run("state", "list").stdout == ""
    assert workdir.run("secrets", "show", CI_BOT).stdout.strip() == account["token"]

    told = workdir.run("import", CI_BOT, "999", "--forget-sealed-secrets")
    assert told.code == 0
    shown = workdir.run("secrets", "show", CI_BOT)
    assert shown.code == 1
    assert account["token"] not in shown.output


def test_a_refused_create_keeps_the_secrets_of_an_account_dropped_from_state(workdir):
    workdir.config("- name: ci-bot\n")
    assert workdir.run("apply", "--auto-approve").code == 0
    account = workdir.accounts()["ci-bot"]
    assert workdir.run("state", "rm", CI_BOT).code == 0

    refused = workdir.run("apply", "--auto-approve")  # MiniMax refuses the name: 2013
    assert refused.code == 1
    assert "reconciler import" in refused.stdout
    assert workdir.run("secrets", "show", CI_BOT).stdout.strip() == account["token"]
    assert workdir.run("import", CI_BOT, account["subject_id"]).code == 0
    assert workdir.run("secrets", "show", CI_BOT).stdout.strip() == account["token"]


def test_a_create_interrupted_after_sealing_names_the_sealed_id_for_import(workdir):
    workdir.config("- name: ci-bot\n")
    assert workdir.run("apply", "--auto-approve").code == 0
    account = workdir.accounts()["ci-bot"]
    # What a kill between sealing the secrets and writing the state leaves behind.
    state_file = workdir.path / "state" / "reconciler.json"
    state = json.loads(state_file.read_text())
    state["resources"][CI_BOT].update(pending=True, subject_id=None)
    state_file.write_text(json.dumps(state))

    again = workdir.run("apply", "--auto-approve")
    assert again.code == 1
    assert f"sealed for subject_id {account['subject_id']}" in again.stdout
    assert f"reconciler import '{CI_BOT}' {account['subject_id']}" in again.stdout

    workdir.config("[]")  # given up on: the pending record goes, the sealed secrets stay
    dropped = workdir.run("apply", "--auto-approve")
    assert dropped.code == 0
    assert f"may have succeeded as subject_id {account['subject_id']}" in dropped.stderr
    assert workdir.run("secrets", "show", CI_BOT).stdout.strip() == account["token"]
    assert set(workdir.accounts()) == {"ci-bot"}


@pytest.mark.parametrize(
    "edit", ["delete a protected account", "delete a wanted account", "record an unasked value"]
)
def test_a_saved_plan_holding_changes_the_config_does_not_make_is_refused(workdir, edit):
    workdir.config("- name: ci-bot\n  prevent_destroy: true\n- name: other\n")
    assert workdir.run("apply", "--auto-approve").code == 0
    other = 'minimax.cn-main.sub_account["other"]'
    workdir.config("- name: ci-bot\n  prevent_destroy: true\n- name: other\n  status: disabled\n")
    assert workdir.run("plan", "--out", "p.json").code == 0
    plan = json.loads((workdir.path / "p.json").read_text())
    forged = {
        "delete a protected account": {"address": CI_BOT, "action": "delete", "after": None},
        "delete a wanted account": {"address": other, "action": "delete", "after": None},
        "record an unasked value": {
            "address": other,
            "action": "update",
            "after": {"status": "disabled", "prevent_destroy": True},
        },
    }[edit]
    plan["changes"] = [{"before": {}, "reason": "removed from config", **forged}]
    (workdir.path / "p.json").write_text(json.dumps(plan))
    requests_before = len(workdir.sandbox.requests)

    result = workdir.run("apply", "p.json")
    assert result.code == 1
    assert "holds changes that this config and state do not produce" in result.stderr
    assert f"{forged['action']} {forged['address']}" in result.stderr
    assert set(workdir.accounts()) == {"ci-bot", "other"}
    assert all(a["status"] == 0 for a in workdir.accounts().values())
    assert workdir.sandbox.requests[requests_before:] == []


@pytest.mark.parametrize("workdir", BACKENDS, indirect=True)
def test_a_different_encryption_key_is_refused_before_any_change(workdir):
    workdir.config("- name: ci-bot\n  token_generation: 1\n")
    assert workdir.run("apply", "--auto-approve").code == 0
    workdir.config("- name: ci-bot\n  token_generation: 2\n")
    other_key = {"RECONCILER_SECRET_KEY": generate_key()}
    requests_before = len(workdir.sandbox.requests)
    result = workdir.run("apply", "--auto-approve", env=other_key)
    assert result.code == 1
    assert "is not the key this secrets store" in result.stderr
    assert not any(r["method"] == "PUT" for r in workdir.sandbox.requests[requests_before:])


def test_an_interrupted_apply_exits_1_even_when_every_change_was_already_in_flight(workdir):
    workdir.config("- name: a\n- name: b\n")
    workdir.sandbox.add_fault(
        method="POST", path="/v1/sub_account", kind="latency", delay=1.5, times=None
    )
    proc = workdir.start("apply", "--auto-approve", "--parallelism", "4")
    try:
        wait_for(lambda: sum(r["method"] == "POST" for r in workdir.sandbox.requests) == 2)
        os.kill(proc.pid, signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 1
    assert "Interrupted: finishing the changes in flight" in stderr
    assert "Apply interrupted: 2 succeeded, 0 failed, 0 skipped" in stdout
    assert set(workdir.accounts()) == {"a", "b"}
