"""End to end: an xAI spending limit as code, the real CLI against the sandbox over loopback.

Set, converge, drift behind the tool's back, guards before any write, forget, stale saved
plans, and every way the xAI API can refuse: each ends in one clear line and exit 1.
"""

from __future__ import annotations

import json

import jsonschema
import pytest

from reconciler.sandbox import SANDBOX_XAI_READONLY_KEY, SANDBOX_XAI_TEAM_ID
from reconciler.schema import load_schema

TEAM = SANDBOX_XAI_TEAM_ID
ADDRESS = "xai.prod.spending_limit"
LIMITS = f"/v1/billing/teams/{TEAM}/postpaid/spending-limits"


def xai_requests(workdir, method: str | None = None) -> list[dict]:
    return [
        r
        for r in workdir.sandbox.requests
        if r["path"].startswith("/v1/billing/") and (method is None or r["method"] == method)
    ]


def soft_cents(workdir) -> str:
    return workdir.sandbox.xai_spending_limits(TEAM)["softSl"]["val"]


def test_a_limit_is_planned_applied_and_then_converged(workdir):
    workdir.xai_config("500.00")
    assert workdir.run("validate").code == 0

    planned = workdir.run("plan", "--format", "json", "--detailed-exitcode")
    assert planned.code == 2, planned.output
    document = json.loads(planned.stdout)
    jsonschema.validate(document, load_schema("plan"))
    (change,) = document["changes"]
    assert (change["address"], change["action"], change["type"]) == (
        ADDRESS,
        "update",
        "xai_spending_limit",
    )
    assert change["before"] == {"monthly_usd": "0.00"}
    assert change["after"] == {"monthly_usd": "500.00"}
    assert change["details"]["hard"] == "1000.00"
    assert document["live"][ADDRESS]["soft"] == "0.00"

    applied = workdir.run("apply", "--auto-approve")
    assert applied.code == 0, applied.output
    assert "1 succeeded, 0 failed, 0 skipped" in applied.stdout
    assert soft_cents(workdir) == "50000"

    again = workdir.run("plan", "--detailed-exitcode")
    assert again.code == 0, again.output
    assert "No changes." in again.stdout


def test_a_limit_changed_behind_the_tools_back_is_drift_with_both_values(workdir):
    workdir.xai_config("500.00")
    assert workdir.run("apply", "--auto-approve").code == 0
    workdir.sandbox.set_xai_soft_limit(TEAM, 40000)

    drifted = workdir.run("plan", "--detailed-exitcode")
    assert drifted.code == 2, drifted.output
    assert (
        f"# {ADDRESS} has drifted outside reconciler and will be updated in place" in drifted.stdout
    )
    assert "$400.00 -> $500.00" in drifted.stdout
    assert "set to $500.00" in drifted.stdout

    markdown = workdir.run("plan", "--format", "markdown")
    assert "| update (drift) |" in markdown.stdout

    document = json.loads(workdir.run("plan", "--format", "json").stdout)
    (change,) = document["changes"]
    assert change["drift"] is True
    assert change["before"] == {"monthly_usd": "400.00"}
    assert change["applied"] == {"monthly_usd": "500.00"}

    assert workdir.run("apply", "--auto-approve").code == 0
    assert soft_cents(workdir) == "50000"
    assert workdir.run("plan", "--detailed-exitcode").code == 0


def test_no_changes_without_refresh_says_drift_is_not_shown(workdir):
    workdir.xai_config("500.00")
    assert workdir.run("apply", "--auto-approve").code == 0
    workdir.sandbox.set_xai_soft_limit(TEAM, 45000)  # drift nobody read

    for fmt in ("text", "markdown"):
        unread = workdir.run("plan", "--no-refresh", "--detailed-exitcode", "--format", fmt)
        assert unread.code == 0
        assert "the providers were not read (--no-refresh)" in unread.stdout
        assert "drift made outside reconciler is not shown" in unread.stdout
    assert workdir.run("plan", "--detailed-exitcode").code == 2


def test_no_refresh_makes_no_xai_call(workdir):
    workdir.xai_config("500.00")
    before = len(workdir.sandbox.requests)

    result = workdir.run("plan", "--no-refresh", "--detailed-exitcode")

    assert result.code == 2
    assert "the live limit was not read" in result.stdout
    assert len(workdir.sandbox.requests) == before


def test_a_limit_above_the_hard_limit_fails_the_plan_and_nothing_is_written(workdir):
    workdir.xai_config("1500.00")

    for command in (["plan"], ["apply", "--auto-approve"]):
        result = workdir.run(*command)
        assert result.code == 1, result.output
        assert "$1,500.00" in result.stderr and "$1,000.00" in result.stderr
        assert "Traceback" not in result.output
    assert xai_requests(workdir, "POST") == []
    assert soft_cents(workdir) == "0"


def test_a_limit_below_this_months_spend_is_warned_about(workdir):
    workdir.sandbox.add_xai_usage(TEAM, "2026-11-03", "grok-4", "123.45")
    workdir.xai_config("100.00")

    result = workdir.run("plan", env={"RECONCILER_NOW": "2026-11-20T12:00:00Z"})

    assert result.code == 0, result.output
    assert "below this month's spend so far ($123.45)" in result.stdout


