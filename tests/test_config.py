"""Config loading: YAML files -> Desired, or a ConfigError naming every problem at file:line.

Each test writes YAML into a temporary working directory and loads it the way the CLI does
(``load_config`` with the ``-c`` paths). Assertions are on ``ConfigError.issues``: file,
line, path and message, since those are what a user reads (SPEC "Desired state").
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from reconciler.config import (
    config_digest,
    load_config,
    parse_duration,
    resolve_env,
)
from reconciler.errors import ConfigError, ConfigIssue, CredentialsError
from reconciler.model import (
    DEFAULT_KEY_ENV,
    DEFAULT_MINIMAX_URL,
    DEFAULT_STATE_PATH,
    DEFAULT_USEAPI_URL,
    DEFAULT_XAI_URL,
    Desired,
    Status,
)
from reconciler.resources import required_env

# A group header; the first sub-account written after it starts at line 7.
GROUP = """\
version: 1
minimax:
  cn-main:
    group_id: "1687256519302470"
    api_key_env: MINIMAX_API_KEY
    sub_accounts:
"""
FIRST = 7  # line of the first sub-account after GROUP
PATH0 = "minimax.cn-main.sub_accounts[0]"
LEAKED_KEY = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJHcm91cE5hbWUiOiJ4In0.c2lnbmF0dXJl"


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test runs in an empty directory, so files are named as users name them."""
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def write(name: str, text: str) -> str:
    path = Path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return name


def load(text: str, name: str = "reconciler.yaml") -> Desired:
    return load_config([write(name, text)])


def issues(text: str, name: str = "reconciler.yaml") -> list[ConfigIssue]:
    return issues_of(write(name, text))


def issues_of(*paths: str) -> list[ConfigIssue]:
    with pytest.raises(ConfigError) as raised:
        load_config(list(paths))
    return raised.value.issues


def one_issue(text: str, name: str = "reconciler.yaml") -> ConfigIssue:
    found = issues(text, name)
    assert len(found) == 1, [str(i) for i in found]
    return found[0]


def account(*lines: str) -> str:
    """GROUP plus one sub-account whose keys are ``lines`` (the first gets the dash)."""
    body = "      - " + lines[0] + "\n" + "".join(f"        {line}\n" for line in lines[1:])
    return GROUP + body


# -- a valid config --


def test_a_minimal_config_gets_every_default() -> None:
    desired = load(account("name: ci-bot"))

    group = desired.minimax["cn-main"]
    assert group.group_id == "1687256519302470"
    assert group.api_key_env == "MINIMAX_API_KEY"
    assert group.base_url == DEFAULT_MINIMAX_URL == "https://api.minimax.chat"
    [sub] = group.sub_accounts
    assert sub.name == "ci-bot"
    assert sub.status is Status.ENABLED
    assert sub.token_generation == 0
    assert sub.rotate_every is None
    assert sub.prevent_destroy is False
    assert sub.budget is None
    assert desired.state.backend == "local"
    assert desired.state.path == DEFAULT_STATE_PATH == "state/reconciler.json"
    assert desired.secrets.key_env == DEFAULT_KEY_ENV == "RECONCILER_SECRET_KEY"
    assert desired.secrets.command is None
    assert desired.files == ("reconciler.yaml",)


def test_only_a_version_is_a_valid_config() -> None:
    desired = load("version: 1\n")

    assert desired.minimax == {} and desired.xai == {} and desired.useapi == {}


def test_the_spec_example_loads_with_every_setting() -> None:
    desired = load(
        """\
version: 1
state:
  backend: local
  path: other/state.json
secrets:
  key_env: MY_KEY
  command: vault-write --path secret/minimax
minimax:
  cn-main:
    group_id: "1687256519302470"
    api_key_env: MINIMAX_API_KEY
    base_url: https://api.minimax.chat/
    sub_accounts:
      - name: ci-bot
        status: disabled
        token_generation: 1
        rotate_every: 90d
        prevent_destroy: true
        budget:
          monthly_cash: "200.00"
          on_exceed: warn
xai:
  prod:
    team_id: "team-1"
    management_key_env: XAI_MANAGEMENT_KEY
    spending_limit:
      monthly_usd: "500.00"
useapi:
  default:
    token_env: USEAPI_TOKEN
    checks:
      - account: null
        min_credits: 50
"""
    )

    assert desired.state.path == "other/state.json"
    assert desired.secrets.key_env == "MY_KEY"
    assert desired.secrets.command == "vault-write --path secret/minimax"
    group = desired.minimax["cn-main"]
    assert group.base_url == "https://api.minimax.chat"  # trailing slash dropped
    [sub] = group.sub_accounts
    assert sub.status is Status.DISABLED
    assert sub.token_generation == 1
    assert sub.rotate_every == timedelta(days=90)
    assert sub.rotate_every_text == "90d"
    assert sub.prevent_destroy is True
    assert sub.budget is not None
    assert sub.budget.monthly_cash == Decimal("200.00")
    assert sub.budget.on_exceed == "warn"
    team = desired.xai["prod"]
    assert team.base_url == DEFAULT_XAI_URL
    assert team.monthly_usd == Decimal("500.00")
    useapi = desired.useapi["default"]
    assert useapi.base_url == DEFAULT_USEAPI_URL
    assert useapi.checks[0].account is None
    assert useapi.checks[0].min_credits == Decimal(50)


