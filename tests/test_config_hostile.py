"""Hostile or garbled input: still an error at ``file:line``, exit 1, no traceback, no secret.

A bad paste, a key file with two lines, a YAML alias bomb, an invisible character in a
name, a URL the HTTP client cannot parse: each reaches users as one clear line (SPEC
"Desired state", Rules), never as ``Internal error``, a hang, or a message that quotes an
API key. Most tests run the real CLI (``workdir``); the rest load the config directly.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from test_config import FIRST, GROUP  # the same one-group header and its first line

from reconciler.config import load_config, resolve_env
from reconciler.errors import ConfigError, ConfigIssue, CredentialsError
from reconciler.sandbox import SANDBOX_MINIMAX_API_KEY
from reconciler.yamlsource import MAX_ALIAS_VALUES

Workdir = Any  # tests/conftest.py: a working directory with the CLI to run in it

SECRET = "SECRETTAIL0123456789abcdef"


def assert_clean_failure(result: Any) -> None:
    """Exit 1 with a message, no traceback and no internal error."""
    assert result.code == 1, result.output
    assert "Traceback" not in result.output
    assert "Internal error" not in result.output


def issues_in(tmp_path: Path, text: str | bytes) -> list[ConfigIssue]:
    target = tmp_path / "reconciler.yaml"
    if isinstance(text, bytes):
        target.write_bytes(text)
    else:
        target.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config([str(target)])
    return raised.value.issues


def one_issue_in(tmp_path: Path, text: str | bytes) -> ConfigIssue:
    found = issues_in(tmp_path, text)
    assert len(found) == 1, [str(i) for i in found]
    return found[0]


# -- credentials an HTTP header cannot carry --


@pytest.mark.parametrize(
    "value",
    [
        f"sk-api-{SECRET}\n{SECRET}",  # a key file of two lines
        f"sk-api-{SECRET}\r\nx",  # a Windows line ending inside
        f"sk-api-clé{SECRET}",  # non-ASCII: httpx would raise UnicodeEncodeError
        f"sk-api {SECRET}",  # a space in the middle of a paste
        f"sk-api-\t{SECRET}",
    ],
)
def test_a_credential_a_header_cannot_carry_is_refused_without_echoing_it(value: str) -> None:
    with pytest.raises(CredentialsError) as raised:
        resolve_env(["MINIMAX_API_KEY"], {"MINIMAX_API_KEY": value})

    message = str(raised.value)
    assert message == (
        "MINIMAX_API_KEY holds characters an HTTP header cannot carry "
        "(a line break, a space or a non-ASCII character): paste the key again"
    )
    assert SECRET not in message


def test_surrounding_whitespace_of_a_credential_is_still_stripped() -> None:
    assert resolve_env(["K"], {"K": "  \tsk-api-abc\r\n"}) == {"K": "sk-api-abc"}


def test_every_unusable_credential_is_named_at_once_with_the_unset_ones() -> None:
    environ = {"GOOD": "sk-ok", "TWO_LINES": f"a\n{SECRET}", "ACCENT": f"é{SECRET}", "EMPTY": ""}

    with pytest.raises(CredentialsError) as raised:
        resolve_env(["GOOD", "TWO_LINES", "UNSET", "ACCENT", "EMPTY"], environ)

    message = str(raised.value)
    assert message.splitlines() == [
        "environment variables UNSET, EMPTY are unset or empty; the config needs them "
        "(export UNSET=...)",
        "TWO_LINES, ACCENT hold characters an HTTP header cannot carry "
        "(a line break, a space or a non-ASCII character): paste the keys again",
    ]
    assert SECRET not in message


@pytest.mark.parametrize(
    "value",
    [
        f"{SANDBOX_MINIMAX_API_KEY}\n{SECRET}",
        f"{SANDBOX_MINIMAX_API_KEY}\r{SECRET}",
        f"{SANDBOX_MINIMAX_API_KEY}é{SECRET}",
    ],
)
def test_plan_with_a_garbled_key_fails_before_any_call_and_never_shows_the_key(
    workdir: Workdir, value: str
) -> None:
    workdir.config("- name: ci-bot\n")

    result = workdir.run("plan", env={"MINIMAX_API_KEY": value})

    assert_clean_failure(result)
    assert "MINIMAX_API_KEY holds characters an HTTP header cannot carry" in result.stderr
    assert SECRET not in result.output
    assert SANDBOX_MINIMAX_API_KEY not in result.output
    assert workdir.sandbox.requests == []


# -- YAML aliases: allowed, but their expansion is capped --

BOMB = """\
version: 1
a: &a ["x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_an_alias_bomb_stops_quickly_at_a_file_line(workdir: Workdir) -> None:
    workdir.write("reconciler.yaml", BOMB)

    result = workdir.run("validate", timeout=20)

    assert_clean_failure(result)
    assert result.stderr.startswith("Error: reconciler.yaml:")
    assert f"aliases expand to more than {MAX_ALIAS_VALUES} values" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_an_alias_bomb_in_a_mapping_names_the_line_of_the_alias(tmp_path: Path) -> None:
    text = "version: 1\nx: &x {" + ", ".join(f"k{i}: {i}" for i in range(400)) + "}\n"
    text += "y: &y {" + ", ".join(f"k{i}: *x" for i in range(200)) + "}\n"  # 80,200 values
    text += "z:\n  first: *y\n"  # as many again: over the cap, at this line

    issue = one_issue_in(tmp_path, text)

    assert (issue.line, issue.path) == (5, "")
    assert "aliases expand to more than" in issue.message


def test_a_shared_block_through_aliases_is_fine(tmp_path: Path) -> None:
    accounts = "".join(f"      - {{name: acct-{i}, budget: *shared}}\n" for i in range(2000))
    text = (
        GROUP + "      - name: first\n        budget: &shared {monthly_cash: '50.00'}\n" + accounts
    )
    target = tmp_path / "reconciler.yaml"
    target.write_text(text, encoding="utf-8")

    desired = load_config([str(target)])

    accounts = desired.minimax["cn-main"].sub_accounts
    assert len(accounts) == 2001
    assert {str(a.budget.monthly_cash) for a in accounts if a.budget} == {"50.00"}
    assert all(a.budget for a in accounts)


def test_a_mistake_inside_a_shared_block_is_reported_for_every_use_where_written(
    tmp_path: Path,
) -> None:
    text = GROUP + (
        "      - name: a\n        budget: &shared {monthly_cash: '1.234'}\n"
        "      - name: b\n        budget: *shared\n"
    )

    found = issues_in(tmp_path, text)

    assert [(i.line, i.path) for i in found] == [
        (FIRST + 1, "minimax.cn-main.sub_accounts[0].budget.monthly_cash"),
        (FIRST + 1, "minimax.cn-main.sub_accounts[1].budget.monthly_cash"),
    ]


@pytest.mark.parametrize("text", ["version: 1\nx: &a [*a]\n", "version: 1\nx: &a {k: *a}\n"])
def test_an_alias_inside_its_own_anchor_is_an_error_at_its_line(tmp_path: Path, text: str) -> None:
    found = issues_in(tmp_path, text)

    assert any(i.line == 2 and i.message == "an alias refers to its own anchor" for i in found), [
        str(i) for i in found
    ]


# -- names: no control or invisible formatting characters --


@pytest.mark.parametrize(
    "char",
    [
        "\u0085",  # C1 control: next line
        "\u009b",  # C1 control: control sequence introducer
        "\u200b",  # zero-width space
        "\u200e",  # left-to-right mark
        "\u202e",  # right-to-left override: "ci-bot" shown reversed
        "\u2028",  # line separator
        "\u2060",  # word joiner
        "\u2066",  # left-to-right isolate
        "\u2069",  # pop directional isolate
        "\ufeff",  # zero-width no-break space (byte order mark)
        "\u061c",  # Arabic letter mark
    ],
)
def test_a_name_with_an_invisible_or_control_character_is_refused(
    tmp_path: Path, char: str
) -> None:
    escaped = f"\\u{ord(char):04x}"
    issue = one_issue_in(tmp_path, GROUP + f'      - name: "ci{escaped}bot"\n')

    assert (issue.line, issue.path) == (FIRST, "minimax.cn-main.sub_accounts[0].name")
    assert "a name may not hold control, invisible or blank-looking characters" in issue.message
    assert f"U+{ord(char):04X}" in issue.message
    assert repr(char)[1:-1] in issue.message  # shown escaped (\u202e), never invisible
    assert char not in issue.message


@pytest.mark.parametrize(
    "name",
    [
        "数据分析",
        "émoji 🤖",
        "coder 👩\u200d💻",  # an emoji sequence: the zero-width joiner is part of it
        "می\u200cخواهم",  # Persian: the zero-width non-joiner is spelling
        "مرحبا بالعالم",
        "שלום",
        "Ünïcödé ñame",
        "ci-bot (prod)",
    ],
)
def test_names_in_any_script_and_with_emoji_are_accepted(tmp_path: Path, name: str) -> None:
    target = tmp_path / "reconciler.yaml"
    target.write_text(GROUP + f'      - name: "{name}"\n', encoding="utf-8")

    assert load_config([str(target)]).minimax["cn-main"].sub_accounts[0].name == name


# -- base_url: a URL the HTTP client can use, without credentials in it --


@pytest.mark.parametrize(
    "url",
    [
        '"https://x:abc"',
        '"https://:::"',
        '"https://host:99999"',
        '"https://host:0"',
        '"https://host:"',
        '"https://999.1.1.1"',
        '"https://[:::]"',
        '"https://api.minimax.chat?region=cn"',
        '"https://api.minimax.chat/v1#top"',
        '"https://-bad-.example"',
        '"https://a..b"',
    ],
)
def test_a_base_url_the_http_client_would_refuse_fails_validate_at_its_line(
    workdir: Workdir, url: str
) -> None:
    workdir.write(
        "reconciler.yaml",
        "version: 1\nminimax:\n  cn-main:\n    group_id: '1'\n    api_key_env: MINIMAX_API_KEY\n"
        f"    base_url: {url}\n    sub_accounts:\n      - name: a\n",
    )

    for command in ("validate", "plan"):
        result = workdir.run(command)

        assert_clean_failure(result)
        assert "reconciler.yaml:6: minimax.cn-main.base_url: must be an https:// URL" in (
            result.stderr
        )


@pytest.mark.parametrize(
    "url", ["https://ci:hunter2-password@api.minimax.chat", "https://hunter2-password@x.example"]
)
def test_a_base_url_with_user_and_password_is_refused_without_echoing_them(
    tmp_path: Path, url: str
) -> None:
    text = "version: 1\nminimax:\n  cn-main:\n    group_id: '1'\n    api_key_env: K\n"
    issue = one_issue_in(tmp_path, text + f"    base_url: {url}\n")

    assert (issue.line, issue.path) == (6, "minimax.cn-main.base_url")
    assert "no user:password@" in issue.message
    assert "hunter2" not in str(issue)


GOOD_URLS = [
    "https://api.minimax.chat",
    "https://api.minimax.io/v1/",
    "https://proxy.example.com:8443/minimax",
    "https://proxy.example.com:65535",
    "https://10.0.0.1:1",
    "https://[::1]:8443",
    "https://internal_proxy.corp.example/a/b~c%20d",
    "http://127.0.0.1:8080",
    "http://localhost",
    "http://[::1]:9000/v1",
]


@pytest.mark.parametrize("url", GOOD_URLS)
def test_every_accepted_base_url_is_one_the_http_client_can_use(tmp_path: Path, url: str) -> None:
    import httpx

    from reconciler.providers.http import new_client

    target = tmp_path / "reconciler.yaml"
    target.write_text(
        f"version: 1\nminimax:\n  cn-main:\n    group_id: '1'\n    api_key_env: K\n"
        f"    base_url: {url}\n",
        encoding="utf-8",
    )

    allowed = {"RECONCILER_ALLOWED_HOSTS": "proxy.example.com,10.0.0.1,internal_proxy.corp.example"}
    base_url = load_config([str(target)], allowed).minimax["cn-main"].base_url
    with new_client(base_url) as client:
        request = client.build_request("POST", "/v1/sub_account/create", json={})

    assert isinstance(request.url, httpx.URL)
    assert request.url.host


# -- values that may be pasted secrets are not echoed --

PASTED = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJHcm91cE5hbWUiOiJ4In0.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    ("text", "path"),
    [
        (
            f"version: 1\nminimax:\n  cn-main:\n    group_id: '{PASTED}'\n    api_key_env: K\n",
            "minimax.cn-main.group_id",
        ),
        (
            f"version: 1\nminimax:\n  cn-main:\n    group_id: 1{'2' * 40}\n    api_key_env: K\n",
            "minimax.cn-main.group_id",
        ),
        (
            f"version: 1\nxai:\n  prod:\n    team_id: '{PASTED}'\n    management_key_env: K\n",
            "xai.prod.team_id",
        ),
        (
            f"version: 1\nuseapi:\n  default:\n    token_env: K\n    base_url: '{PASTED}'\n",
            "useapi.default.base_url",
        ),
    ],
)
def test_a_long_value_where_a_short_id_belongs_is_not_echoed(
    tmp_path: Path, text: str, path: str
) -> None:
    issue = one_issue_in(tmp_path, text)

    assert issue.path == path
    assert PASTED[:12] not in str(issue) and "2" * 20 not in str(issue)


