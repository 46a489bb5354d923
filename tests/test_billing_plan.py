"""Money in the plan: budgets that act, unmanaged spenders, credit floors, figures beside changes.

Pure: each test builds the config, the recorded state and the money a refresh read
(``Money``), plans, and looks at what a user sees: changes and their reasons, warnings,
guard rails, the markdown money table, the JSON document, and a saved plan read back.
"""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import jsonschema
import pytest

from reconciler.billing.figures import AccountCredits, GroupSpend, Money, Spend, TeamMoney
from reconciler.billing.report import report_from_json
from reconciler.model import (
    Action,
    Budget,
    CreditCheck,
    Desired,
    DesiredSubAccount,
    MinimaxGroup,
    Plan,
    RecordedSubAccount,
    Status,
    UseapiAccount,
    XaiTeam,
    sub_account_address,
)
from reconciler.planner import make_plan
from reconciler.refresh import Live
from reconciler.render import plan_to_dict, render_json, render_markdown, render_text
from reconciler.schema import load_schema

NOW = datetime(2026, 11, 14, 12, 0, tzinfo=UTC)
GROUP_ID = "1687256519302470"
CI_BOT = sub_account_address("cn-main", "ci-bot")
TEMP = sub_account_address("cn-main", "临时工")


def want(
    name: str, budget: str | None = None, on_exceed: str = "disable", **kw: Any
) -> DesiredSubAccount:
    limit = Budget(Decimal(budget), on_exceed) if budget else None
    return DesiredSubAccount("cn-main", name, budget=limit, **kw)


def config(*accounts: DesiredSubAccount, unmanaged: str = "warn", **sections: Any) -> Desired:
    group = MinimaxGroup(
        "cn-main", GROUP_ID, "MINIMAX_API_KEY", sub_accounts=accounts, unmanaged=unmanaged
    )
    return Desired(digest="d" * 64, minimax={"cn-main": group}, **sections)


def record(name: str, status: Status = Status.ENABLED, **kw: Any) -> dict[str, RecordedSubAccount]:
    recorded = RecordedSubAccount("cn-main", name, GROUP_ID, "1790000000000000001", status, **kw)
    return {recorded.address: recorded}


def money(**spenders: tuple[str, str]) -> Money:
    """Spend by name: ``(month to date, last 30 days)``; ``main`` is the main account."""
    read = {
        ("主账号" if name == "main" else name): Spend(Decimal(month), Decimal(window))
        for name, (month, window) in spenders.items()
    }
    return Money(NOW.date(), minimax={"cn-main": GroupSpend(GROUP_ID, read)})


def plan(
    desired: Desired, recorded: dict[str, Any] | None = None, read: Money | None = None
) -> Plan:
    live = Live(refreshed=True, money=read) if read is not None else None
    return make_plan(desired, recorded or {}, NOW, live=live)


# -- budgets --


def test_over_an_on_exceed_disable_budget_the_account_is_planned_disabled_with_both_figures() -> (
    None
):
    result = plan(
        config(want("ci-bot", "4.00")), record("ci-bot"), money(**{"ci-bot": ("4.2500", "5")})
    )

    (change,) = result.changes
    assert (change.address, change.action) == (CI_BOT, Action.UPDATE)
    assert change.before == {"status": "enabled"} and change.after == {"status": "disabled"}
    assert change.reason == "over budget: 4.25 > 4.00 this month"
    assert change.details == {"month_spend": "4.25", "budget": "4.00"}
    assert result.money is not None
    (rail,) = result.money.guard_rails
    assert (rail.rule, rail.subject, rail.status) == ("budget", CI_BOT, "broken")


def test_spend_equal_to_the_budget_is_within_it() -> None:
    result = plan(
        config(want("ci-bot", "4.00")), record("ci-bot"), money(**{"ci-bot": ("4.0000", "4")})
    )
    assert result.changes == ()
    assert result.money is not None and result.money.guard_rails[0].status == "held"


def test_over_a_warn_budget_the_plan_warns_and_changes_nothing() -> None:
    result = plan(
        config(want("ci-bot", "4.00", "warn")),
        record("ci-bot"),
        money(**{"ci-bot": ("9.99", "9.99")}),
    )

    assert result.changes == ()
    assert any(CI_BOT in w and "over budget: 9.99 > 4.00 this month" in w for w in result.warnings)


def test_an_account_disabled_by_its_budget_stays_disabled_while_still_over() -> None:
    result = plan(
        config(want("ci-bot", "4.00")),
        record("ci-bot", Status.DISABLED),
        money(**{"ci-bot": ("4.25", "4.25")}),
    )
    assert result.changes == ()


def test_back_within_budget_in_a_new_month_the_configured_status_returns_and_says_why() -> None:
    result = plan(
        config(want("ci-bot", "4.00")),
        record("ci-bot", Status.DISABLED),
        money(**{"ci-bot": ("0.10", "4.35")}),
    )

    (change,) = result.changes
    assert change.after == {"status": "enabled"}
    assert (
        change.reason == "status disabled -> enabled (within its budget this month: 0.10 of 4.00)"
    )