def test_a_budget_defaults_to_disable_on_exceed() -> None:
    desired = load(account("name: a", "budget:", '  monthly_cash: "10"'))

    budget = desired.minimax["cn-main"].sub_accounts[0].budget
    assert budget is not None and budget.on_exceed == "disable"


@pytest.mark.parametrize("name", ["数据分析", "émoji 🤖", "with space", 'say "hi"', "a" * 128])
def test_any_unicode_name_without_control_characters_is_accepted(name: str) -> None:
    text = GROUP + "      - name: " + '"' + name.replace('"', '\\"') + '"\n'

    assert load(text).minimax["cn-main"].sub_accounts[0].name == name


def test_the_same_name_in_two_groups_is_fine() -> None:
    desired = load(
        """\
version: 1
minimax:
  cn-main:
    group_id: "1"
    api_key_env: K1
    sub_accounts: [{name: ci-bot}]
  cn-backup:
    group_id: "2"
    api_key_env: K2
    sub_accounts: [{name: ci-bot}]
"""
    )

    assert [g.sub_accounts[0].address for g in desired.minimax.values()] == [
        'minimax.cn-main.sub_account["ci-bot"]',
        'minimax.cn-backup.sub_account["ci-bot"]',
    ]


# -- money is Decimal, exactly as written --


@pytest.mark.parametrize(
    ("written", "amount"),
    [
        ('"200.00"', Decimal("200.00")),
        ("200.5", Decimal("200.5")),
        ("200", Decimal(200)),
        ("0", Decimal(0)),
        ('"0.10"', Decimal("0.10")),
        ("0.1", Decimal("0.1")),
    ],
)
def test_money_is_kept_as_an_exact_decimal(written: str, amount: Decimal) -> None:
    desired = load(account("name: a", "budget:", f"  monthly_cash: {written}"))

    budget = desired.minimax["cn-main"].sub_accounts[0].budget
    assert budget is not None
    assert budget.monthly_cash == amount
    assert str(budget.monthly_cash) == str(amount)  # "200.00" keeps its two decimals


# -- unknown keys and wrong types --


def test_an_unknown_key_is_named_with_its_line() -> None:
    issue = one_issue(account("name: a", "stauts: disabled"))

    assert (issue.file, issue.line, issue.path) == ("reconciler.yaml", FIRST + 1, f"{PATH0}.stauts")
    assert issue.message.startswith("unknown key 'stauts'")
    assert "status" in issue.message  # lists the allowed keys


def test_an_unknown_top_level_key_is_named_with_its_line() -> None:
    issue = one_issue("version: 1\nminimax: {}\nproviders: {}\n")

    assert (issue.line, issue.path) == (3, "providers")
    assert "unknown key 'providers'" in issue.message


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("token_generation: '1'", "'1' is not of type 'integer'"),
        ("token_generation: 1.5", "1.5 is not of type 'integer'"),
        ("token_generation: true", "true is not of type 'integer'"),
        ("token_generation: -1", "-1 is less than the minimum of 0"),
        ("prevent_destroy: 'yes'", "'yes' is not of type 'boolean'"),
        ("status: paused", "'paused' is not one of ['enabled', 'disabled']"),
        ("budget: 200", "200 is not of type 'object'"),
        ("budget: {on_exceed: warn}", "'monthly_cash' is a required key"),
        ("budget: {monthly_cash: 1, on_exceed: stop}", "'stop' is not one of ['disable', 'warn']"),
    ],
)
def test_a_wrong_type_or_value_is_reported_at_its_line(line: str, message: str) -> None:
    issue = one_issue(account("name: a", line))

    assert issue.line == FIRST + 1
    assert issue.message == message


def test_a_missing_required_key_is_reported_at_its_mapping() -> None:
    issue = one_issue("version: 1\nminimax:\n  cn-main:\n    group_id: '1'\n")

    assert (issue.line, issue.path) == (3, "minimax.cn-main")
    assert issue.message == "'api_key_env' is a required key"


@pytest.mark.parametrize(
    ("text", "path", "message"),
    [
        ("version: 1\nminimax:\n  cn-main:\n", "minimax.cn-main", "an empty value is not of type"),
        ("version: 1\nminimax: [a]\n", "minimax", "a list is not of type 'object'"),
        (GROUP + "      - ci-bot\n", PATH0, "'ci-bot' is not of type 'object'"),
        (GROUP + "      -\n", PATH0, "an empty value is not of type 'object'"),
        (GROUP + "      - status: enabled\n", PATH0, "'name' is a required key"),
        (GROUP + "      - name: [a]\n      - name: [a]\n", f"{PATH0}.name", "a list is not"),
    ],
)
def test_a_config_of_the_wrong_shape_is_reported_not_a_crash(
    text: str, path: str, message: str
) -> None:
    found = issues(text)

    assert path in [i.path for i in found]
    assert any(message in i.message for i in found), [str(i) for i in found]


