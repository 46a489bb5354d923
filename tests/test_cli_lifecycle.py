"""End to end: the real CLI against the sandbox, create -> change -> delete, over loopback HTTP.

Every test runs on both state backends: the local file and PostgreSQL.
"""

from __future__ import annotations

import json
import os
import stat
from urllib.parse import urlsplit

import jsonschema
import pytest
from conftest import BACKENDS

from reconciler.schema import load_schema

pytestmark = pytest.mark.parametrize("workdir", BACKENDS, indirect=True)

THREE = """
- name: ci-bot
  token_generation: 1
- name: 数据分析
- name: intern
  status: disabled
"""

CHANGED = """
- name: ci-bot
  token_generation: 2
- name: 数据分析
  status: disabled
"""


def test_three_accounts_are_planned_created_and_then_converged(workdir):
    workdir.config(THREE)

    assert workdir.run("validate").code == 0

    planned = workdir.run("plan", "--detailed-exitcode")
    assert planned.code == 2
    assert "Plan: 3 to create, 0 to update, 0 to rotate, 0 to delete." in planned.stdout
    assert 'minimax.cn-main.sub_account["数据分析"] will be created' in planned.stdout

    refused = workdir.run("apply")
    assert refused.code == 1
    assert "no terminal" in refused.stderr and "--auto-approve" in refused.stderr
    assert workdir.accounts() == {}
    assert not (workdir.path / "state" / "reconciler.json").exists()

    applied = workdir.run("apply", "--auto-approve")
    assert applied.code == 0, applied.output
    assert "3 succeeded, 0 failed, 0 skipped" in applied.stdout
    accounts = workdir.accounts()
    assert {name: a["status"] for name, a in accounts.items()} == {
        "ci-bot": 0,
        "数据分析": 0,
        "intern": 2,
    }

    again = workdir.run("plan", "--detailed-exitcode")
    assert again.code == 0
    assert "No changes." in again.stdout


def test_disable_rotate_and_remove_are_one_update_one_rotate_one_delete(workdir):
    workdir.config(THREE)
    assert workdir.run("apply", "--auto-approve").code == 0
    before = workdir.accounts()

    workdir.config(CHANGED)
    planned = workdir.run("plan", "--format", "json", "--detailed-exitcode")
    assert planned.code == 2
    document = json.loads(planned.stdout)
    jsonschema.validate(document, load_schema("plan"))
    actions = sorted((c["action"], c["address"]) for c in document["changes"])
    assert actions == [
        ("delete", 'minimax.cn-main.sub_account["intern"]'),
        ("rotate", 'minimax.cn-main.sub_account["ci-bot"]'),
        ("update", 'minimax.cn-main.sub_account["数据分析"]'),
    ]
    assert document["summary"] == {"create": 0, "update": 1, "rotate": 1, "delete": 1, "forget": 0}
    reasons = {c["action"]: c["reason"] for c in document["changes"]}
    assert reasons == {
        "delete": "removed from config",
        "rotate": "generation 1 -> 2",
        "update": "status enabled -> disabled",
    }

    applied = workdir.run("apply", "--auto-approve")
    assert applied.code == 0, applied.output
    after = workdir.accounts()
    assert set(after) == {"ci-bot", "数据分析"}
    assert after["数据分析"]["status"] == 2
    assert after["ci-bot"]["token"] != before["ci-bot"]["token"]

    shown = workdir.run("secrets", "show", 'minimax.cn-main.sub_account["ci-bot"]')
    assert shown.code == 0
    assert shown.stdout == after["ci-bot"]["token"] + "\n"
    password = workdir.run(
        "secrets", "show", 'minimax.cn-main.sub_account["数据分析"]', "--field", "password"
    )
    assert password.stdout.strip() == after["数据分析"]["password"]
    assert workdir.run("plan", "--detailed-exitcode").code == 0


