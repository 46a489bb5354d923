"""The xAI spending limit as a resource kind: the pure diff, drift, guards and how plans show it.

Inputs are built directly (no YAML, no state file, no HTTP): the config's limit, what
reconciler last applied, and what a refresh read live. Each test is one rule of SPEC
"Live reads, drift and data" for ``xai.ALIAS.spending_limit``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import jsonschema
import pytest

from reconciler.billing.figures import Money, TeamMoney
from reconciler.errors import PlanError
from reconciler.model import Action, Change, Desired, Plan, XaiTeam
from reconciler.planner import make_plan
from reconciler.refresh import Live, live_from_json
from reconciler.render import plan_to_dict, render_json, render_markdown, render_text
from reconciler.resources.xai_spending_limit import (
    LiveSpendingLimit,
    RecordedSpendingLimit,
    XaiSpendingLimits,
)
from reconciler.schema import load_schema

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
APPLIED_AT = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
TEAM = "4f6a1c2e-8d3b-4e5f-9a7c-2b1d0e3f4a5b"
ADDRESS = "xai.prod.spending_limit"


def config(monthly_usd: str | None = "500.00", team_id: str = TEAM) -> Desired:
    limit = Decimal(monthly_usd) if monthly_usd is not None else None
    team = XaiTeam("prod", team_id, "XAI_MANAGEMENT_KEY", monthly_usd=limit)
    return Desired(digest="d" * 64, xai={"prod": team})


def applied(monthly_usd: str, team_id: str = TEAM) -> dict[str, RecordedSpendingLimit]:
    return {ADDRESS: RecordedSpendingLimit("prod", team_id, Decimal(monthly_usd), APPLIED_AT)}


def live(soft: str, hard: str = "1000.00", spend: str | None = "12.34") -> Live:
    """What a refresh reads: the limits (live values) and the month's spend (money)."""
    value = LiveSpendingLimit(Decimal(soft), Decimal(soft), Decimal(hard))
    month = Decimal(spend) if spend else None
    team = TeamMoney(TEAM, month, Decimal("25.00"), Decimal(soft), Decimal(hard))
    return Live(
        refreshed=True, values={ADDRESS: value}, money=Money(NOW.date(), xai={"prod": team})
    )


def plan(desired: Desired, recorded: dict | None = None, seen: Live | None = None) -> Plan:
    return make_plan(desired, recorded or {}, NOW, live=seen)


def only(result: Plan) -> Change:
    assert len(result.changes) == 1, result.changes
    return result.changes[0]


# -- updates and drift --


def test_a_live_limit_other_than_the_config_is_updated_with_both_values_in_dollars() -> None:
    change = only(plan(config("500.00"), seen=live("123.45")))

    assert change.address == ADDRESS
    assert change.action is Action.UPDATE
    assert change.before == {"monthly_usd": "123.45"}
    assert change.after == {"monthly_usd": "500.00"}
    assert change.reason == "$123.45 -> $500.00"
    assert change.drift is False
    assert change.details == {"effective": "123.45", "hard": "1000.00", "month_spend": "12.34"}


def test_a_live_limit_changed_behind_reconcilers_back_is_drift_and_names_the_applied_value() -> (
    None
):
    change = only(plan(config("500.00"), applied("500.00"), live("400.00")))

    assert change.drift is True
    assert change.applied == {"monthly_usd": "500.00"}
    assert change.before == {"monthly_usd": "400.00"}
    assert change.reason == (
        "$400.00 -> $500.00; drift: changed outside reconciler since it was set to $500.00"
    )


def test_a_new_limit_in_the_config_over_the_applied_live_one_is_an_update_not_drift() -> None:
    change = only(plan(config("600.00"), applied("500.00"), live("500.00")))

    assert change.drift is False and change.applied is None
    assert change.reason == "$500.00 -> $600.00"


def test_a_live_limit_matching_the_config_and_the_record_plans_nothing() -> None:
    assert plan(config("500.00"), applied("500.00"), live("500.00")).changes == ()


def test_a_live_limit_already_as_wanted_but_never_applied_is_recorded_without_a_call() -> None:
    change = only(plan(config("500.00"), seen=live("500.00")))

    assert change.action is Action.UPDATE
    assert change.before == change.after == {"monthly_usd": "500.00"}
    assert "recorded as applied" in change.reason
    assert change.drift is False


def test_amounts_keep_their_cents_exactly() -> None:
    change = only(plan(config("0.10"), seen=live("0.20", spend=None)))

    assert change.reason == "$0.20 -> $0.10"
    assert change.after == {"monthly_usd": "0.10"}


# -- guards and warnings --


def test_a_limit_above_the_hard_limit_fails_the_plan_naming_both_figures() -> None:
    with pytest.raises(PlanError) as refused:
        plan(config("1500.00"), seen=live("100.00", hard="1000.00"))

    message = str(refused.value)
    assert ADDRESS in message and "$1,500.00" in message and "$1,000.00" in message
    assert "hard limit" in message


def test_a_limit_equal_to_the_hard_limit_is_allowed() -> None:
    assert only(plan(config("1000.00"), seen=live("0.00", hard="1000.00"))).after == {
        "monthly_usd": "1000.00"
    }


def test_a_limit_below_this_months_spend_is_warned_about_with_both_figures() -> None:
    result = plan(config("10.00"), seen=live("500.00", spend="123.45"))

    assert any("$10.00" in w and "$123.45" in w and ADDRESS in w for w in result.warnings)


