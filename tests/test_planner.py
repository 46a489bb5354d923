"""The planner is a pure function: (desired, recorded, now) -> Plan, or PlanError when unsafe.

Every case builds its inputs directly (no YAML, no state file, no clock), so each test
reads as one rule of SPEC "plan": what is created, updated, rotated or deleted, why, in
which order, what --target selects, and what planning refuses to do.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from html import unescape as html_unescape
from typing import Any

import pytest

from reconciler.config import parse_duration
from reconciler.errors import PlanError
from reconciler.model import (
    Action,
    Change,
    Desired,
    DesiredSubAccount,
    MinimaxGroup,
    Plan,
    RecordedSubAccount,
    Status,
    parse_sub_account_address,
    sub_account_address,
)
from reconciler.planner import make_plan
from reconciler.render import plan_to_dict, render_json, render_markdown, render_text

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
ISSUED = datetime(2026, 8, 1, 9, 30, tzinfo=UTC)
GROUP_ID = "1687256519302470"
OTHER_GROUP_ID = "1690536709939485"
FINGERPRINT = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


# -- builders --


def want(name: str, alias: str = "cn-main", *, rotate_every: str | None = None, **kw: Any):
    """A desired sub-account, as the config loader would build it."""
    return DesiredSubAccount(
        alias=alias,
        name=name,
        rotate_every=parse_duration(rotate_every) if rotate_every else None,
        rotate_every_text=rotate_every,
        **kw,
    )


def config(*accounts: DesiredSubAccount, groups: dict[str, str] | None = None) -> Desired:
    """A Desired holding ``accounts`` in their groups; ``groups`` adds (empty) groups by alias."""
    group_ids = {"cn-main": GROUP_ID} if groups is None else dict(groups)
    for account in accounts:
        group_ids.setdefault(account.alias, GROUP_ID)
    return Desired(
        digest="d" * 64,
        minimax={
            alias: MinimaxGroup(
                alias,
                group_id,
                "MINIMAX_API_KEY",
                sub_accounts=tuple(a for a in accounts if a.alias == alias),
            )
            for alias, group_id in group_ids.items()
        },
    )


def record(name: str, alias: str = "cn-main", **kw: Any) -> RecordedSubAccount:
    """A sub-account as state records it after a successful create at ISSUED."""
    values: dict[str, Any] = {
        "group_id": GROUP_ID,
        "subject_id": "1790000000000000001",
        "token_issued_at": ISSUED,
        "token_fingerprint": FINGERPRINT,
        "created_at": ISSUED,
    }
    values.update(kw)
    return RecordedSubAccount(alias=alias, name=name, **values)


def state(*records: RecordedSubAccount) -> dict[str, RecordedSubAccount]:
    return {r.address: r for r in records}


def plan_for(
    desired: Desired, recorded: dict[str, RecordedSubAccount] | None = None, **kw: Any
) -> Plan:
    return make_plan(desired, recorded or {}, kw.pop("now", NOW), **kw)


def only_change(plan: Plan) -> Change:
    assert len(plan.changes) == 1, plan.changes
    return plan.changes[0]


def addr(name: str, alias: str = "cn-main") -> str:
    return sub_account_address(alias, name)


# -- create --


def test_plan_creates_an_account_new_in_config_with_its_attributes_after() -> None:
    plan = plan_for(config(want("ci-bot", status=Status.DISABLED, token_generation=2)))

    change = only_change(plan)
    assert change.address == 'minimax.cn-main.sub_account["ci-bot"]'
    assert change.action is Action.CREATE
    assert change.before is None
    assert change.after == {
        "name": "ci-bot",
        "status": "disabled",
        "token_generation": 2,
        "prevent_destroy": False,
    }
    assert change.reason == "new in config"


def test_plan_creates_an_account_with_the_config_defaults() -> None:
    change = only_change(plan_for(config(want("ci-bot"))))

    assert change.after == {
        "name": "ci-bot",
        "status": "enabled",
        "token_generation": 0,
        "prevent_destroy": False,
    }


def test_plan_records_what_it_was_computed_from() -> None:
    plan = plan_for(config(want("ci-bot")), lineage="3f2c1d4e", serial=7)

    assert plan.lineage == "3f2c1d4e"
    assert plan.serial == 7
    assert plan.config_digest == "d" * 64
    assert plan.created_at == "2026-11-01T12:00:00Z"


# -- no changes --


def test_plan_has_no_changes_when_every_account_matches_its_record() -> None:
    desired = config(
        want("ci-bot", token_generation=1, prevent_destroy=True),
        want("reports", status=Status.DISABLED),
    )
    recorded = state(
        record("ci-bot", token_generation=1, prevent_destroy=True),
        record("reports", status=Status.DISABLED),
    )

    plan = plan_for(desired, recorded)

    assert plan.changes == ()
    assert not plan.has_changes
    assert plan.warnings == ()
    assert plan.summary() == {"create": 0, "update": 0, "rotate": 0, "delete": 0, "forget": 0}


def test_plan_of_an_empty_config_and_an_empty_state_is_empty() -> None:
    assert plan_for(Desired()).changes == ()


# -- update --


@pytest.mark.parametrize(
    ("recorded_status", "desired_status", "reason"),
    [
        (Status.ENABLED, Status.DISABLED, "status enabled -> disabled"),
        (Status.DISABLED, Status.ENABLED, "status disabled -> enabled"),
    ],
)
def test_plan_updates_a_status_change_with_only_the_changed_attribute(
    recorded_status: Status, desired_status: Status, reason: str
) -> None:
    plan = plan_for(
        config(want("ci-bot", status=desired_status)),
        state(record("ci-bot", status=recorded_status)),
    )

    change = only_change(plan)
    assert change.action is Action.UPDATE
    assert change.before == {"status": recorded_status.value}
    assert change.after == {"status": desired_status.value}
    assert change.reason == reason


def test_plan_updates_prevent_destroy_when_it_is_switched_on() -> None:
    plan = plan_for(
        config(want("ci-bot", prevent_destroy=True)),
        state(record("ci-bot", prevent_destroy=False)),
    )

    change = only_change(plan)
    assert change.action is Action.UPDATE
    assert change.before == {"prevent_destroy": False}
    assert change.after == {"prevent_destroy": True}
    assert change.reason == "prevent_destroy false -> true"


def test_plan_puts_status_and_prevent_destroy_changes_in_one_update() -> None:
    plan = plan_for(
        config(want("ci-bot", status=Status.DISABLED, prevent_destroy=True)),
        state(record("ci-bot")),
    )

    change = only_change(plan)
    assert change.before == {"status": "enabled", "prevent_destroy": False}
    assert change.after == {"status": "disabled", "prevent_destroy": True}
    assert change.reason == "status enabled -> disabled, prevent_destroy false -> true"


def test_plan_updates_an_imported_account_whose_status_is_unknown() -> None:
    plan = plan_for(config(want("ci-bot")), state(record("ci-bot", status=None)))

    change = only_change(plan)
    assert change.action is Action.UPDATE
    assert change.before == {"status": None}
    assert change.after == {"status": "enabled"}
    assert change.reason == "status (unknown) -> enabled"


def test_an_imported_token_of_unknown_age_is_not_rotated_unasked_but_warned_about() -> None:
    imported = record("ci-bot", token_issued_at=None, token_fingerprint=None)
    plan = plan_for(config(want("ci-bot", rotate_every="90d")), state(imported))

    assert plan.changes == ()
    (warning,) = plan.warnings
    assert "rotate_every 90d cannot count from an unknown issue date" in warning
    assert "raise token_generation" in warning

    asked = plan_for(
        config(want("ci-bot", rotate_every="90d", token_generation=1)), state(imported)
    )
    assert [c.action for c in asked.changes] == [Action.ROTATE] and asked.warnings == ()


# -- rotate: token_generation --


def test_plan_rotates_when_token_generation_is_raised() -> None:
    plan = plan_for(
        config(want("ci-bot", token_generation=2)), state(record("ci-bot", token_generation=1))
    )

    change = only_change(plan)
    assert change.action is Action.ROTATE
    assert change.reason == "generation 1 -> 2"
    assert change.before == {"token_generation": 1, "token_issued_at": "2026-08-01T09:30:00Z"}
    assert change.after == {"token_generation": 2}


def test_plan_puts_an_update_and_a_rotate_of_one_address_in_two_entries_update_first() -> None:
    plan = plan_for(
        config(want("ci-bot", status=Status.DISABLED, token_generation=1)),
        state(record("ci-bot")),
    )

    assert [(c.address, c.action) for c in plan.changes] == [
        (addr("ci-bot"), Action.UPDATE),
        (addr("ci-bot"), Action.ROTATE),
    ]
    update, rotate = plan.changes
    assert update.after == {"status": "disabled"}
    assert rotate.after == {"token_generation": 1}
    assert plan.summary() == {"create": 0, "update": 1, "rotate": 1, "delete": 0, "forget": 0}


def test_plan_does_not_rotate_but_warns_when_token_generation_is_lowered() -> None:
    plan = plan_for(
        config(want("ci-bot", token_generation=1)), state(record("ci-bot", token_generation=3))
    )

    assert plan.changes == ()
    [warning] = plan.warnings
    assert warning.startswith(addr("ci-bot"))
    assert "token_generation 1 is lower than the applied 3" in warning


# -- rotate: rotate_every --


@pytest.mark.parametrize(
    ("rotate_every", "age", "rotates"),
    [
        ("90d", timedelta(days=92), True),
        ("90d", timedelta(days=90), True),  # exactly at the boundary
        ("90d", timedelta(days=90) - timedelta(seconds=1), False),
        ("90d", timedelta(days=10), False),
        ("12h", timedelta(hours=13), True),
        ("12h", timedelta(hours=12), True),
        ("12h", timedelta(hours=11, minutes=59), False),
    ],
)
def test_plan_rotates_a_token_older_than_rotate_every(
    rotate_every: str, age: timedelta, rotates: bool
) -> None:
    plan = plan_for(
        config(want("ci-bot", rotate_every=rotate_every)),
        state(record("ci-bot")),
        now=ISSUED + age,
    )

    assert [c.action for c in plan.changes] == ([Action.ROTATE] if rotates else [])


def test_plan_says_how_old_the_token_is_when_rotating_by_age() -> None:
    plan = plan_for(config(want("ci-bot", rotate_every="90d")), state(record("ci-bot")))

    change = only_change(plan)
    assert change.reason == "token older than 90d (issued 2026-08-01)"
    assert change.before == {"token_generation": 0, "token_issued_at": "2026-08-01T09:30:00Z"}
    assert change.after == {"token_generation": 0}


def test_plan_says_the_period_in_hours_when_rotate_every_is_in_hours() -> None:
    change = only_change(
        plan_for(config(want("ci-bot", rotate_every="12h")), state(record("ci-bot")))
    )

    assert change.reason == "token older than 12h (issued 2026-08-01)"


def test_plan_does_not_rotate_by_age_when_the_issue_time_is_unknown() -> None:
    plan = plan_for(
        config(want("ci-bot", rotate_every="1h")), state(record("ci-bot", token_issued_at=None))
    )

    assert plan.changes == ()


def test_plan_rotates_once_when_generation_is_raised_and_the_token_is_old() -> None:
    plan = plan_for(
        config(want("ci-bot", token_generation=1, rotate_every="90d")), state(record("ci-bot"))
    )

    change = only_change(plan)
    assert change.action is Action.ROTATE
    assert change.reason == "generation 0 -> 1"


def test_plan_still_rotates_an_old_token_when_generation_is_lowered() -> None:
    plan = plan_for(
        config(want("ci-bot", token_generation=0, rotate_every="90d")),
        state(record("ci-bot", token_generation=2)),
    )

    change = only_change(plan)
    assert change.reason == "token older than 90d (issued 2026-08-01)"
    assert change.after == {"token_generation": 2}  # never goes back
    assert len(plan.warnings) == 1


# -- delete --


def test_plan_deletes_account_removed_from_config() -> None:
    plan = plan_for(
        config(), state(record("old-bot", status=Status.DISABLED, subject_id="1790000000000000042"))
    )

    change = only_change(plan)
    assert change.address == addr("old-bot")
    assert change.action is Action.DELETE
    assert change.before == {
        "name": "old-bot",
        "status": "disabled",
        "subject_id": "1790000000000000042",
    }
    assert change.after is None
    assert change.reason == "removed from config"


def test_plan_refuses_to_delete_an_account_recorded_with_prevent_destroy() -> None:
    with pytest.raises(PlanError) as raised:
        plan_for(config(), state(record("vault", prevent_destroy=True)))

    message = str(raised.value)
    assert addr("vault") in message
    assert "prevent_destroy" in message
    assert f"reconciler state rm '{addr('vault')}'" in message


def test_plan_refuses_to_delete_accounts_of_a_group_gone_from_config() -> None:
    with pytest.raises(PlanError) as raised:
        plan_for(config(groups={}), state(record("ci-bot", alias="old-group")))

    message = str(raised.value)
    assert addr("ci-bot", "old-group") in message
    assert "minimax.old-group is gone from the config" in message
    assert "state rm" in message


def test_plan_refuses_to_move_an_account_to_another_group_id() -> None:
    with pytest.raises(PlanError) as raised:
        plan_for(config(want("ci-bot")), state(record("ci-bot", group_id=OTHER_GROUP_ID)))

    message = str(raised.value)
    assert addr("ci-bot") in message
    assert f"group_id changed from {OTHER_GROUP_ID} to {GROUP_ID}" in message


def test_plan_refuses_to_delete_an_account_recorded_in_another_group_id() -> None:
    # The delete would be sent with the new group's key and GroupId: never the right account.
    with pytest.raises(PlanError) as raised:
        plan_for(config(), state(record("ci-bot", group_id=OTHER_GROUP_ID)))

    message = str(raised.value)
    assert addr("ci-bot") in message
    assert OTHER_GROUP_ID in message and GROUP_ID in message
    assert "state rm" in message


def test_plan_error_lists_every_unsafe_address_at_once() -> None:
    recorded = state(record("a", prevent_destroy=True), record("b", alias="gone"))

    with pytest.raises(PlanError) as raised:
        plan_for(config(), recorded)

    assert addr("a") in str(raised.value)
    assert addr("b", "gone") in str(raised.value)


# -- pending creates (answer lost) --


def test_plan_sends_a_pending_create_again_while_it_is_in_config() -> None:
    plan = plan_for(config(want("ci-bot")), state(record("ci-bot", subject_id=None, pending=True)))

    change = only_change(plan)
    assert change.action is Action.CREATE
    assert change.before is None
    assert change.after is not None and change.after["name"] == "ci-bot"
    assert "answer was lost" in change.reason


def test_plan_only_forgets_a_pending_create_removed_from_config() -> None:
    plan = plan_for(config(), state(record("ci-bot", subject_id=None, pending=True)))

    change = only_change(plan)
    assert change.action is Action.DELETE
    assert change.before == {"name": "ci-bot", "status": "enabled", "subject_id": None}
    assert change.reason.startswith("removed from config")
    assert "only forgotten" in change.reason


# -- --target --


def _mixed() -> tuple[Desired, dict[str, RecordedSubAccount]]:
    """Changes in two groups: a create and a delete in cn-main, a create in cn-backup."""
    desired = config(
        want("ci-bot"),
        want("kept"),
        want("ci-bot", alias="cn-backup"),
        groups={"cn-main": GROUP_ID, "cn-backup": OTHER_GROUP_ID},
    )
    recorded = state(record("kept"), record("old-bot"))
    return desired, recorded


def test_target_by_exact_address_selects_only_that_address() -> None:
    desired, recorded = _mixed()

    plan = plan_for(desired, recorded, targets=[addr("old-bot")])

    assert [(c.address, c.action) for c in plan.changes] == [(addr("old-bot"), Action.DELETE)]
    assert any("limited by --target" in w for w in plan.warnings)


def test_target_by_group_prefix_selects_every_address_in_the_group() -> None:
    desired, recorded = _mixed()

    plan = plan_for(desired, recorded, targets=["minimax.cn-main"])

    assert [c.address for c in plan.changes] == [addr("ci-bot"), addr("old-bot")]


def test_target_prefix_matches_whole_address_parts_only() -> None:
    desired, recorded = _mixed()

    with pytest.raises(PlanError) as refused:
        plan_for(desired, recorded, targets=["minimax.cn"])

    assert "--target minimax.cn names nothing in the config or the state" in str(refused.value)


def test_several_targets_select_the_union() -> None:
    desired, recorded = _mixed()

    plan = plan_for(desired, recorded, targets=["minimax.cn-backup", addr("old-bot")])

    assert [c.address for c in plan.changes] == [addr("ci-bot", "cn-backup"), addr("old-bot")]


def test_a_target_naming_nothing_is_an_error_suggesting_the_closest_address() -> None:
    desired, recorded = _mixed()

    with pytest.raises(PlanError) as refused:
        plan_for(desired, recorded, targets=[addr("ci-bto")])

    message = str(refused.value)
    assert message.startswith(f"--target {addr('ci-bto')} names nothing in the config or the state")
    assert f"Did you mean: {addr('ci-bot')}" in message


def test_a_target_whose_quotes_the_shell_ate_suggests_the_quoted_address() -> None:
    desired, recorded = _mixed()

    with pytest.raises(PlanError) as refused:
        plan_for(desired, recorded, targets=["minimax.cn-main.sub_account[ci-bot]"])

    assert f"Did you mean {addr('ci-bot')}? Quote the whole address for the shell" in str(
        refused.value
    )


def test_a_target_naming_every_sub_account_of_a_group_selects_them() -> None:
    desired, recorded = _mixed()

    plan = plan_for(desired, recorded, targets=["minimax.cn-backup.sub_account"])

    assert [c.address for c in plan.changes] == [addr("ci-bot", "cn-backup")]


def test_a_target_known_to_the_config_but_without_changes_only_warns() -> None:
    desired, recorded = _mixed()

    plan = plan_for(desired, recorded, targets=[addr("kept")])

    assert plan.changes == ()
    assert f"--target {addr('kept')} matches no change" in plan.warnings


def test_target_written_with_escaped_unicode_matches_the_account() -> None:
    plan = plan_for(
        config(want("数据分析")),
        targets=['minimax.cn-main.sub_account["\\u6570\\u636e\\u5206\\u6790"]'],
    )

    assert [c.address for c in plan.changes] == ['minimax.cn-main.sub_account["数据分析"]']


def test_an_error_outside_the_targets_does_not_block_a_targeted_plan() -> None:
    desired = config(want("ci-bot"))
    recorded = state(record("vault", prevent_destroy=True))

    plan = plan_for(desired, recorded, targets=[addr("ci-bot")])

    assert [(c.address, c.action) for c in plan.changes] == [(addr("ci-bot"), Action.CREATE)]


@pytest.mark.parametrize("target", ["minimax.cn-main", 'minimax.cn-main.sub_account["vault"]'])
def test_an_error_inside_the_targets_blocks_the_plan(target: str) -> None:
    desired = config(want("ci-bot"))
    recorded = state(record("vault", prevent_destroy=True))

    with pytest.raises(PlanError, match="prevent_destroy"):
        plan_for(desired, recorded, targets=[target])


def test_an_error_on_a_targeted_name_with_a_colon_blocks_the_plan() -> None:
    # The address of an error once was cut at its first ':' to compare it with targets.
    name = "team:a"
    with pytest.raises(PlanError, match="prevent_destroy"):
        plan_for(config(), state(record(name, prevent_destroy=True)), targets=[addr(name)])


def test_without_targets_any_error_blocks_the_plan() -> None:
    with pytest.raises(PlanError):
        plan_for(config(want("ci-bot")), state(record("vault", prevent_destroy=True)))


# -- ordering and summary --


def test_changes_are_sorted_by_address_then_update_before_rotate() -> None:
    desired = config(
        want("zeta"),
        want("beta", status=Status.DISABLED, token_generation=1),
        want("alpha", token_generation=1),
        want("ci-bot", alias="a-group"),
    )
    recorded = state(record("beta"), record("alpha"), record("gamma"))

    plan = plan_for(desired, recorded)

    assert [(c.address, c.action.value) for c in plan.changes] == [
        (addr("ci-bot", "a-group"), "create"),
        (addr("alpha"), "rotate"),
        (addr("beta"), "update"),
        (addr("beta"), "rotate"),
        (addr("gamma"), "delete"),
        (addr("zeta"), "create"),
    ]


def test_summary_counts_each_action() -> None:
    desired = config(
        want("new-1"),
        want("new-2"),
        want("off", status=Status.DISABLED),
        want("rot", token_generation=1),
        want("both", status=Status.DISABLED, token_generation=1),
    )
    recorded = state(record("off"), record("rot"), record("both"), record("gone"))

    plan = plan_for(desired, recorded)

    expected = {"create": 2, "update": 2, "rotate": 2, "delete": 1, "forget": 0}
    assert plan.summary() == expected
    assert plan_to_dict(plan)["summary"] == expected
    assert "Plan: 2 to create, 2 to update, 2 to rotate, 1 to delete." in render_text(plan)


# -- addresses --


def test_a_chinese_name_appears_unescaped_in_its_address() -> None:
    plan = plan_for(config(want("数据分析")))

    address = 'minimax.cn-main.sub_account["数据分析"]'
    assert only_change(plan).address == address
    assert json.loads(render_json(plan))["changes"][0]["address"] == address
    assert "数据分析" in render_json(plan)  # not \u-escaped
    assert address in render_text(plan)


@pytest.mark.parametrize(
    "name",
    [
        "ci-bot",
        "数据分析",
        'say "hi"',
        "back\\slash",
        '"]',
        "team:a",
        "with space",
        "émoji 🤖",
        "minimax.cn-main.sub_account",
    ],
)
def test_sub_account_addresses_round_trip(name: str) -> None:
    address = sub_account_address("cn-main", name)

    assert address.startswith("minimax.cn-main.sub_account[")
    assert parse_sub_account_address(address) == ("cn-main", name)


def test_quotes_and_backslashes_are_json_escaped_in_addresses() -> None:
    assert sub_account_address("cn-main", 'a"b\\c') == 'minimax.cn-main.sub_account["a\\"b\\\\c"]'


@pytest.mark.parametrize(
    "text",
    [
        "xai.prod.spending_limit",
        "minimax.cn-main",
        "minimax.cn-main.sub_account[ci-bot]",
        "minimax.cn-main.sub_account[1]",
        'minimax.Bad.sub_account["x"]',
        'minimax.cn-main.sub_account["unterminated]',
        'minimax.cn-main.sub_account["x"].extra',
    ],
)
def test_text_that_is_not_a_sub_account_address_does_not_parse(text: str) -> None:
    assert parse_sub_account_address(text) is None


# -- nothing secret in a plan --


def test_a_plan_never_contains_token_fingerprints_or_secret_fields() -> None:
    desired = config(
        want("upd", status=Status.DISABLED),
        want("rot", token_generation=5),
        want("old", rotate_every="1d"),
        want("new"),
    )
    recorded = state(
        record("upd"),
        record("rot"),
        record("old"),
        record("gone"),
        record("pending", pending=True, subject_id=None),
    )

    plan = plan_for(desired, recorded)

    assert {c.action for c in plan.changes} == set(Action) - {
        Action.FORGET
    }  # all of a sub-account's
    for rendered in (render_json(plan), render_text(plan), render_markdown(plan)):
        assert FINGERPRINT not in rendered
        assert FINGERPRINT.split(":", 1)[1] not in rendered
        assert "fingerprint" not in rendered
    secret_keys = {"token", "password", "token_fingerprint", "api_key", "secret"}
    for change in json.loads(render_json(plan))["changes"]:
        for side in (change["before"] or {}, change["after"] or {}):
            assert secret_keys.isdisjoint(side)


def test_markdown_shows_any_name_literally_and_never_as_a_link() -> None:
    from markdown_it import MarkdownIt

    names = ["x` [click me](https://evil.example) `y", "a|b *c* <b>d</b> &amp; ~~e~~", "``"]
    plan = plan_for(config(*(want(n, status=Status.DISABLED) for n in names)))

    html = MarkdownIt("gfm-like").render(render_markdown(plan))

    assert "<a " not in html and "<b>" not in html and "<em>" not in html
    rows = re.findall(r"<tr>\s*<td>create</td>\s*<td><code>(.*?)</code></td>", html, re.S)
    assert [html_unescape(row) for row in rows] == [want(n).address for n in sorted(names)]
    assert html.count("new in config") == len(names)


# -- purity --


def test_planning_twice_gives_the_same_plan_and_changes_no_input() -> None:
    desired = config(want("a", token_generation=1), want("b"))
    recorded = state(record("a"), record("c"))
    snapshot = dict(recorded)

    first, second = plan_for(desired, recorded), plan_for(desired, recorded)

    assert first == second
    assert recorded == snapshot
