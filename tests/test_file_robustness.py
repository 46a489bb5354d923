"""Files people edit or damage: every bad one is refused by name, exit 1, and left as it was.

The state, the secrets store and saved plans are JSON files that reconciler wrote, but a
person may edit them, a copy may be cut short, and anything may land in them. Whatever
they hold, the CLI says which file is wrong and how, exits 1, never prints "Internal
error" (a traceback by another name), and never overwrites the file it refused.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import PlanError, SecretsError, StateError
from reconciler.fsutil import MAX_JSON_DEPTH, load_json
from reconciler.model import RecordedSubAccount
from reconciler.sandbox import SANDBOX_MINIMAX_GROUP_ID

ADDRESS = 'minimax.cn-main.sub_account["a"]'
STATE = "state/reconciler.json"
STORE = "state/reconciler.secrets.json"
DEEP = "[" * 100_000
HUGE = "9" * 5_000  # past Python's 4,300-digit limit on reading integers


def recorded(**changes: Any) -> dict[str, Any]:
    """The state's record of account "a", with ``changes`` edited into it by hand."""
    record = RecordedSubAccount(
        alias="cn-main",
        name="a",
        group_id=SANDBOX_MINIMAX_GROUP_ID,
        subject_id="1766027179931476045",
        token_generation=1,
        token_issued_at=datetime(2026, 1, 1, tzinfo=UTC),
        token_fingerprint="0123abcd",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    return {**record.to_dict(), **changes}


def write_state(workdir: Any, resource: dict[str, Any], **top: Any) -> Path:
    body = {
        "version": 1,
        "lineage": str(uuid.uuid4()),
        "serial": 3,
        "resources": {ADDRESS: resource},
        **top,
    }
    return workdir.write(STATE, json.dumps(body, indent=2))


def assert_refused(result: Any, *texts: str) -> None:
    assert result.code == 1, result.output
    assert "Internal error" not in result.output, result.output
    assert "Traceback" not in result.output, result.output
    for text in texts:
        assert text in result.stderr, result.stderr


# -- the state file, edited by hand --

BAD_FIELDS = {
    "time as a number": ("token_issued_at", 5, "5"),
    "time without a timezone": ("token_issued_at", "2026-01-01T00:00:00", "with a timezone"),
    "subject_id as a list": ("subject_id", [1], "string of digits"),
    "subject_id as a number": ("subject_id", 1766027179931476045, "string of digits"),
    "boolean in quotes": ("prevent_destroy", "false", "true or false"),
    "fractional generation": ("token_generation", 1.5, "whole number"),
    "negative generation": ("token_generation", -1, "whole number"),
    "status not known": ("status", "paused", '"enabled" or "disabled"'),
    "status empty": ("status", "", '"enabled" or "disabled"'),
}


@pytest.mark.parametrize("case", sorted(BAD_FIELDS))
@pytest.mark.parametrize("command", [["state", "list"], ["plan"], ["apply", "--auto-approve"]])
def test_a_hand_edited_state_field_is_refused_naming_file_address_and_field(
    workdir: Any, case: str, command: list[str]
) -> None:
    field, value, expected = BAD_FIELDS[case]
    workdir.config("- name: a\n  rotate_every: 30d\n")
    state = write_state(workdir, recorded(**{field: value}))
    before = state.read_bytes()

    result = workdir.run(*command)

    assert_refused(result, f"{STATE}: {ADDRESS}: malformed record: {field} is ", expected)
    assert state.read_bytes() == before
    assert workdir.sandbox.requests == []


@pytest.mark.parametrize(
    ("top", "message"),
    [
        ({"serial": True}, "serial is true"),
        ({"serial": -5}, "serial is -5"),
        ({"version": 2}, "written by a newer reconciler"),
    ],
)
def test_a_hand_edited_state_header_is_refused(
    workdir: Any, top: dict[str, Any], message: str
) -> None:
    workdir.config("- name: a\n")
    state = write_state(workdir, recorded(), **top)
    before = state.read_bytes()

    for command in (["state", "list"], ["apply", "--auto-approve"]):
        assert_refused(workdir.run(*command), f"{STATE}: not a reconciler state file", message)
    assert state.read_bytes() == before
    assert workdir.accounts() == {}


def test_a_number_too_long_to_read_anywhere_in_the_state_is_refused(workdir: Any) -> None:
    workdir.config("- name: a\n")
    text = json.dumps({"version": 1, "lineage": "l", "serial": 3, "resources": {}, "n": 0})
    state = workdir.write(STATE, text.replace('"n": 0', f'"n": {HUGE}'))

    for command in (["state", "list"], ["plan"]):
        assert_refused(workdir.run(*command), f"{STATE}: holds a number longer than 4300 digits")
    assert state.read_text() == text.replace('"n": 0', f'"n": {HUGE}')


def test_a_state_holding_a_lone_surrogate_is_refused_before_apply_writes_it(
    workdir: Any,
) -> None:
    # Read leniently, it fails only when apply writes the state back: after a provider call.
    workdir.config("- name: a\n- name: b\n")
    state = write_state(workdir, recorded(token_fingerprint="\ud800"))
    before = state.read_bytes()

    assert_refused(workdir.run("apply", "--auto-approve"), f"{STATE}: holds an unpaired")
    assert state.read_bytes() == before
    assert workdir.accounts() == {}


# -- files nested past any stack --


def test_a_deeply_nested_state_is_refused(workdir: Any) -> None:
    workdir.config("- name: a\n")
    workdir.write(STATE, DEEP)

    for command in (["state", "list"], ["plan"], ["apply", "--auto-approve"]):
        assert_refused(workdir.run(*command), f"{STATE}: nested more than 64 levels deep")
    assert (workdir.path / STATE).read_text() == DEEP


def test_a_deeply_nested_secrets_store_is_refused(workdir: Any) -> None:
    workdir.write(STORE, DEEP)

    result = workdir.run("secrets", "show", ADDRESS)

    assert_refused(result, f"{STORE}: nested more than 64 levels deep")


@pytest.mark.parametrize("command", [["show"], ["apply"]])
def test_a_deeply_nested_saved_plan_is_refused(workdir: Any, command: list[str]) -> None:
    workdir.config("- name: a\n")
    workdir.write("deep.json", DEEP)

    result = workdir.run(*command, "deep.json")

    assert_refused(result, "deep.json: nested more than 64 levels deep")
    assert workdir.accounts() == {}


# -- the secrets store and saved plans from a newer reconciler --


def test_a_secrets_store_from_a_newer_reconciler_is_refused_and_kept(workdir: Any) -> None:
    workdir.config("- name: a\n")
    store = workdir.write(STORE, '{"version": 99, "secrets": {}}')

    for command in (["secrets", "show", ADDRESS], ["apply", "--auto-approve"]):
        assert_refused(workdir.run(*command), f"{STORE}: version 99 is not 1", "newer reconciler")
    assert store.read_text() == '{"version": 99, "secrets": {}}'
    assert workdir.accounts() == {}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda text: text.replace('"format_version": 2', '"format_version": 3'), "newer"),
        (lambda text: text.replace('"serial": 0', f'"serial": {HUGE}'), "4300 digits"),
        (lambda text: text[: len(text) // 2], "saved.json: not valid JSON ("),
    ],
    ids=["newer format_version", "number too long", "cut in half"],
)
def test_a_damaged_saved_plan_is_refused_naming_it(workdir: Any, edit: Any, message: str) -> None:
    workdir.config("- name: a\n")
    assert workdir.run("plan", "--out", "saved.json").code == 0
    plan = workdir.path / "saved.json"
    plan.write_text(edit(plan.read_text(encoding="utf-8")), encoding="utf-8")

    for command in (["show", "saved.json"], ["apply", "saved.json"]):
        assert_refused(workdir.run(*command), "saved.json", message)
    assert workdir.accounts() == {}