def test_no_spend_warning_without_a_spend_figure() -> None:
    assert plan(config("10.00"), seen=live("500.00", spend=None)).warnings == ()


# -- stopping management --


def test_removing_the_block_forgets_the_limit_and_never_sets_it_to_zero() -> None:
    change = only(plan(config(None), applied("500.00")))

    assert change.action is Action.FORGET
    assert change.before == {"monthly_usd": "500.00"}
    assert change.after is None
    assert "never set to zero" in change.reason and "$500.00" in change.reason


def test_removing_the_whole_team_forgets_the_limit_too() -> None:
    change = only(plan(Desired(digest="d" * 64), applied("500.00")))

    assert change.action is Action.FORGET


def test_a_changed_team_id_manages_the_new_team_and_warns_about_the_old_one() -> None:
    result = plan(config("500.00", team_id="other-team"), applied("500.00"), live("500.00"))

    assert only(result).before == only(result).after  # recorded for the new team, no call
    assert any(TEAM in w and "other-team" in w for w in result.warnings)


# -- without a refresh --


def test_without_a_refresh_a_limit_as_last_applied_plans_nothing() -> None:
    assert plan(config("500.00"), applied("500.00")).changes == ()


def test_without_a_refresh_a_changed_limit_is_compared_with_what_was_last_applied() -> None:
    change = only(plan(config("600.00"), applied("500.00")))

    assert change.before == {"monthly_usd": "500.00"}
    assert change.after == {"monthly_usd": "600.00"}
    assert "the live limit was not read" in change.reason
    assert change.details is None


def test_without_a_refresh_a_limit_never_applied_is_planned() -> None:
    change = only(plan(config("500.00")))

    assert change.before == {"monthly_usd": None}
    assert "never applied -> $500.00" in change.reason


# -- how plans show it --


def test_the_text_plan_marks_drift_and_shows_live_applied_effective_and_hard_limits() -> None:
    text = render_text(plan(config("500.00"), applied("500.00"), live("400.00")))

    assert f"# {ADDRESS} has drifted outside reconciler and will be updated in place" in text
    assert "~ spending_limit {" in text
    assert "~ monthly_usd     = $400.00 -> $500.00" in text
    assert "  last_applied    = $500.00" in text
    assert "  effective_limit = $400.00" in text
    assert "  hard_limit      = $1,000.00" in text
    assert "Plan: 0 to create, 1 to update, 0 to rotate, 0 to delete." in text


def test_the_markdown_plan_marks_drift_in_the_action_column() -> None:
    markdown = render_markdown(plan(config("500.00"), applied("500.00"), live("400.00")))

    assert "| update (drift) |" in markdown
    assert "$400.00 -> $500.00" in markdown


def test_the_json_plan_carries_drift_money_as_strings_and_the_live_values_read() -> None:
    result = plan(config("500.00"), applied("500.00"), live("400.00"))
    document = json.loads(render_json(result))

    jsonschema.validate(document, load_schema("plan"))
    (change,) = document["changes"]
    assert change["type"] == "xai_spending_limit"
    assert change["drift"] is True
    assert change["applied"] == {"monthly_usd": "500.00"}
    assert document["refreshed"] is True
    assert document["live"] == {
        ADDRESS: {"soft": "400.00", "effective": "400.00", "hard": "1000.00"}
    }
    assert document["money"]["read"]["xai"]["prod"]["month_spend"] == "12.34"
    assert "400.0," not in render_json(result)  # never a JSON float


def test_the_months_spend_is_money_not_a_live_value_so_it_never_makes_a_plan_stale() -> None:
    assert "month_spend" not in plan(config("500.00"), seen=live("400.00")).live[ADDRESS]


def test_a_forget_is_counted_only_when_there_is_one() -> None:
    text = render_text(plan(config(None), applied("500.00")))

    assert "Plan: 0 to create, 0 to update, 0 to rotate, 0 to delete, 1 to forget." in text
    assert "will no longer be managed" in text
    assert plan_to_dict(plan(config(None), applied("500.00")))["summary"]["forget"] == 1


def test_live_values_saved_in_a_plan_read_back_as_they_were() -> None:
    result = plan(config("500.00"), applied("500.00"), live("400.00"))

    assert result.money is not None
    again = live_from_json(result.live, result.refreshed, "p.json", result.money.read)
    assert make_plan(config("500.00"), applied("500.00"), NOW, live=again).changes == result.changes


def test_a_record_reads_back_strictly() -> None:
    kind = XaiSpendingLimits()
    record = applied("500.00")[ADDRESS]

    assert kind.read_record(record.to_dict()) == record
    with pytest.raises(ValueError, match="monthly_usd"):
        kind.read_record({**record.to_dict(), "monthly_usd": 500.0})


def test_a_hard_limit_lowered_under_a_limit_already_set_is_a_warning_not_a_failed_plan() -> None:
    result = plan(config("500.00"), applied("500.00"), live("500.00", hard="400.00"))

    assert result.changes == ()
    (warning,) = [w for w in result.warnings if ADDRESS in w]
    assert "$500.00" in warning and "$400.00" in warning and "nothing is written" in warning


def test_a_forget_shows_the_last_applied_value_as_such() -> None:
    text = render_text(plan(config(None), applied("500.00")))

    assert "$500.00 when last applied; left as it is at xAI" in text