# -- aliases --


@pytest.mark.parametrize("alias", ["Cn-Main", "-main", "_main", "cn.main", "cn main", "数据"])
def test_a_bad_alias_is_reported_at_the_line_of_its_key(alias: str) -> None:
    text = f'version: 1\nminimax:\n  "{alias}":\n    group_id: "1"\n    api_key_env: K\n'

    issue = one_issue(text)

    assert (issue.line, issue.path) == (3, f"minimax.{alias}")
    assert issue.message.startswith(f"'{alias}' is not a valid alias")


@pytest.mark.parametrize("section", ["xai", "useapi"])
def test_aliases_are_checked_in_every_provider_section(section: str) -> None:
    issue = one_issue(f"version: 1\n{section}:\n  Prod: {{}}\n")

    assert issue.line == 3
    assert "is not a valid alias" in issue.message


@pytest.mark.parametrize("alias", ["cn-main", "a", "0", "a_b-c9"])
def test_good_aliases_are_accepted(alias: str) -> None:
    desired = load(f"version: 1\nminimax:\n  {alias}:\n    group_id: '1'\n    api_key_env: K\n")

    assert list(desired.minimax) == [alias]


# -- durations --


@pytest.mark.parametrize("duration", ["90", "90m", "0d", "d", "1.5d", "-1d", "90 d", "90D", "1w"])
def test_a_bad_duration_is_reported(duration: str) -> None:
    issue = one_issue(account("name: a", f'rotate_every: "{duration}"'))

    assert (issue.line, issue.path) == (FIRST + 1, f"{PATH0}.rotate_every")
    assert (
        issue.message
        == f"'{duration}' must be a duration like 90d (days) or 12h (hours), at most 99999"
    )


def test_a_duration_with_a_trailing_newline_is_reported_not_a_crash() -> None:
    issue = one_issue(account("name: a", 'rotate_every: "90d\\n"'))

    assert issue.path == f"{PATH0}.rotate_every"


@pytest.mark.parametrize(
    ("text", "period"),
    [
        ("90d", timedelta(days=90)),
        ("1d", timedelta(days=1)),
        ("12h", timedelta(hours=12)),
        ("36h", timedelta(hours=36)),
    ],
)
def test_parse_duration_reads_days_and_hours(text: str, period: timedelta) -> None:
    assert parse_duration(text) == period


# -- money: negative or over-precise --


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("-5", "-5"),
        ('"-5"', "'-5'"),
        ("-0.01", "-0.01"),
        ("1.234", "'1.234'"),
        ('"1.234"', "'1.234'"),
        ('"1."', "'1.'"),
        ('"01.00"', "'01.00'"),
        ('"1e3"', "'1e3'"),
        ('"abc"', "'abc'"),
        (".inf", "'.inf'"),
        (".nan", ".nan"),
    ],
)
def test_bad_money_is_reported_with_what_was_written(written: str, shown: str) -> None:
    issue = one_issue(account("name: a", "budget:", f"  monthly_cash: {written}"))

    assert (issue.line, issue.path) == (FIRST + 2, f"{PATH0}.budget.monthly_cash")
    assert (
        issue.message
        == f'{shown} must be a non-negative amount with at most 2 decimals, like "200.00"'
    )


@pytest.mark.parametrize("written", ["-1", "1.005", '"1.005"'])
def test_xai_spending_limits_follow_the_same_money_rules(written: str) -> None:
    text = (
        "version: 1\nxai:\n  prod:\n    team_id: t\n    management_key_env: XAI_KEY\n"
        f"    spending_limit:\n      monthly_usd: {written}\n"
    )

    issue = one_issue(text)

    assert (issue.line, issue.path) == (7, "xai.prod.spending_limit.monthly_usd")


# -- values YAML 1.1 reads as something else: quote them --


@pytest.mark.parametrize(
    ("line", "path", "message"),
    [
        ("name: no", f"{PATH0}.name", 'no is read by YAML as a boolean; quote it: "no"'),
        ("name: yes", f"{PATH0}.name", 'yes is read by YAML as a boolean; quote it: "yes"'),
        ("name: 123", f"{PATH0}.name", '123 is read by YAML as a number; quote it: "123"'),
        ("name: 1.5", f"{PATH0}.name", '1.5 is read by YAML as a number; quote it: "1.5"'),
        (
            "name: 2026-01-01",
            f"{PATH0}.name",
            '2026-01-01 is read by YAML as a date; quote it: "2026-01-01"',
        ),
        (
            "name: 2026-13-45",
            f"{PATH0}.name",
            '2026-13-45 is read by YAML as a date; quote it: "2026-13-45"',
        ),
        ("name: null", f"{PATH0}.name", 'null is read by YAML as null; quote it: "null"'),
        ("name:", f"{PATH0}.name", "has no value; it must be 1 to 128 characters"),
    ],
)
def test_a_yaml_typed_scalar_where_a_string_is_wanted_says_to_quote_it(
    line: str, path: str, message: str
) -> None:
    issue = one_issue(GROUP + f"      - {line}\n")

    assert (issue.line, issue.path, issue.message) == (FIRST, path, message)