def test_a_short_wrong_group_id_is_still_shown(tmp_path: Path) -> None:
    text = "version: 1\nminimax:\n  cn-main:\n    group_id: '12-34'\n    api_key_env: K\n"

    assert one_issue_in(tmp_path, text).message == (
        "'12-34' must be the numeric MiniMax GroupId, quoted as a string"
    )


def test_a_team_id_that_would_change_the_api_path_is_refused(tmp_path: Path) -> None:
    text = "version: 1\nxai:\n  prod:\n    team_id: 'team/../other'\n    management_key_env: K\n"

    issue = one_issue_in(tmp_path, text)

    assert (issue.line, issue.path) == (4, "xai.prod.team_id")
    assert "must be the xAI team id" in issue.message


def test_a_long_bad_value_is_described_by_its_length_not_shown(tmp_path: Path) -> None:
    issue = one_issue_in(tmp_path, GROUP + f"      - name: a\n        status: {'x' * 5000}\n")

    assert issue.message == (
        "the value (5000 characters, not shown: it may be a pasted secret) "
        "is not one of ['enabled', 'disabled']"
    )


# -- -c PATH that is not a regular file --


@pytest.mark.parametrize("path", ["/dev/null", "/dev/stdin"])
def test_a_device_is_not_a_config_file(workdir: Workdir, path: str) -> None:
    result = workdir.run("validate", "-c", path)

    assert_clean_failure(result)
    assert result.stderr == f"Error: {path}: not a regular file; pass a YAML file or a directory\n"


