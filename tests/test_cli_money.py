"""End to end: money beside every change, as a new user meets it, against the sandbox.

``usage`` figures equal the exact sum of the sandbox's bill rows; a budget over its limit
disables its account through plan and apply and breaks ``check``; a useapi floor breaks
``check``; an account made behind the tool's back that spends is an unmanaged spender
(drift under ``unmanaged: fail``); every refusal is one line and exit 1.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import jsonschema
import pytest

from reconciler.sandbox import (
    SANDBOX_MINIMAX_API_KEY,
    SANDBOX_USEAPI_ACCOUNT,
    SANDBOX_USEAPI_TOKEN,
    SANDBOX_XAI_MANAGEMENT_KEY,
    SANDBOX_XAI_READONLY_KEY,
    SANDBOX_XAI_TEAM_ID,
)
from reconciler.schema import load_schema

GROUP = "1687256519302470"
CI_BOT = 'minimax.cn-main.sub_account["ci-bot"]'
TEMP = 'minimax.cn-main.sub_account["临时工"]'
SECRETS = (SANDBOX_MINIMAX_API_KEY, SANDBOX_XAI_MANAGEMENT_KEY, SANDBOX_USEAPI_TOKEN)


def setup(workdir: Any, accounts: str, *, min_credits: int = 50, unmanaged: str = "") -> None:
    """A config with one MiniMax group, the sandbox's xAI team and a useapi credit check."""
    url = workdir.sandbox.url
    extra = f"""
        xai:
          prod:
            team_id: "{SANDBOX_XAI_TEAM_ID}"
            management_key_env: XAI_MANAGEMENT_KEY
            base_url: {url}
            spending_limit:
              monthly_usd: "500.00"
        useapi:
          default:
            token_env: USEAPI_TOKEN
            base_url: {url}
            checks:
              - account: {SANDBOX_USEAPI_ACCOUNT}
                min_credits: {min_credits}
    """
    workdir.config(accounts, extra=extra)
    workdir.env["USEAPI_TOKEN"] = SANDBOX_USEAPI_TOKEN
    if unmanaged:
        path = workdir.path / "reconciler.yaml"
        text = path.read_text(encoding="utf-8")
        path.write_text(
            text.replace("    sub_accounts:\n", f"    unmanaged: {unmanaged}\n    sub_accounts:\n")
        )


def month() -> tuple[str, str]:
    today = datetime.now(UTC).date()
    return today.replace(day=1).strftime("%Y%m%d"), today.strftime("%Y%m%d")


def sandbox_spend(workdir: Any) -> dict[str, Decimal]:
    """This month's rows as the sandbox answers them, summed by creator with Decimal."""
    start, end = month()
    with httpx.Client(base_url=workdir.sandbox.url, verify=False) as client:
        answer = client.get(
            "/v1/batch_query_bill",
            params={"GroupId": GROUP, "start_date": start, "end_date": end},
            headers={"Authorization": f"Bearer {SANDBOX_MINIMAX_API_KEY}"},
        ).json()
    sums: dict[str, Decimal] = {}
    for row in answer["bill_list"]:
        name = row["creator_name"].removesuffix(f"@{GROUP}")
        sums[name] = sums.get(name, Decimal(0)) + Decimal(row["consume_cash"])
    return sums


def spend(workdir: Any, name: str, cash: str, **details: Any) -> None:
    workdir.sandbox.add_minimax_spend(GROUP, name, cash, **details)


def assert_clean(result: Any) -> None:
    assert "Traceback" not in result.output and "Internal error" not in result.output
    for secret in SECRETS:
        assert secret not in result.output


# -- usage --