def test_removing_the_limit_forgets_it_and_leaves_it_at_xai(workdir):
    workdir.xai_config("500.00")
    assert workdir.run("apply", "--auto-approve").code == 0
    workdir.xai_config(None)
    posts = len(xai_requests(workdir, "POST"))

    planned = workdir.run("plan", "--detailed-exitcode")
    assert planned.code == 2
    assert (
        "Plan: 0 to create, 0 to update, 0 to rotate, 0 to delete, 1 to forget." in planned.stdout
    )
    assert "never set to zero" in planned.stdout

    assert workdir.run("apply", "--auto-approve").code == 0
    assert len(xai_requests(workdir, "POST")) == posts
    assert soft_cents(workdir) == "50000"
    assert workdir.run("state", "list").stdout == ""
    assert workdir.run("plan", "--detailed-exitcode").code == 0


def test_a_saved_plan_is_refused_when_the_live_limit_moved_since(workdir):
    workdir.xai_config("500.00")
    assert workdir.run("plan", "--out", "p.json").code == 0
    workdir.sandbox.set_xai_soft_limit(TEAM, 45000)

    result = workdir.run("apply", "p.json")

    assert result.code == 1
    assert "stale" in result.stderr
    assert f"the live value of {ADDRESS} moved since the plan was made" in result.stderr
    assert "soft: $0.00 -> $450.00" in result.stderr
    assert xai_requests(workdir, "POST") == []


def test_a_saved_plan_applies_when_nothing_moved(workdir):
    workdir.xai_config("500.00")
    assert workdir.run("plan", "--out", "p.json").code == 0

    result = workdir.run("apply", "p.json")

    assert result.code == 0, result.output
    assert soft_cents(workdir) == "50000"


def test_a_no_refresh_saved_plan_still_refuses_a_limit_above_the_hard_limit(workdir):
    workdir.xai_config("900.00")
    assert workdir.run("plan", "--no-refresh", "--out", "p.json").code == 0
    workdir.sandbox.set_xai_hard_limit(TEAM, 80000)

    result = workdir.run("apply", "p.json")

    assert result.code == 1
    assert "$900.00" in result.stdout and "$800.00" in result.stdout
    assert xai_requests(workdir, "POST") == []


@pytest.mark.parametrize(
    ("env", "fault", "expected"),
    [
        (
            {"XAI_MANAGEMENT_KEY": "not-a-real-key"},
            None,
            "XAI_MANAGEMENT_KEY was refused (HTTP 401",
        ),
        ({"XAI_MANAGEMENT_KEY": SANDBOX_XAI_READONLY_KEY}, None, "may not manage billing of team"),
        (
            {},
            {"kind": "http_status", "http_status": 503, "retry_after": 0, "times": None},
            "HTTP 503",
        ),
        ({}, {"kind": "malformed", "times": None}, "not valid JSON"),
    ],
    ids=["wrong key", "no billing permission", "5xx burst", "malformed answer"],
)
def test_every_xai_refusal_is_one_clear_line_and_exit_1(workdir, env, fault, expected):
    workdir.xai_config("500.00")
    if fault:
        workdir.sandbox.add_fault(method="GET", path=LIMITS, **fault)

    for command in (["plan"], ["apply", "--auto-approve"]):
        result = workdir.run(*command, env=env)
        assert result.code == 1, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith(f"Error: xAI read spending limits (team {TEAM})")
        assert expected in lines[0]
        assert "Traceback" not in result.output
        if env:
            assert env["XAI_MANAGEMENT_KEY"] not in result.output
    assert xai_requests(workdir, "POST") == []
    if fault and fault["kind"] == "http_status":
        attempts = len([r for r in xai_requests(workdir, "GET") if r["path"] == LIMITS])
        assert attempts == 2 * 4  # plan and apply, each retried to the policy's 4 attempts


def test_an_unset_management_key_is_named_before_any_call(workdir):
    workdir.xai_config("500.00")

    result = workdir.run("plan", env={"XAI_MANAGEMENT_KEY": None})

    assert result.code == 1
    assert "XAI_MANAGEMENT_KEY is unset or empty" in result.stderr
    assert workdir.sandbox.requests == []


def test_a_plan_targeting_the_xai_team_needs_and_reads_only_the_xai_key(workdir):
    workdir.config("- name: ci-bot\n  budget: {monthly_cash: '5.00', on_exceed: disable}\n")
    minimax = (workdir.path / "reconciler.yaml").read_text(encoding="utf-8")
    team = workdir.xai_config("500.00", name="xai.yaml").read_text(encoding="utf-8")
    (workdir.path / "conf").mkdir()
    (workdir.path / "conf" / "minimax.yaml").write_text(minimax, encoding="utf-8")
    (workdir.path / "conf" / "xai.yaml").write_text(team, encoding="utf-8")
    no_minimax = {"MINIMAX_API_KEY": None}

    planned = workdir.run("plan", "-c", "conf", "--target", ADDRESS, env=no_minimax)
    assert planned.code == 0, planned.output
    assert "$0.00 -> $500.00" in planned.stdout
    assert not any(r["path"] == "/v1/batch_query_bill" for r in workdir.sandbox.requests)

    applied = workdir.run(
        "apply", "-c", "conf", "--target", ADDRESS, "--auto-approve", env=no_minimax
    )
    assert applied.code == 0, applied.output
    assert soft_cents(workdir) == "50000"
    assert workdir.accounts() == {}  # the sub-account was out of the target's reach