def test_a_named_pipe_is_refused_without_waiting_for_a_writer(workdir: Workdir) -> None:
    os.mkfifo(workdir.path / "pipe.yaml")

    result = workdir.run("validate", "-c", "pipe.yaml", timeout=20)

    assert_clean_failure(result)
    assert "pipe.yaml: not a regular file" in result.stderr


def test_a_dash_says_stdin_is_not_supported(workdir: Workdir) -> None:
    result = workdir.run("validate", "-c", "-")

    assert_clean_failure(result)
    assert "Error: -: reading the config from stdin is not supported" in result.stderr


# -- numbers YAML 1.1 misreads or cannot hold --


@pytest.mark.parametrize("digits", ["9" * 4400, "0x" + "f" * 5000, "1" + "0" * 100])
def test_a_huge_token_generation_is_a_range_error_without_its_digits(
    workdir: Workdir, digits: str
) -> None:
    workdir.config(f"- name: a\n  token_generation: {digits}\n")

    result = workdir.run("validate")

    assert_clean_failure(result)
    assert result.stderr.count("\n") == 1  # one issue, on one line
    assert "reconciler.yaml:9: minimax.cn-main.sub_accounts[0].token_generation:" in result.stderr
    assert "out of range" in result.stderr
    assert digits[:40] not in result.stderr
    assert "quote it:" not in result.stderr


