"""End to end: hand edits and hostile answers never cost an account or a secret.

Each test is one defect an adversarial run found (issue "Nothing lost under hung
providers, hostile answers, full disks and forced unlocks"), shown fixed through the
real CLI against the sandbox.
"""

from __future__ import annotations

import json
import sys

A = 'minimax.cn-main.sub_account["a"]'
B = 'minimax.cn-main.sub_account["b"]'


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