def test_usage_gives_exact_per_account_and_total_figures_in_every_format(workdir: Any) -> None:
    setup(workdir, "- name: ci-bot\n")
    assert workdir.run("apply", "--auto-approve").code == 0
    spend(workdir, "ci-bot", "1.0001", model="abab6.5s-chat", tokens=11)
    spend(workdir, "ci-bot", "2.1234", model="MiniMax-M1", tokens=22)
    workdir.sandbox.create_minimax_sub_account(GROUP, "临时工")
    spend(workdir, "临时工", "0.0100")
    workdir.sandbox.add_xai_usage(
        SANDBOX_XAI_TEAM_ID, datetime.now(UTC).date().isoformat(), "grok-4", "1.5"
    )
    expected = sandbox_spend(workdir)

    as_json = workdir.run("usage", "--format", "json")
    assert as_json.code == 0, as_json.output
    document = json.loads(as_json.stdout)
    minimax, xai, useapi = document["sections"]
    rows = {row["key"]: row for row in minimax["rows"]}
    assert {key: Decimal(row["amount"]) for key, row in rows.items()} == expected
    assert Decimal(minimax["total"]) == sum(expected.values())
    assert (rows["ci-bot"]["role"], rows["主账号"]["role"], rows["临时工"]["role"]) == (
        "managed",
        "main account",
        "unmanaged",
    )
    assert Decimal(xai["total"]) == Decimal("1.5")
    assert {f["metric"]: f["amount"] for f in xai["facts"]}["prepaid_credit"] == "25.00"
    assert {f["metric"]: f["amount"] for f in useapi["facts"]} == {
        "credits": "1250",
        "expiring_7d": "300",
    }
    assert_clean(as_json)

    as_csv = list(csv.DictReader(io.StringIO(workdir.run("usage", "--format", "csv").stdout)))
    spent = {
        r["key"]: Decimal(r["amount"])
        for r in as_csv
        if r["metric"] == "spend_by_account" and r["provider"] == "minimax"
    }
    assert spent == expected
    total = next(r for r in as_csv if r["metric"] == "total" and r["provider"] == "minimax")
    assert Decimal(total["amount"]) == sum(expected.values())

    table = workdir.run("usage")
    assert table.code == 0 and table.stderr == ""
    assert (
        "主账号" in table.stdout and "main account" in table.stdout and "unmanaged" in table.stdout
    )
    assert "prepaid credit left" in table.stdout and "1,250" in table.stdout
    assert max(len(line) for line in table.stdout.splitlines()) <= 80


def test_usage_by_model_and_by_day_sum_to_the_same_total(workdir: Any) -> None:
    setup(workdir, "- name: ci-bot\n")
    workdir.run("apply", "--auto-approve")
    spend(workdir, "ci-bot", "0.3333", model="speech-02-hd")
    totals = set()
    for by in ("account", "model", "day"):
        document = json.loads(workdir.run("usage", "--by", by, "--format", "json").stdout)
        section = document["sections"][0]
        assert sum(Decimal(row["amount"]) for row in section["rows"]) == Decimal(section["total"])
        totals.add(section["total"])
    assert len(totals) == 1


def test_usage_says_when_xai_answered_only_part_of_the_usage(workdir: Any) -> None:
    setup(workdir, "[]")
    today = datetime.now(UTC).date().isoformat()
    for model in ("grok-4", "grok-3"):
        workdir.sandbox.add_xai_usage(SANDBOX_XAI_TEAM_ID, today, model, "1")
    workdir.sandbox.set_xai_usage_max_series(SANDBOX_XAI_TEAM_ID, 1)
    result = workdir.run("usage", "--by", "model")
    assert result.code == 0 and "partial: xAI answered limitReached" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--from", "2026-13-01"), "--from '2026-13-01' is not a day"),
        (("--from", "2026-11-20", "--to", "2026-11-01"), "is after --to"),
        (("--by", "team"), "Invalid value for '--by'"),
    ],
)
def test_usage_refuses_a_bad_range_in_one_line(
    workdir: Any, args: tuple[str, ...], message: str
) -> None:
    setup(workdir, "[]")
    result = workdir.run("usage", *args)
    assert result.code == 1 and message in result.stderr and result.stdout == ""
    assert_clean(result)


# -- budgets that act --


def test_over_budget_with_disable_is_planned_applied_and_breaks_check(workdir: Any) -> None:
    setup(workdir, '- name: ci-bot\n  budget:\n    monthly_cash: "4.00"\n    on_exceed: disable\n')
    assert workdir.run("apply", "--auto-approve").code == 0
    spend(workdir, "ci-bot", "4.2500")

    planned = workdir.run("plan", "--detailed-exitcode")
    assert planned.code == 2, planned.output
    assert "(over budget: 4.25 > 4.00 this month)" in planned.stdout
    assert '"enabled" -> "disabled"' in planned.stdout

    applied = workdir.run("apply", "--auto-approve")
    assert applied.code == 0, applied.output
    assert workdir.accounts()["ci-bot"]["status"] == 2  # disabled at the provider

    checked = workdir.run("check")
    assert checked.code == 2, checked.output
    assert (
        "BROKEN" in checked.stdout and CI_BOT in checked.stdout and "4.25 > 4.00" in checked.stdout
    )
    assert workdir.run("plan", "--detailed-exitcode").code == 0  # disabled already: nothing to do
    assert_clean(checked)