@pytest.mark.parametrize(
    ("lines", "path", "message"),
    [
        (
            ("name: a", "rotate_every: 90"),
            f"{PATH0}.rotate_every",
            "90 must be a duration like 90d (days) or 12h (hours), at most 99999",
        ),
        (
            ("name: a", "budget:", "  monthly_cash: null"),
            f"{PATH0}.budget.monthly_cash",
            'null must be a non-negative amount with at most 2 decimals, like "200.00"',
        ),
        (
            ("name: a", "budget:", "  monthly_cash:"),
            f"{PATH0}.budget.monthly_cash",
            'has no value; it must be a non-negative amount with at most 2 decimals, like "200.00"',
        ),
        (
            ("name: a", "rotate_every: 2026-01-01"),
            f"{PATH0}.rotate_every",
            "2026-01-01 must be a duration like 90d (days) or 12h (hours), at most 99999",
        ),
    ],
)
def test_a_yaml_typed_scalar_that_quoting_would_not_fix_says_what_is_expected(
    lines: tuple[str, ...], path: str, message: str
) -> None:
    issue = one_issue(account(*lines))

    assert (issue.path, issue.message) == (path, message)
    assert "quote" not in issue.message


def test_status_off_is_not_a_status_and_the_message_says_how_yaml_read_it() -> None:
    issue = one_issue(account("name: a", "status: off"))

    assert (issue.line, issue.path) == (FIRST + 1, f"{PATH0}.status")
    assert issue.message.startswith("'off' is not one of ['enabled', 'disabled']")
    assert "boolean" in issue.message
    assert "quote" not in issue.message  # "off" quoted is no status either


@pytest.mark.parametrize(
    ("group_id", "message"),
    [
        (
            "1687256519302470",
            '1687256519302470 is read by YAML as a number; quote it: "1687256519302470"',
        ),
        (
            "0123",
            '0123 is read by YAML as the octal number 83, not 123; quote it if it is text: "0123"',
        ),
    ],
)
def test_an_unquoted_group_id_is_read_as_a_number_and_must_be_quoted(
    group_id: str, message: str
) -> None:
    text = f"version: 1\nminimax:\n  cn-main:\n    group_id: {group_id}\n    api_key_env: K\n"

    issue = one_issue(text)

    assert (issue.line, issue.path, issue.message) == (4, "minimax.cn-main.group_id", message)


@pytest.mark.parametrize("group_id", ['""', '"abc"', '"12-34"'])
def test_a_group_id_must_be_digits(group_id: str) -> None:
    text = f"version: 1\nminimax:\n  cn-main:\n    group_id: {group_id}\n    api_key_env: K\n"

    assert "numeric MiniMax GroupId" in one_issue(text).message


def test_a_name_with_control_characters_is_rejected() -> None:
    found = issues(GROUP + '      - name: "a\\tb"\n      - name: "trailing\\n"\n')

    assert [(i.line, i.path) for i in found] == [
        (FIRST, f"{PATH0}.name"),
        (FIRST + 1, "minimax.cn-main.sub_accounts[1].name"),
    ]
    assert all("(a control character): a name may not hold control" in i.message for i in found)
    assert "'a\\tb' holds U+0009" in found[0].message


@pytest.mark.parametrize("name", ['""', '"' + "a" * 129 + '"'])
def test_a_name_must_be_1_to_128_characters(name: str) -> None:
    assert "1 to 128 characters" in one_issue(GROUP + f"      - name: {name}\n").message


@pytest.mark.parametrize(
    "tagged",
    [
        "!foo bar",
        "!!python/name:os.system x",
        "!!int abc",
        "!!timestamp x",
        "!!float y",
        "!!bool maybe",
        "!!binary zz",
    ],
)
def test_a_strange_yaml_tag_is_reported_not_a_crash(tagged: str) -> None:
    issue = one_issue(GROUP + f"      - name: {tagged}\n")

    assert (issue.line, issue.path) == (FIRST, f"{PATH0}.name")


@pytest.mark.parametrize("tag", ["int", "timestamp", "float", "bool"])
def test_an_explicit_tag_on_a_value_it_cannot_hold_says_so_rather_than_quote_it(tag: str) -> None:
    issue = one_issue(GROUP + f"      - name: !!{tag} x\n")

    assert issue.message == f"'x' is not a valid !!{tag}"


# -- API keys never in the YAML, never echoed --


