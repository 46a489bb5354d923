"""A pasted secret is never echoed: one rule for every config message (``reconciler.echo``).

People paste keys into the wrong field. Whatever the field, an error names the place and
says the value's length, never its text: a value is shown only when it is short (no setting
is long, hardly a key is short), a name only when it does not look like a key.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_config import GROUP

from reconciler.config import load_config
from reconciler.echo import VALUE_SHOWN_MAX, likely_secret, shown_name, shown_value
from reconciler.errors import ConfigError

# A MiniMax-style key (a JWT): 123 characters, as the reviewer pasted it.
PASTED = (
    "eyJ6GHZ2bGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJHcm91cE5hbWUiOiJhY21lIiwiVXNlck5hbWUiOiJjaS1i"
    "b3QifQ.c2lnbmF0dXJlX29mX3RoZV9rZXk"
)
XAI_KEY = "xai-" + "Zk3q9LmP2vX8rT5wN1yB7cD4fG6hJ0kM" * 2


def _windows(secret: str, width: int = 8) -> list[str]:
    return [secret[i : i + width] for i in range(len(secret) - width + 1)]


def _config_error(tmp_path: Path, text: str) -> str:
    target = tmp_path / "reconciler.yaml"
    target.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config([str(target)], {})
    return str(raised.value)


SUB = GROUP + "      - name: a\n"
XAI = "version: 1\nxai:\n  prod:\n    team_id: t\n    management_key_env: XAI_KEY\n"
USEAPI = "version: 1\nuseapi:\n  u:\n    token_env: USEAPI_TOKEN\n"
# Every field a value can be pasted into, as YAML with ``{v}`` for the value.
FIELDS = {
    "status": SUB + "        status: {v}\n",
    "rotate_every": SUB + "        rotate_every: {v}\n",
    "token_generation": SUB + "        token_generation: {v}\n",
    "prevent_destroy": SUB + "        prevent_destroy: {v}\n",
    "monthly_cash": SUB + "        budget:\n          monthly_cash: {v}\n",
    "on_exceed": SUB + "        budget:\n          monthly_cash: 1\n          on_exceed: {v}\n",
    "name": GROUP + "      - name: {v}{v}\n",  # too long for a name
    "monthly_usd": XAI + "    spending_limit:\n      monthly_usd: {v}\n",
    "team_id": "version: 1\nxai:\n  prod:\n    team_id: {v}\n    management_key_env: K\n",
    "group_id": "version: 1\nminimax:\n  g:\n    group_id: {v}\n    api_key_env: K\n",
    "api_key_env": "version: 1\nminimax:\n  g:\n    group_id: '1'\n    api_key_env: {v}\n",
    "unmanaged": GROUP.replace("    sub_accounts:\n", "    unmanaged: {v}\n"),
    "base_url": USEAPI + "    base_url: {v}\n",
    "min_credits": USEAPI + "    checks:\n      - min_credits: {v}\n",
    "state.backend": "version: 1\nstate:\n  backend: {v}\n",
    "secrets.key_env": "version: 1\nsecrets:\n  key_env: {v}\n",
    "max_delete_percent": "version: 1\nsafety:\n  max_delete_percent: {v}\n",
    "min_managed": "version: 1\nsafety:\n  min_managed: {v}\n",
    "version": "version: {v}\n",
    "unknown key": "version: 1\n{v}: 1\n",
    "alias": "version: 1\nxai:\n  {v}:\n    team_id: t\n    management_key_env: K\n",
    "tag": "version: 1\nstate:\n  backend: !{v} x\n",
}


@pytest.mark.parametrize("secret", [PASTED, XAI_KEY], ids=["jwt", "xai"])
@pytest.mark.parametrize("quote", ["", "'"], ids=["plain", "quoted"])
@pytest.mark.parametrize("field", list(FIELDS))
def test_a_secret_pasted_into_any_field_is_never_echoed(
    tmp_path: Path, field: str, quote: str, secret: str
) -> None:
    value = f"{quote}{secret}{quote}" if field not in ("unknown key", "alias", "tag") else secret
    message = _config_error(tmp_path, FIELDS[field].format(v=value))

    leaked = [window for window in _windows(secret) if window in message]
    assert leaked == [], message
    assert "reconciler.yaml:" in message


@pytest.mark.parametrize(
    "field", ["token_generation", "min_managed", "max_delete_percent", "version", "group_id"]
)
def test_a_long_number_pasted_into_a_numeric_field_is_never_echoed(
    tmp_path: Path, field: str
) -> None:
    secret = "8143925760" * 4
    message = _config_error(tmp_path, FIELDS[field].format(v=secret))

    assert [window for window in _windows(secret) if window in message] == [], message


def test_a_long_value_is_described_by_its_length(tmp_path: Path) -> None:
    message = _config_error(tmp_path, FIELDS["status"].format(v=f"'{PASTED}'"))

    assert message.endswith(
        f"status: the value ({len(PASTED)} characters, not shown: it may be a pasted secret) "
        "is not one of ['enabled', 'disabled']"
    )


def test_a_short_wrong_value_is_still_shown_as_written(tmp_path: Path) -> None:
    message = _config_error(tmp_path, FIELDS["status"].format(v="enable"))

    assert message.endswith("status: 'enable' is not one of ['enabled', 'disabled']")


def test_a_duplicate_name_that_looks_like_a_key_is_not_echoed(tmp_path: Path) -> None:
    name = XAI_KEY[:60]
    message = _config_error(tmp_path, GROUP + f"      - name: {name}\n      - name: {name}\n")

    assert "duplicate sub-account name a name (60 characters, not shown" in message
    assert XAI_KEY[4:20] not in message


def test_a_duplicate_name_a_person_chose_is_shown_even_when_long(tmp_path: Path) -> None:
    name = "team-platform-nightly-batch-export-to-the-data-warehouse-eu-west"
    message = _config_error(tmp_path, GROUP + f"      - name: {name}\n      - name: {name}\n")

    assert f"duplicate sub-account name '{name}' in group cn-main" in message


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (PASTED, True),
        (XAI_KEY, True),
        ("sk-proj-4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c", True),
        ("5f4dcc3b5aa765d61d8327deb882cf99", True),  # 32 hex digits
        ("ci-bot", False),
        ("team-platform-nightly-batch-export-2026", False),
        ("supercalifragilisticexpialidocious", False),
        ("数据分析 bot 2026", False),
    ],
)
def test_a_likely_secret_is_a_long_run_of_letters_and_digits(text: str, secret: bool) -> None:
    assert likely_secret(text) is secret


def test_values_up_to_the_bound_are_shown_and_longer_ones_are_not() -> None:
    assert shown_value("x" * VALUE_SHOWN_MAX) == repr("x" * VALUE_SHOWN_MAX)
    assert shown_value("x" * (VALUE_SHOWN_MAX + 1)).startswith("the value (25 characters")


def test_a_shown_name_escapes_what_a_reader_cannot_see() -> None:
    assert shown_name("ci\u3164bot") == "'ci\\u3164bot'"
    assert shown_name("ci\u00adbot") == "'ci\\xadbot'"