def test_a_saved_plan_that_disables_an_account_over_budget_applies_even_after_more_spend(
    workdir: Any,
) -> None:
    setup(workdir, '- name: ci-bot\n  budget:\n    monthly_cash: "1.00"\n')
    workdir.run("apply", "--auto-approve")
    spend(workdir, "ci-bot", "1.5000")
    assert workdir.run("plan", "--out", "plan.json").code == 0
    jsonschema.validate(json.loads((workdir.path / "plan.json").read_text()), load_schema("plan"))
    spend(workdir, "ci-bot", "0.2500")  # spend moves on; the plan is not stale for it

    applied = workdir.run("apply", "plan.json")
    assert applied.code == 0, applied.output
    assert workdir.accounts()["ci-bot"]["status"] == 2
    assert (
        "over budget: 1.50 > 1.00"
        in workdir.run("show", "plan.json", "--format", "markdown").stdout
    )


def test_over_budget_with_warn_warns_and_keeps_the_account_enabled(workdir: Any) -> None:
    setup(workdir, '- name: ci-bot\n  budget:\n    monthly_cash: "4.00"\n    on_exceed: warn\n')
    workdir.run("apply", "--auto-approve")
    spend(workdir, "ci-bot", "5.0000")
    planned = workdir.run("plan", "--detailed-exitcode")
    assert (
        planned.code == 0
        and "over budget: 5.00 > 4.00 this month (on_exceed: warn" in planned.stdout
    )
    assert workdir.run("check").code == 2


def test_check_fails_below_min_credits_with_the_figure_and_passes_when_all_hold(
    workdir: Any,
) -> None:
    setup(workdir, '- name: ci-bot\n  budget:\n    monthly_cash: "100.00"\n', min_credits=2000)
    workdir.run("apply", "--auto-approve")

    low = workdir.run("check", "--format", "json")
    assert low.code == 2, low.output
    (floor,) = [r for r in json.loads(low.stdout)["guard_rails"] if r["rule"] == "credit_floor"]
    assert (floor["status"], floor["figure"], floor["threshold"]) == ("broken", "1250", "2000")

    workdir.sandbox.set_useapi_credits(SANDBOX_USEAPI_ACCOUNT, 2500)
    held = workdir.run("check")
    assert held.code == 0, held.output
    assert "0 broken, 2 held" in held.stdout and "2,500 credits >= min_credits 2,000" in held.stdout
    planned = workdir.run("plan").stdout  # the plan lists every rail it counts
    assert "Guard rails: 0 broken, 2 held" in planned
    assert (
        'held   useapi.default["sandbox@example.com"]: 2,500 credits >= min_credits 2,000'
        in planned
    )


# -- the pull-request plan --


def test_the_markdown_plan_shows_the_month_to_date_figure_and_no_refresh_says_budgets_were_not_evaluated(
    workdir: Any,
) -> None:
    setup(workdir, '- name: ci-bot\n  budget:\n    monthly_cash: "50.00"\n  token_generation: 1\n')
    workdir.run("apply", "--auto-approve")
    spend(workdir, "ci-bot", "12.3400")
    path = workdir.path / "reconciler.yaml"
    path.write_text(path.read_text().replace("token_generation: 1", "token_generation: 2"))

    markdown = workdir.run("plan", "--format", "markdown")
    assert markdown.code == 0, markdown.output
    assert "month\\_spend = 12.34; budget = 50.00" in markdown.stdout
    assert "#### Money, month to date" in markdown.stdout
    assert '| `useapi.default["sandbox@example.com"]` |' in markdown.stdout

    unread = workdir.run("plan", "--format", "markdown", "--no-refresh")
    assert unread.code == 0 and "budgets were not evaluated" in unread.stdout
    assert "month\\_spend" not in unread.stdout


def test_a_targeted_plan_says_which_guard_rails_it_left_unjudged(workdir: Any) -> None:
    setup(workdir, '- name: ci-bot\n  budget:\n    monthly_cash: "1.00"\n', min_credits=5000)
    assert workdir.run("apply", "--auto-approve").code == 0

    targeted = workdir.run("plan", "--target", "xai.prod.spending_limit")

    assert targeted.code == 0, targeted.output
    assert "guard rails outside the targets were not evaluated" in targeted.stdout
    assert "1 budget(s), 1 credit check(s) went unchecked" in targeted.stdout
    assert "min_credits 5,000" not in targeted.stdout  # not judged, so not listed either
    whole = workdir.run("plan")
    assert "outside the targets" not in whole.stdout and "min_credits 5,000" in whole.stdout