def test_a_token_generation_above_the_maximum_is_a_range_error(tmp_path: Path) -> None:
    issue = one_issue_in(
        tmp_path, GROUP + "      - name: a\n        token_generation: 10000000000\n"
    )

    assert (issue.line, issue.message) == (
        FIRST + 1,
        "10000000000 is greater than the maximum of 999999999",
    )


@pytest.mark.parametrize(
    ("written", "message"),
    [
        (
            "190:20:30",
            '190:20:30 is read by YAML as the base-60 number 685230; quote it: "190:20:30"',
        ),
        ("1:30.50", '1:30.50 is read by YAML as the base-60 number 90.5; quote it: "1:30.50"'),
        (
            "0200",
            '0200 is read by YAML as the octal number 128, not 200; quote it if it is text: "0200"',
        ),
    ],
)
def test_money_yaml_would_misread_is_refused(tmp_path: Path, written: str, message: str) -> None:
    text = GROUP + f"      - name: a\n        budget:\n          monthly_cash: {written}\n"

    issue = one_issue_in(tmp_path, text)

    assert (issue.line, issue.path, issue.message) == (
        FIRST + 2,
        "minimax.cn-main.sub_accounts[0].budget.monthly_cash",
        message,
    )


@pytest.mark.parametrize(("written", "value"), [("007", 7), ("0", 0), ("1_000", 1000), ("12", 12)])
def test_numbers_that_read_the_same_in_octal_and_decimal_are_fine(
    tmp_path: Path, written: str, value: int
) -> None:
    target = tmp_path / "reconciler.yaml"
    target.write_text(GROUP + f"      - name: a\n        token_generation: {written}\n")

    assert load_config([str(target)]).minimax["cn-main"].sub_accounts[0].token_generation == value