@pytest.mark.parametrize(
    "pasted", [LEAKED_KEY, "sk-api-0123456789abcdef", "12345678901234567890123456789"]
)
def test_a_literal_api_key_in_api_key_env_is_rejected_without_echoing_it(pasted: str) -> None:
    text = f"version: 1\nminimax:\n  cn-main:\n    group_id: '1'\n    api_key_env: {pasted}\n"

    with pytest.raises(ConfigError) as raised:
        load(text)

    [issue] = raised.value.issues
    assert (issue.line, issue.path) == (5, "minimax.cn-main.api_key_env")
    assert "NAME of an environment variable" in issue.message
    assert pasted not in str(raised.value)
    assert pasted[:12] not in str(raised.value)


@pytest.mark.parametrize(
    ("text", "path"),
    [
        (
            f"version: 1\nxai:\n  prod:\n    team_id: t\n    management_key_env: {LEAKED_KEY}\n",
            "xai.prod.management_key_env",
        ),
        (
            f"version: 1\nuseapi:\n  default:\n    token_env: {LEAKED_KEY}\n",
            "useapi.default.token_env",
        ),
        (f"version: 1\nsecrets:\n  key_env: {LEAKED_KEY}\n", "secrets.key_env"),
    ],
)
def test_every_env_name_field_refuses_a_literal_secret_without_echoing_it(
    text: str, path: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load(text)

    [issue] = raised.value.issues
    assert issue.path == path
    assert LEAKED_KEY not in str(raised.value)


def test_an_unknown_api_key_key_is_rejected_without_echoing_its_value() -> None:
    text = (
        "version: 1\nminimax:\n  cn-main:\n    group_id: '1'\n    api_key_env: K\n"
        f"    api_key: {LEAKED_KEY}\n"
    )

    with pytest.raises(ConfigError) as raised:
        load(text)

    [issue] = raised.value.issues
    assert (issue.line, issue.path) == (6, "minimax.cn-main.api_key")
    assert issue.message.startswith("unknown key 'api_key'")
    assert LEAKED_KEY not in str(raised.value)


# -- base_url: https, or http on loopback only --


def _with_base_url(url: str) -> str:
    return f"version: 1\nminimax:\n  cn-main:\n    group_id: '1'\n    api_key_env: K\n    base_url: {url}\n"


@pytest.mark.parametrize(
    "url",
    [
        "http://api.minimax.chat",
        "http://10.0.0.1:8080",
        "http://localhost.evil.example",
        "http://127.0.0.1.nip.io",
        "http://localhost@evil.example",
        "ftp://api.minimax.chat",
        "https://",
        "api.minimax.chat",
    ],
)
def test_a_base_url_that_is_not_https_or_loopback_http_is_rejected(url: str) -> None:
    issue = one_issue(_with_base_url(url))

    assert (issue.line, issue.path) == (6, "minimax.cn-main.base_url")
    assert "must be an https:// URL" in issue.message


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1",
        "http://127.0.0.1:8080",
        "http://localhost:9000/v1",
        "http://[::1]:8080",
        "https://api.minimax.chat",
        "https://proxy.example.com:8443/minimax",
    ],
)
def test_https_anywhere_allowed_and_http_on_loopback_are_accepted(url: str) -> None:
    write("reconciler.yaml", _with_base_url(url))
    allowed = {"RECONCILER_ALLOWED_HOSTS": "proxy.example.com"}

    assert load_config(["reconciler.yaml"], allowed).minimax["cn-main"].base_url == url


# -- duplicates --


def test_a_duplicate_name_in_a_group_is_reported_at_the_second_naming_the_first() -> None:
    issue = one_issue(GROUP + "      - name: ci-bot\n      - name: other\n      - name: ci-bot\n")

    assert (issue.line, issue.path) == (FIRST + 2, "minimax.cn-main.sub_accounts[2].name")
    assert issue.message == (
        "duplicate sub-account name 'ci-bot' in group cn-main (first at reconciler.yaml:7)"
    )


@pytest.mark.parametrize(
    ("section", "first", "second", "key", "shown"),
    [
        (
            "minimax",
            "group_id: '1687256519302470'\n    api_key_env: K",
            "group_id: '1687256519302470'\n    api_key_env: K",
            "group_id",
            "group_id '1687256519302470' declared twice",
        ),
        (
            "xai",
            "team_id: 4f6a1c2e-8d3b-4e5f-9a7c-2b1d0e3f4a5b\n    management_key_env: K",
            "team_id: 4f6a1c2e-8d3b-4e5f-9a7c-2b1d0e3f4a5b\n    management_key_env: K",
            "team_id",
            "team_id declared twice",  # 36 characters: too long to show
        ),
        ("useapi", "token_env: T", "token_env: T", "token_env", "token_env 'T' declared twice"),
    ],
)
def test_one_provider_account_under_two_aliases_is_declared_twice(
    section: str, first: str, second: str, key: str, shown: str
) -> None:
    write("a.yaml", f"version: 1\n{section}:\n  one:\n    {first}\n")
    write("b.yaml", f"version: 1\n{section}:\n  two:\n    {second}\n")

    [issue] = issues_of("a.yaml", "b.yaml")

    assert (issue.file, issue.line, issue.path) == ("b.yaml", 4, f"{section}.two.{key}")
    assert issue.message.startswith(f"{shown}: also {section}.one at a.yaml:4.")