def test_useapi_checks_are_evaluated_not_merely_validated(workdir: Any) -> None:
    setup(workdir, "[]", min_credits=5000)
    result = workdir.run("plan")
    assert result.code == 0
    assert "not evaluated by this version" not in result.output
    assert "1,250 credits < min_credits 5,000" in result.stdout


# -- unmanaged spenders --


def test_an_account_made_behind_the_tools_back_that_spends_is_an_unmanaged_spender(
    workdir: Any,
) -> None:
    setup(workdir, "- name: ci-bot\n")
    workdir.run("apply", "--auto-approve")
    workdir.sandbox.create_minimax_sub_account(GROUP, "临时工")
    spend(workdir, "临时工", "3.2100")

    warned = workdir.run("plan", "--detailed-exitcode")
    assert warned.code == 0, warned.output
    assert f"Warning: {TEMP}: 临时工 spent 3.21 this month" in warned.stdout
    assert "reconciler import" in warned.stdout

    setup(workdir, "- name: ci-bot\n", unmanaged="fail")
    failed = workdir.run("plan", "--detailed-exitcode", "--format", "json")
    assert failed.code == 2, failed.output
    (rail,) = [
        r for r in json.loads(failed.stdout)["money"]["guard_rails"] if r["rule"] == "unmanaged"
    ]
    assert (rail["subject"], rail["figure"], rail["drift"]) == (TEMP, "3.21", True)
    assert workdir.run("check").code == 2
    for fmt in ("text", "markdown"):
        shown = workdir.run("plan", "--detailed-exitcode", "--format", fmt)
        assert shown.code == 2
        assert "Nothing to apply, but a guard rail is broken" in shown.stdout
        assert "The recorded state matches" not in shown.stdout


# -- refusals: one line, exit 1 --


@pytest.mark.parametrize("command", ["plan", "usage", "check"])
@pytest.mark.parametrize(
    ("env", "fault", "message"),
    [
        ({"MINIMAX_API_KEY": "wrong-key"}, None, "authorization failed (code 1004"),
        ({"XAI_MANAGEMENT_KEY": SANDBOX_XAI_READONLY_KEY}, None, "may not manage billing of team"),
        ({"USEAPI_TOKEN": "wrong-token"}, None, "the token in USEAPI_TOKEN was refused (HTTP 401"),
        ({}, "malformed", "MiniMax read bills"),
    ],
    ids=["wrong MiniMax key", "xAI 403", "useapi 401", "malformed bill"],
)
def test_each_refusal_is_one_clear_line_and_exit_1(
    workdir: Any, command: str, env: dict[str, str], fault: str | None, message: str
) -> None:
    setup(workdir, "- name: ci-bot\n")
    if fault:
        workdir.sandbox.add_fault("GET", path="/v1/batch_query_bill", kind=fault, times=None)
    result = workdir.run(command, env=env)
    assert result.code == 1, result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith("Error: ") and message in line
    assert result.stdout == ""
    assert_clean(result)
    assert "wrong-key" not in result.output and "wrong-token" not in result.output


def test_usage_and_check_name_every_missing_variable_before_any_call(workdir: Any) -> None:
    setup(workdir, "[]")
    for command in ("usage", "check"):
        result = workdir.run(command, env={"USEAPI_TOKEN": "", "XAI_MANAGEMENT_KEY": ""})
        assert (
            result.code == 1
            and "XAI_MANAGEMENT_KEY, USEAPI_TOKEN are unset or empty" in result.stderr
        )
    assert workdir.sandbox.requests == []


def test_check_without_guard_rails_says_how_to_set_one_and_exits_0(workdir: Any) -> None:
    workdir.config("- name: ci-bot\n")
    result = workdir.run("check")
    assert result.code == 0 and "No guard rails are set" in result.stdout


def test_importing_an_unmanaged_spender_makes_it_managed(workdir: Any) -> None:
    made = workdir.sandbox.create_minimax_sub_account(GROUP, "临时工")
    spend(workdir, "临时工", "0.5000")
    setup(workdir, "- name: 临时工\n", unmanaged="fail")
    assert workdir.run("plan", "--detailed-exitcode").code == 2

    imported = workdir.run("import", TEMP, made["subject_id"])
    assert imported.code == 0, imported.output
    after = workdir.run("plan", "--format", "json")
    rails = json.loads(after.stdout)["money"]["guard_rails"]
    assert [r for r in rails if r["rule"] == "unmanaged"] == []
    rows = json.loads(workdir.run("usage", "--format", "json").stdout)["sections"][0]["rows"]
    assert {row["key"]: row["role"] for row in rows}["临时工"] == "managed"