def test_without_a_refresh_an_account_its_budget_may_have_disabled_is_not_re_enabled() -> None:
    result = plan(config(want("ci-bot", "4.00")), record("ci-bot", Status.DISABLED))

    assert result.changes == ()
    assert any("--no-refresh" in w and CI_BOT in w for w in result.warnings)
    assert any("budgets were not evaluated" in w for w in result.warnings)
    assert result.money is None


def test_a_budget_of_a_new_account_waits_for_its_first_spend() -> None:
    result = plan(config(want("ci-bot", "4.00")), {}, money())
    assert [c.action for c in result.changes] == [Action.CREATE]
    assert result.changes[0].details is None


def test_a_config_disabled_account_is_not_judged_by_its_budget_for_status() -> None:
    result = plan(
        config(want("ci-bot", "4.00", status=Status.DISABLED)),
        record("ci-bot", Status.DISABLED),
        money(**{"ci-bot": ("9", "9")}),
    )
    assert result.changes == ()


# -- spend beside changes, warnings on deleting or disabling a spender --


def test_every_change_of_an_existing_account_shows_its_month_spend() -> None:
    result = plan(
        config(want("ci-bot", token_generation=1)),
        record("ci-bot"),
        money(**{"ci-bot": ("1.5", "2")}),
    )

    (change,) = result.changes
    assert change.action is Action.ROTATE
    assert change.details == {"month_spend": "1.50"}
    assert re.search(r"\n {8}month_spend += 1\.50\n", render_text(result))


def test_deleting_an_account_that_spent_in_the_last_30_days_warns_with_the_figure() -> None:
    result = plan(config(), record("ci-bot"), money(**{"ci-bot": ("0.00", "12.3400")}))

    (change,) = result.changes
    assert change.action is Action.DELETE
    assert change.details == {"month_spend": "0.00", "last_30_days": "12.34"}
    assert any(CI_BOT in w and "12.34 in the last 30 days" in w for w in result.warnings)


def test_disabling_an_account_that_spent_lately_warns_with_the_figure() -> None:
    result = plan(
        config(want("ci-bot", status=Status.DISABLED)),
        record("ci-bot"),
        money(**{"ci-bot": ("1", "3.5")}),
    )
    assert any("3.50 in the last 30 days" in w and "disabling" in w for w in result.warnings)


def test_deleting_an_idle_account_does_not_warn() -> None:
    assert plan(config(), record("ci-bot"), money()).warnings == ()


# -- unmanaged spenders --


def test_a_spender_the_state_does_not_know_is_warned_about_with_its_spend_and_import() -> None:
    result = plan(
        config(want("ci-bot")),
        record("ci-bot"),
        money(**{"临时工": ("3.21", "3.21"), "main": ("9", "9")}),
    )

    (warning,) = result.warnings
    assert TEMP in warning and "3.21" in warning and "reconciler import" in warning
    assert not result.drifted
    assert result.money is not None
    rails = {rail.subject: rail for rail in result.money.guard_rails}
    assert rails[TEMP].status == "warn"
    assert not any("主账号" in subject for subject in rails)  # the main account is no stranger


def test_with_unmanaged_fail_an_unmanaged_spender_is_drift() -> None:
    result = plan(
        config(want("ci-bot"), unmanaged="fail"),
        record("ci-bot"),
        money(**{"临时工": ("0.01", "0.01")}),
    )

    assert result.changes == () and result.drifted
    assert result.money is not None and result.money.broken()[0].subject == TEMP


def test_last_months_spender_is_not_unmanaged_this_month() -> None:
    assert plan(config(), {}, money(**{"临时工": ("0", "5")})).warnings == ()


def test_a_recorded_account_removed_from_the_config_is_not_a_stranger() -> None:
    result = plan(config(), record("ci-bot"), money(**{"ci-bot": ("1", "1")}))
    assert result.money is not None and result.money.guard_rails == ()


# -- useapi credit floors --


def useapi(min_credits: str, account: str | None = None) -> dict[str, UseapiAccount]:
    check = CreditCheck(account, Decimal(min_credits))
    return {"default": UseapiAccount("default", "USEAPI_TOKEN", checks=(check,))}


def credits(total: str, soon: str = "0", account: str | None = None) -> Money:
    read = AccountCredits(account, Decimal(total), Decimal(soon))
    return dataclasses.replace(money(), useapi={"default": (read,)})


def test_credits_below_min_credits_break_the_floor_and_warn_with_the_figure() -> None:
    result = plan(config(useapi=useapi("50")), {}, credits("40", "30"))

    assert result.money is not None
    (rail,) = result.money.guard_rails
    assert (rail.rule, rail.status, rail.figure) == ("credit_floor", "broken", Decimal(40))
    assert (
        "40 credits < min_credits 50" in rail.message and "30 expire within 7 days" in rail.message
    )
    assert any("useapi.default" in w and "40 credits" in w for w in result.warnings)
    assert not result.drifted  # a floor is for check, not for the drift exit code