def test_two_groups_with_different_ids_are_two_accounts() -> None:
    text = (
        "version: 1\nminimax:\n  cn-main:\n    group_id: '1'\n    api_key_env: MINIMAX_API_KEY\n"
        "  other:\n    group_id: '2'\n    api_key_env: MINIMAX_API_KEY\n"
    )

    assert set(load(text).minimax) == {"cn-main", "other"}


def test_a_duplicate_yaml_key_is_reported_at_the_second_naming_the_first() -> None:
    issue = one_issue(account("name: a", "status: enabled", "status: disabled"))

    assert (issue.line, issue.path) == (FIRST + 2, f"{PATH0}.status")
    assert issue.message == f"duplicate key 'status' (first at line {FIRST + 1})"


def test_a_duplicate_top_level_key_is_reported() -> None:
    issue = one_issue("version: 1\nminimax: {}\nminimax: {}\n")

    assert (issue.line, issue.path) == (3, "minimax")
    assert "duplicate key 'minimax' (first at line 2)" in issue.message


# -- unreadable files --


def test_a_yaml_syntax_error_names_file_and_line() -> None:
    issue = one_issue("version: 1\nminimax:\n  cn-main: [\n    group_id: x\n", name="bad.yaml")

    assert issue.file == "bad.yaml"
    assert issue.line is not None and issue.line >= 3
    assert issue.message.startswith("YAML syntax error")
    assert str(issue).startswith(f"bad.yaml:{issue.line}: YAML syntax error")


def test_a_tab_indent_is_a_syntax_error_at_its_line() -> None:
    issue = one_issue("version: 1\n\tminimax: {}\n")

    assert issue.line == 2
    assert "YAML syntax error" in issue.message


def test_two_documents_in_one_file_are_an_error() -> None:
    assert "YAML syntax error" in one_issue("version: 1\n---\nversion: 1\n").message


@pytest.mark.parametrize("text", ["", "\n", "# only a comment\n"])
def test_an_empty_file_is_an_error(text: str) -> None:
    issue = one_issue(text)

    assert issue.file == "reconciler.yaml"
    assert "empty" in issue.message


@pytest.mark.parametrize("text", ["- version: 1\n", "version\n", "42\n"])
def test_the_top_level_must_be_a_mapping(text: str) -> None:
    assert one_issue(text).message == "the top level must be a mapping"


# -- version --


def test_a_missing_version_is_reported_once() -> None:
    issue = one_issue("minimax: {}\n")

    assert (issue.line, issue.path) == (1, "version")
    assert "required key 'version' is missing" in issue.message


@pytest.mark.parametrize(("written", "found"), [("2", "2"), ("1.0", "1.0"), ('"1"', "'1'")])
def test_a_version_other_than_1_is_reported(written: str, found: str) -> None:
    issue = one_issue(f"minimax: {{}}\nversion: {written}\n")

    assert (issue.line, issue.path) == (2, "version")
    assert issue.message == f"must be 1, the only config version that exists (found {found})"


# -- several errors at once --


def test_every_error_is_reported_at_once_sorted_by_file_and_line() -> None:
    write("b.yaml", "version: 1\nbogus: 1\n")
    write(
        "a.yaml",
        GROUP
        + "      - name: ci-bot\n"
        + "        status: off\n"
        + "        rotate_every: soon\n"
        + "      - name: ci-bot\n"
        + "      - name: no\n",
    )

    found = issues_of("b.yaml", "a.yaml")

    assert [(i.file, i.line) for i in found] == [
        ("a.yaml", 8),
        ("a.yaml", 9),
        ("a.yaml", 10),
        ("a.yaml", 11),
        ("b.yaml", 2),
    ]
    assert [i.path.rsplit(".", 1)[-1] for i in found] == [
        "status",
        "rotate_every",
        "name",
        "name",
        "bogus",
    ]


def test_the_error_text_is_one_file_line_message_per_issue() -> None:
    write("a.yaml", account("name: a", "status: paused", "bogus: 1"))

    with pytest.raises(ConfigError) as raised:
        load_config(["a.yaml"])

    assert str(raised.value).splitlines() == [
        f"a.yaml:8: {PATH0}.status: 'paused' is not one of ['enabled', 'disabled']",
        f"a.yaml:9: {PATH0}.bogus: unknown key 'bogus'; allowed: budget, name, prevent_destroy, "
        "rotate_every, status, token_generation",
    ]


# -- several files --


def test_a_group_and_its_sub_accounts_may_be_spread_over_files_in_order() -> None:
    write(
        "groups.yaml", "version: 1\nminimax:\n  cn-main:\n    group_id: '1'\n    api_key_env: K\n"
    )
    write(
        "team-a.yaml",
        "version: 1\nminimax:\n  cn-main:\n    sub_accounts: [{name: a1}, {name: a2}]\n",
    )
    write("team-b.yaml", "version: 1\nminimax:\n  cn-main:\n    sub_accounts: [{name: b1}]\n")

    desired = load_config(["groups.yaml", "team-a.yaml", "team-b.yaml"])

    assert [s.name for s in desired.minimax["cn-main"].sub_accounts] == ["a1", "a2", "b1"]
    assert desired.files == ("groups.yaml", "team-a.yaml", "team-b.yaml")