def test_no_token_or_password_reaches_any_output_or_plaintext_file(workdir):
    workdir.config(THREE)
    outputs = [
        workdir.run("plan"),
        workdir.run("apply", "--auto-approve"),
        workdir.run("plan", "--format", "json"),
        workdir.run("state", "list"),
        workdir.run("state", "show", 'minimax.cn-main.sub_account["ci-bot"]'),
    ]
    workdir.config(CHANGED)
    outputs += [
        workdir.run("plan", "--format", "markdown"),
        workdir.run("apply", "--auto-approve"),
        workdir.run("--debug", "plan"),
    ]
    secrets = [a["token"] for a in workdir.accounts().values()]
    secrets += [a["password"] for a in workdir.accounts().values()]
    secrets.append(workdir.env["MINIMAX_API_KEY"])
    if workdir.pg is not None:
        dsn = workdir.env["RECONCILER_PG_DSN"]
        secrets += [dsn, urlsplit(dsn).password]
    text = "".join(r.output for r in outputs)
    stored = workdir.stored_bytes()
    for secret in secrets:
        assert secret not in text
        assert secret.encode() not in stored


def test_state_and_secrets_are_recorded_privately(workdir):
    workdir.config(THREE)
    assert workdir.run("apply", "--auto-approve").code == 0
    if workdir.backend == "local":
        for name in ("reconciler.json", "reconciler.secrets.json"):
            mode = stat.S_IMODE(os.stat(workdir.path / "state" / name).st_mode)
            assert mode == 0o600, name
    else:
        assert not (workdir.path / "state").exists()
    pulled = workdir.run("state", "pull")
    state = json.loads(pulled.stdout)["state"]
    assert state["version"] == 1 and state["serial"] >= 3
    assert len(state["resources"]) == 3


def test_saved_plan_applies_without_asking_and_refuses_when_stale(workdir):
    workdir.config(THREE)
    saved = workdir.run("plan", "--out", "tfplan.json")
    assert saved.code == 0
    shown = workdir.run("show", "tfplan.json", "--format", "markdown")
    assert "3 to create" in shown.stdout

    applied = workdir.run("apply", "tfplan.json")
    assert applied.code == 0, applied.output
    assert len(workdir.accounts()) == 3

    stale = workdir.run("apply", "tfplan.json")
    assert stale.code == 1
    assert "stale" in stale.stderr and "serial" in stale.stderr
    assert len(workdir.accounts()) == 3


def test_saved_plan_is_refused_when_the_config_changed(workdir):
    workdir.config(THREE)
    assert workdir.run("plan", "--out", "p.json").code == 0
    workdir.config(CHANGED)
    requests_before = len(workdir.sandbox.requests)
    stale = workdir.run("apply", "p.json")
    assert stale.code == 1
    assert "stale" in stale.stderr and "config changed" in stale.stderr
    assert len(workdir.sandbox.requests) == requests_before


def test_target_limits_plan_and_apply_to_one_address(workdir):
    workdir.config(THREE)
    target = 'minimax.cn-main.sub_account["intern"]'
    planned = workdir.run("plan", "--target", target)
    assert "1 to create" in planned.stdout
    assert workdir.run("apply", "--auto-approve", "--target", target).code == 0
    assert set(workdir.accounts()) == {"intern"}


def test_rotate_every_rotates_a_token_older_than_the_period(workdir):
    workdir.config("- name: ci-bot\n  rotate_every: 90d\n")
    env = {"RECONCILER_NOW": "2026-08-01T09:00:00Z"}
    assert workdir.run("apply", "--auto-approve", env=env).code == 0
    later = {"RECONCILER_NOW": "2026-10-30T08:59:59Z"}
    assert workdir.run("plan", "--detailed-exitcode", env=later).code == 0
    due = {"RECONCILER_NOW": "2026-10-30T09:00:01Z"}
    planned = workdir.run("plan", "--detailed-exitcode", env=due)
    assert planned.code == 2
    assert "token older than 90d (issued 2026-08-01)" in planned.stdout
    assert "1 to rotate" in planned.stdout