def test_credits_at_min_credits_hold() -> None:
    result = plan(config(useapi=useapi("50", "a@b.c")), {}, credits("50", account="a@b.c"))
    assert result.money is not None
    assert [(r.subject, r.status) for r in result.money.guard_rails] == [
        ('useapi.default["a@b.c"]', "held")
    ]


# -- the money table and the JSON document --


def xai_money() -> Money:
    team = TeamMoney(
        "team-1", Decimal("12.34"), Decimal("25.00"), Decimal("0.00"), Decimal("1000.00")
    )
    return dataclasses.replace(
        money(**{"ci-bot": ("4.25", "4.25"), "main": ("1.0000", "1")}), xai={"prod": team}
    )


def test_the_markdown_plan_shows_month_spend_credit_and_limits_and_calls_out_broken_rails() -> None:
    desired = config(
        want("ci-bot", "4.00"),
        xai={"prod": XaiTeam("prod", "team-1", "XAI_KEY", monthly_usd=Decimal("500"))},
    )
    markdown = render_markdown(plan(desired, record("ci-bot"), xai_money()))

    assert "month\\_spend = 4.25; budget = 4.00" in markdown
    assert "#### Money, month to date (2026-11-01 .. 2026-11-14)" in markdown
    assert "**Guard rails broken (1):**" in markdown
    assert "| `minimax.cn-main` | 5.25 spent |" in markdown and "main account 1.00" in markdown
    assert (
        "| `xai.prod` | $12.34 spent | $25.00 prepaid credit left | limit $0.00 -> $500.00 |"
        in markdown
    )
    assert f"| `{CI_BOT}` | 4.25 | 4.00 | broken |" in markdown


def test_without_money_the_markdown_plan_says_budgets_were_not_evaluated() -> None:
    markdown = render_markdown(plan(config(want("ci-bot", "4.00")), record("ci-bot")))
    assert "budgets were not evaluated" in markdown and "Money" not in markdown


def test_the_json_plan_carries_the_money_exactly_and_matches_the_schema() -> None:
    result = plan(
        config(want("ci-bot", "4.00"), useapi=useapi("50")),
        record("ci-bot"),
        dataclasses.replace(xai_money(), useapi=credits("40").useapi),
    )
    document = json.loads(render_json(result))

    jsonschema.validate(document, load_schema("plan"))
    assert document["money"]["read"]["minimax"]["cn-main"]["spenders"]["ci-bot"] == {
        "month": "4.25",
        "last_30_days": "4.25",
    }
    assert [r["status"] for r in document["money"]["guard_rails"]] == ["broken", "broken"]
    assert '"figure": "40"' in render_json(result)  # credits are counts, never floats
    assert ": 4.25," not in render_json(result)


def test_a_saved_plans_money_reads_back_and_reproduces_the_budget_disable() -> None:
    result = plan(config(want("ci-bot", "4.00")), record("ci-bot"), xai_money())
    saved = json.loads(json.dumps(plan_to_dict(result)))

    report = report_from_json(saved["money"])
    assert report == result.money
    again = make_plan(
        config(want("ci-bot", "4.00")), record("ci-bot"), NOW, live=Live(True, {}, report.read)
    )
    assert again.changes == result.changes


@pytest.mark.parametrize(
    "damage",
    [
        lambda m: m["read"].update(through="yesterday"),
        lambda m: m["read"]["minimax"]["cn-main"]["spenders"]["ci-bot"].update(month=4.25),
        lambda m: m["read"]["minimax"]["cn-main"].pop("group_id"),
    ],
    ids=["bad day", "float money", "missing group_id"],
)
def test_money_that_does_not_read_back_is_refused(damage: Any) -> None:
    saved = plan_to_dict(plan(config(want("ci-bot", "4.00")), record("ci-bot"), xai_money()))[
        "money"
    ]
    damage(saved)
    with pytest.raises(ValueError):
        report_from_json(saved)


def test_the_period_is_the_calendar_month_through_the_day_read() -> None:
    read = dataclasses.replace(money(), through=date(2026, 2, 28))
    text = render_text(plan(config(), {}, read))
    assert "Money, month to date (2026-02-01 .. 2026-02-28):" in text


def test_a_pull_request_lists_every_broken_budget_and_only_the_held_ones_closest_to_their_limit() -> (
    None
):
    accounts = [want(f"a{i:02d}", "10.00") for i in range(30)]
    recorded = {k: v for i in range(30) for k, v in record(f"a{i:02d}").items()}
    spend = {f"a{i:02d}": (str(i / 10 if i else 11), "0") for i in range(30)}  # a00 is over
    markdown = render_markdown(plan(config(*accounts), recorded, money(**spend)))

    rows = [
        line
        for line in markdown.splitlines()
        if line.startswith('| `minimax.cn-main.sub_account["a')
    ]
    assert len(rows) == 20
    assert rows[0].endswith("| 11.00 | 10.00 | broken |")
    assert '["a29"]' in rows[1]  # the held budget closest to its limit comes first
    assert "... and 10 more budgets held" in markdown