def test_the_same_setting_in_two_files_names_both_places() -> None:
    write("a.yaml", "version: 1\nminimax:\n  cn-main:\n    group_id: '1'\n    api_key_env: K\n")
    write("b.yaml", "version: 1\nminimax:\n  cn-main:\n    group_id: '1'\n")

    [issue] = issues_of("a.yaml", "b.yaml")

    assert (issue.file, issue.line, issue.path) == ("b.yaml", 4, "minimax.cn-main.group_id")
    assert issue.message == "declared twice (first at a.yaml:4)"


def test_a_duplicate_name_across_files_names_both_places_with_each_files_own_index() -> None:
    write("a.yaml", GROUP + "      - name: x\n      - name: ci-bot\n")
    write(
        "b.yaml",
        "version: 1\nminimax:\n  cn-main:\n    sub_accounts:\n      - name: y\n      - name: ci-bot\n",
    )

    [issue] = issues_of("a.yaml", "b.yaml")

    assert (issue.file, issue.line) == ("b.yaml", 6)
    assert issue.path == "minimax.cn-main.sub_accounts[1].name"  # as written in b.yaml
    assert issue.message.endswith("(first at a.yaml:8)")


def test_schema_errors_in_a_later_file_use_that_files_own_index() -> None:
    write("a.yaml", GROUP + "      - name: x\n      - name: y\n")
    write(
        "b.yaml",
        "version: 1\nminimax:\n  cn-main:\n    sub_accounts:\n      - name: z\n        status: paused\n",
    )

    [issue] = issues_of("a.yaml", "b.yaml")

    assert (issue.file, issue.line, issue.path) == ("b.yaml", 6, f"{PATH0}.status")


def test_every_file_needs_its_own_version_1() -> None:
    write("a.yaml", "version: 1\n")
    write("b.yaml", "version: 2\n")
    write("c.yaml", "minimax: {}\n")

    found = issues_of("a.yaml", "b.yaml", "c.yaml")

    assert [(i.file, i.line, i.path) for i in found] == [
        ("b.yaml", 1, "version"),
        ("c.yaml", 1, "version"),
    ]


def test_a_directory_means_its_yaml_and_yml_files_sorted_not_recursive(workdir: Path) -> None:
    write(
        "conf/20-team.yml",
        "version: 1\nminimax:\n  cn-main:\n    sub_accounts: [{name: from-yml}]\n",
    )
    write(
        "conf/10-groups.yaml",
        "version: 1\nminimax:\n  cn-main:\n    group_id: '1'\n    api_key_env: K\n",
    )
    write(
        "conf/30-team.yaml",
        "version: 1\nminimax:\n  cn-main:\n    sub_accounts: [{name: from-yaml}]\n",
    )
    write("conf/README.md", "not: yaml: at all: [\n")
    write("conf/notes.txt", "version: 2\n")
    write("conf/nested/40-deep.yaml", "version: 2\n")

    desired = load_config(["conf"])

    assert desired.files == ("conf/10-groups.yaml", "conf/20-team.yml", "conf/30-team.yaml")
    assert [s.name for s in desired.minimax["cn-main"].sub_accounts] == ["from-yml", "from-yaml"]


def test_yaml_files_in_a_config_directorys_subdirectories_are_named_as_left_out() -> None:
    write("conf/groups.yaml", GROUP + "      - name: a\n")
    write("conf/teams/x.yaml", "version: 1\n")
    write("conf/teams/eu/y.yml", "version: 1\n")
    write("conf/teams/notes.txt", "not yaml\n")
    write("conf/.hidden/z.yaml", "version: 1\n")

    (warning,) = load_config(["conf"]).warnings

    assert warning.startswith("conf/teams/x.yaml, conf/teams/eu/y.yml: not read, being in a ")
    assert "Name the subdirectory with another -c" in warning
    assert load_config(["conf", "conf/teams", "conf/teams/eu"]).warnings == ()
    assert load_config(["conf/groups.yaml"]).warnings == ()


def test_a_config_directory_with_yaml_only_below_says_subdirectories_are_not_read() -> None:
    write("conf/teams/x.yaml", "version: 1\n")

    [issue] = issues_of("conf")

    assert issue.message == (
        "directory holds no *.yaml or *.yml file (subdirectories are not read: conf/teams/x.yaml)"
    )


def test_directories_and_files_may_be_mixed() -> None:
    write(
        "groups.yaml", "version: 1\nminimax:\n  cn-main:\n    group_id: '1'\n    api_key_env: K\n"
    )
    write("accounts/a.yaml", "version: 1\nminimax:\n  cn-main:\n    sub_accounts: [{name: a}]\n")

    desired = load_config(["groups.yaml", "accounts"])

    assert [s.name for s in desired.minimax["cn-main"].sub_accounts] == ["a"]