def test_a_value_yaml_cannot_read_is_reported_once(tmp_path: Path) -> None:
    issue = one_issue_in(
        tmp_path, GROUP + "      - name: a\n        token_generation: 2026-13-45\n"
    )

    assert issue.message == '2026-13-45 is read by YAML as a date; quote it: "2026-13-45"'


# -- bytes that are not YAML text --


def test_a_file_that_is_not_utf8_is_reported_at_the_line_of_the_bad_byte(workdir: Workdir) -> None:
    (workdir.path / "reconciler.yaml").write_bytes(GROUP.encode() + b"      - name: caf\xe9\n")

    result = workdir.run("validate")

    assert_clean_failure(result)
    assert result.stderr == (
        "Error: reconciler.yaml:7: not UTF-8 text (byte 0xe9); save the file as UTF-8\n"
    )


def test_a_nul_byte_is_one_line_at_its_file_and_line(workdir: Workdir) -> None:
    (workdir.path / "reconciler.yaml").write_bytes(GROUP.encode() + b"      - name: a\x00b\n")

    result = workdir.run("validate")

    assert_clean_failure(result)
    assert result.stderr == (
        "Error: reconciler.yaml:7: the control character U+0000 is not allowed in YAML; remove it\n"
    )


def test_a_control_character_after_non_ascii_text_is_found_on_its_line(tmp_path: Path) -> None:
    text = "version: 1\n# 数据数据数据 émoji 🤖\nminimax: {}\nx: a\x01b\n"

    issue = one_issue_in(tmp_path, text.encode())

    assert (issue.line, issue.message) == (
        4,
        "the control character U+0001 is not allowed in YAML; remove it",
    )
