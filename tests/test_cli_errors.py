"""End to end: every bad input ends in a clear message, exit 1, no traceback, no provider call."""

from __future__ import annotations

import re

import pytest

LITERAL_KEY = "sk-api-9f8e7d6c5b4a39281706f5e4d3c2b1a0"

BAD_CONFIGS = {
    "bad enum": ("- name: a\n  status: off\n", 9, "'off' is not one of ['enabled', 'disabled']"),
    "unknown key": ("- name: a\n  colour: blue\n", 9, "unknown key 'colour'"),
    "duplicate name": ("- name: a\n- name: a\n", 9, "duplicate sub-account name 'a'"),
    "duplicate yaml key": ("- name: a\n  name: b\n", 9, "duplicate key 'name' (first at line 8)"),
    "bad duration": ("- name: a\n  rotate_every: 3w\n", 9, "must be a duration like 90d"),
    "negative money": ("- name: a\n  budget: {monthly_cash: -1}\n", 9, "non-negative amount"),
    "yaml syntax": ("- name: [a\n", 9, "YAML syntax error"),
    "boolean name": ("- name: no\n", 8, 'quote it: "no"'),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_fails_with_file_and_line_before_any_provider_call(workdir, case):
    accounts, line, message = BAD_CONFIGS[case]
    workdir.config(accounts)
    for command in (["validate"], ["plan"], ["apply", "--auto-approve"]):
        result = workdir.run(*command)
        assert result.code == 1, (case, command, result.output)
        assert f"reconciler.yaml:{line}" in result.stderr
        assert message in result.stderr
        assert "Traceback" not in result.output
    assert workdir.sandbox.requests == []


def test_literal_api_key_is_refused_and_never_echoed(workdir):
    path = workdir.config("- name: a\n")
    path.write_text(
        path.read_text().replace("api_key_env: MINIMAX_API_KEY", f"api_key_env: {LITERAL_KEY}")
    )
    result = workdir.run("plan")
    assert result.code == 1
    assert "reconciler.yaml:5" in result.stderr
    assert "NAME of an environment variable" in result.stderr
    assert LITERAL_KEY not in result.output
    assert workdir.sandbox.requests == []


def test_key_pasted_under_an_unknown_key_is_not_echoed(workdir):
    path = workdir.config("- name: a\n")
    path.write_text(
        path.read_text().replace("api_key_env: MINIMAX_API_KEY", f"api_key: {LITERAL_KEY}")
    )
    result = workdir.run("validate")
    assert result.code == 1
    assert "unknown key 'api_key'" in result.stderr
    assert LITERAL_KEY not in result.output


@pytest.mark.parametrize("where", ["as a key", "as a group alias"])
def test_a_key_pasted_as_a_mapping_key_is_not_echoed(workdir, where):
    path = workdir.config("- name: a\n")
    text = path.read_text()
    if where == "as a key":
        text = text.replace(
            "api_key_env: MINIMAX_API_KEY", f"api_key_env: MINIMAX_API_KEY\n    {LITERAL_KEY}-2: 1"
        )
    else:
        text = text.replace("  cn-main:", f"  {LITERAL_KEY}-2:")
    path.write_text(text)
    result = workdir.run("validate")
    assert result.code == 1
    assert "characters, not shown: it may be a pasted secret" in result.stderr
    assert LITERAL_KEY not in result.output


def test_plain_http_to_a_remote_host_is_refused(workdir):
    path = workdir.config("- name: a\n")
    path.write_text(path.read_text().replace(workdir.sandbox.url, "http://api.minimax.chat"))
    result = workdir.run("plan")
    assert result.code == 1
    assert "reconciler.yaml:6" in result.stderr and "https://" in result.stderr
    assert workdir.sandbox.requests == []


def test_all_config_errors_are_reported_at_once(workdir):
    workdir.config("- name: a\n  status: off\n- name: b\n  rotate_every: soon\n")
    result = workdir.run("validate")
    assert result.code == 1
    assert "reconciler.yaml:9" in result.stderr and "reconciler.yaml:11" in result.stderr


def test_a_config_broken_everywhere_lists_the_first_200_issues_and_counts_the_rest(workdir):
    workdir.config("".join(f"- name: a{i}\n  status: off\n" for i in range(250)))
    result = workdir.run("validate")
    assert result.code == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 201
    assert lines[0].startswith("Error: reconciler.yaml:9:")
    assert lines[-1] == "... and 50 more issues; fix these and run again"


def test_unset_api_key_variable_is_named_before_any_provider_call(workdir):
    workdir.config("- name: a\n")
    for command in (["plan"], ["apply", "--auto-approve"]):
        result = workdir.run(*command, env={"MINIMAX_API_KEY": None})
        assert result.code == 1
        assert "MINIMAX_API_KEY" in result.stderr and "unset or empty" in result.stderr
    empty = workdir.run("plan", env={"MINIMAX_API_KEY": "  "})
    assert empty.code == 1 and "MINIMAX_API_KEY" in empty.stderr
    assert workdir.sandbox.requests == []


def test_validate_needs_no_credentials(workdir):
    workdir.config("- name: a\n")
    assert (
        workdir.run("validate", env={"MINIMAX_API_KEY": None, "RECONCILER_SECRET_KEY": None}).code
        == 0
    )


def test_wrong_api_key_shows_the_providers_authorization_error(workdir):
    workdir.config("- name: a\n")
    for command in (["plan"], ["apply", "--auto-approve"]):
        result = workdir.run(*command, env={"MINIMAX_API_KEY": "wrong-key-123"})
        assert result.code == 1
        assert "authorization failed (code 1004" in result.stderr
        assert "MINIMAX_API_KEY" in result.stderr
        assert "Trace-Id" in result.stderr
        assert "wrong-key-123" not in result.output
    assert workdir.accounts() == {}


def test_missing_config_file_is_a_clear_error(workdir):
    result = workdir.run("plan")
    assert result.code == 1
    tried = "RECONCILER_CONFIG (unset), reconciler.yaml, reconciler.yml, reconciler/*.yaml"
    assert f"{workdir.path}: no config found here (tried {tried}); pass -c PATH" in result.stderr


def test_usage_errors_exit_1_not_2(workdir):
    unknown_flag = workdir.run("plan", "--no-such-flag")
    assert unknown_flag.code == 1
    assert "No such option" in unknown_flag.stderr
    missing_argument = workdir.run("secrets", "show")
    assert missing_argument.code == 1


def test_bad_secret_key_is_refused_before_any_change(workdir):
    workdir.config("- name: a\n")
    result = workdir.run("apply", "--auto-approve", env={"RECONCILER_SECRET_KEY": "too-short"})
    assert result.code == 1
    assert "RECONCILER_SECRET_KEY does not hold a valid key" in result.stderr
    assert workdir.accounts() == {}


def test_apply_refuses_secret_producing_changes_with_nowhere_to_keep_them(workdir):
    workdir.config("- name: a\n")
    result = workdir.run("apply", "--auto-approve", env={"RECONCILER_SECRET_KEY": None})
    assert result.code == 1
    assert "nowhere to keep them" in result.stderr
    assert workdir.accounts() == {}
    assert not any(r["method"] == "POST" for r in workdir.sandbox.requests)


def test_corrupt_state_file_is_a_clear_error_and_is_left_as_is(workdir):
    workdir.config("- name: a\n")
    state = workdir.path / "state" / "reconciler.json"
    state.parent.mkdir()
    state.write_text("{not json")
    result = workdir.run("plan")
    assert result.code == 1
    assert "state/reconciler.json: not valid JSON" in result.stderr
    assert "Traceback" not in result.output
    assert state.read_text() == "{not json"


def test_plan_out_to_an_unwritable_path_is_a_clear_error(workdir):
    workdir.config("- name: a\n")
    (workdir.path / "adir").mkdir()
    result = workdir.run("plan", "--out", "adir")
    assert result.code == 1
    assert "cannot write the plan to adir" in result.stderr
    assert "Traceback" not in result.output


def test_absurdly_long_rotation_period_is_a_config_error(workdir):
    workdir.config("- name: a\n  rotate_every: 99999999999999d\n")
    result = workdir.run("validate")
    assert result.code == 1
    assert "reconciler.yaml:9" in result.stderr and "at most 99999" in result.stderr


def test_deeply_nested_yaml_is_a_config_error(workdir):
    workdir.write("reconciler.yaml", "version: 1\nminimax: " + "[" * 5000 + "]" * 5000 + "\n")
    result = workdir.run("validate")
    assert result.code == 1
    # Our own check or PyYAML's (6.0.4 refuses deep nesting first): either way one located line.
    assert re.fullmatch(r"Error: reconciler\.yaml(:\d+)?: [^\n]+\n", result.stderr)
    assert "Traceback" not in result.output


def test_apply_stops_before_any_provider_call_when_the_secrets_store_cannot_be_written(workdir):
    # A state name of 237 characters leaves room for the state's temp file, but not for the
    # secrets store's (ENAMETOOLONG), a failure root cannot bypass as it can a read-only dir.
    stem = "s" * 232
    workdir.config("- name: a\n", extra=f"state:\n  path: state/{stem}.json\n")
    result = workdir.run("apply", "--auto-approve")
    assert result.code == 1
    assert f"cannot write state/{stem}.secrets.json: File name too long" in result.stderr
    assert "Nothing was changed" in result.stderr
    assert "Traceback" not in result.output
    assert not any(r["method"] == "POST" for r in workdir.sandbox.requests)
    assert workdir.accounts() == {}
    assert not (workdir.path / "state" / f"{stem}.json").exists()


def test_sandbox_on_a_busy_port_names_host_and_port(workdir):
    port = workdir.sandbox.url.rsplit(":", 1)[1]
    result = workdir.run("sandbox", "--port", port)
    assert result.code == 1
    assert f"the sandbox cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "pick another --port" in result.stderr
    assert "Traceback" not in result.output