# -- a state path that names no file --


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (".", "reconciler.yaml:3: state.path: '.' names a directory"),
        ("/", "reconciler.yaml:3: state.path: '/' names a directory"),
        ("state", "state path state is a directory; name a file like state/reconciler.json"),
        ("state/", "reconciler.yaml:3: state.path: 'state/' names a directory"),
    ],
)
def test_a_state_path_that_is_no_file_is_a_clear_error(
    workdir: Any, path: str, message: str
) -> None:
    workdir.config("- name: a\n", extra=f'state:\n  path: "{path}"\n')
    (workdir.path / "state").mkdir()

    commands = (["state", "list"], ["plan"], ["apply", "--auto-approve"], ["secrets", "show", "x"])
    for command in commands:
        assert_refused(workdir.run(*command), message)
    assert workdir.accounts() == {}


# -- load_json, the one way these files are parsed --


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"a": ', "not valid JSON (Expecting value at line 1 column 7)"),
        (b'{"name": "\xc3("}', "not valid JSON (not UTF-8 text)"),
        (b"[" + HUGE.encode() + b"]", "holds a number longer than 4300 digits"),
        (DEEP.encode(), "nested more than 64 levels deep"),
        (b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), "nested more than 64"),
        (b'{"k": "\\udc00"}', "holds an unpaired UTF-16 surrogate"),
        (b'{"\\ud800": 1}', "holds an unpaired UTF-16 surrogate"),
        (b'["\xed\xa0\x80"]', "holds an unpaired UTF-16 surrogate"),  # one, encoded as UTF-8
    ],
)
@pytest.mark.parametrize("error", [StateError, SecretsError, PlanError])
def test_load_json_turns_every_unreadable_file_into_the_callers_error(
    data: bytes, reason: str, error: type[Exception]
) -> None:
    with pytest.raises(error) as caught:
        load_json(data, "some/file.json", error)  # type: ignore[arg-type]

    assert str(caught.value).startswith(f"some/file.json: {reason}")
    assert "Error" not in str(caught.value)


def test_load_json_appends_the_callers_advice() -> None:
    with pytest.raises(StateError, match=r"^f\.json: not valid JSON .*; restore it from a backup$"):
        load_json(b"{", "f.json", StateError, "restore it from a backup")


@pytest.mark.parametrize(
    "text",
    [
        "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH,
        '{"name": "\\ud83d\\ude00 \\u6d4b\\u8bd5", "escaped": "\\\\ud800"}',
        '{"name": "测试账号"}',
        "17",
    ],
)
def test_load_json_reads_what_reconciler_could_have_written(text: str) -> None:
    assert load_json(text.encode(), "f.json", StateError) == json.loads(text)