def test_a_missing_file_is_an_error() -> None:
    [issue] = issues_of("nowhere.yaml")

    assert (issue.file, issue.line) == ("nowhere.yaml", None)
    assert issue.message == "no such file or directory"


def test_every_missing_path_is_reported() -> None:
    Path("empty").mkdir()

    found = issues_of("nowhere.yaml", "empty")

    assert [(i.file, i.message) for i in found] == [
        ("empty", "directory holds no *.yaml or *.yml file"),
        ("nowhere.yaml", "no such file or directory"),
    ]


def test_reconciler_yaml_in_the_current_directory_is_the_default() -> None:
    write("reconciler.yaml", account("name: ci-bot"))

    desired = load_config([])

    assert desired.files == ("reconciler.yaml",)
    assert desired.minimax["cn-main"].sub_accounts[0].name == "ci-bot"


def test_without_reconciler_yaml_and_without_c_loading_fails_and_says_so() -> None:
    [issue] = issues_of()

    assert issue.file == os.getcwd()
    assert "no config found here" in issue.message and "-c" in issue.message


# -- credentials --


def test_required_env_names_each_groups_key_once() -> None:
    desired = load(
        "version: 1\nminimax:\n"
        "  a:\n    group_id: '1'\n    api_key_env: KEY_ONE\n"
        "  b:\n    group_id: '2'\n    api_key_env: KEY_TWO\n"
        "  c:\n    group_id: '3'\n    api_key_env: KEY_ONE\n"
    )

    assert required_env(desired) == ["KEY_ONE", "KEY_TWO"]


def test_resolve_env_returns_the_values() -> None:
    assert resolve_env(["A", "B"], {"A": "one", "B": " two \n", "C": "x"}) == {
        "A": "one",
        "B": "two",
    }


def test_resolve_env_names_every_unset_or_empty_variable_in_one_message() -> None:
    environ = {"SET": "value", "EMPTY": "", "BLANK": "   "}

    with pytest.raises(CredentialsError) as raised:
        resolve_env(["SET", "EMPTY", "UNSET", "BLANK"], environ)

    message = str(raised.value)
    assert message.startswith("environment variables EMPTY, UNSET, BLANK are unset or empty")
    assert "value" not in message


def test_resolve_env_names_a_single_missing_variable() -> None:
    with pytest.raises(CredentialsError, match="environment variable KEY is unset or empty"):
        resolve_env(["KEY"], {})


def test_resolve_env_accepts_any_iterable_of_names() -> None:
    assert resolve_env((n for n in ["A", "A"]), {"A": "1"}) == {"A": "1"}


# -- config digest --


def test_the_digest_does_not_depend_on_key_order() -> None:
    one = {"version": 1, "minimax": {"a": {"group_id": "1", "api_key_env": "K"}}}
    two = {"minimax": {"a": {"api_key_env": "K", "group_id": "1"}}, "version": 1}

    assert config_digest(one) == config_digest(two)


def test_the_digest_of_a_loaded_config_does_not_depend_on_how_it_is_split_or_ordered() -> None:
    write(
        "one.yaml",
        "version: 1\nminimax:\n  cn-main:\n    group_id: '1'\n    api_key_env: K\n"
        "    sub_accounts: [{name: a, status: enabled}]\n",
    )
    write("g.yaml", "minimax:\n  cn-main:\n    api_key_env: K\n    group_id: '1'\nversion: 1\n")
    write(
        "s.yaml",
        "version: 1\nminimax:\n  cn-main:\n    sub_accounts: [{status: enabled, name: a}]\n",
    )

    assert load_config(["one.yaml"]).digest == load_config(["g.yaml", "s.yaml"]).digest


@pytest.mark.parametrize(
    "changed",
    [
        {"version": 1, "minimax": {"a": {"group_id": "2", "api_key_env": "K"}}},
        {"version": 1, "minimax": {"b": {"group_id": "1", "api_key_env": "K"}}},
        {"version": 1, "minimax": {"a": {"group_id": "1", "api_key_env": "K2"}}},
        {"version": 1, "minimax": {"a": {"group_id": 1, "api_key_env": "K"}}},
        {"version": 1, "minimax": {"a": {"group_id": "1", "api_key_env": "K", "sub_accounts": []}}},
        {"version": 1},
    ],
)
def test_any_value_change_changes_the_digest(changed: dict[str, object]) -> None:
    base = {"version": 1, "minimax": {"a": {"group_id": "1", "api_key_env": "K"}}}

    assert config_digest(changed) != config_digest(base)


def test_the_digest_sees_a_money_change() -> None:
    first = load(account("name: a", "budget:", '  monthly_cash: "200.00"')).digest
    second = load(account("name: a", "budget:", '  monthly_cash: "200.01"')).digest

    assert first != second
    assert len(first) == 64
