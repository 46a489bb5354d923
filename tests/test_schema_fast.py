"""The compiled schema check agrees with jsonschema on every document it is shown.

``schema_fast`` answers "valid?" for the config schema without jsonschema; jsonschema
then only runs to name the problems of an invalid config. These tests take a complete
valid config and break it everywhere (each value replaced by values of every JSON type
and edge, each key removed, an unknown key added at every level), and require the two
to agree on every variant: a config the fast check accepts is one jsonschema accepts.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from decimal import Decimal
from typing import Any

import jsonschema
import pytest

from reconciler.schema import _validator, load_schema
from reconciler.schema_fast import Unsupported, compile_schema

VALID: dict[str, Any] = {
    "version": 1,
    "state": {"backend": "local", "path": "state/reconciler.json"},
    "secrets": {"key_env": "RECONCILER_SECRET_KEY", "command": "vault-put"},
    "minimax": {
        "cn-main": {
            "group_id": "1687256519302470",
            "api_key_env": "MINIMAX_API_KEY",
            "base_url": "https://api.minimax.chat",
            "sub_accounts": [
                {
                    "name": "ci-bot",
                    "status": "disabled",
                    "token_generation": 2,
                    "rotate_every": "90d",
                    "prevent_destroy": True,
                    "budget": {"monthly_cash": "200.00", "on_exceed": "warn"},
                },
                {"name": "测试账号"},
            ],
        }
    },
    "xai": {
        "prod": {
            "team_id": "team-1",
            "management_key_env": "XAI_MANAGEMENT_KEY",
            "spending_limit": {"monthly_usd": Decimal("500.5")},
        }
    },
    "useapi": {
        "default": {"token_env": "USEAPI_TOKEN", "checks": [{"account": None, "min_credits": 50}]}
    },
}

REPLACEMENTS: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    999999999,
    1000000000,
    1.0,
    Decimal("1.5"),
    Decimal("-0.01"),
    Decimal("200.001"),
    Decimal("NaN"),
    Decimal("Infinity"),
    "",
    "x",
    "enabled",
    "warn",
    "ci-bot\n",
    "ci\u200bbot",
    "X" * 129,
    "90d\n",
    "MINIMAX_API_KEY",
    "http://127.0.0.1:8765",
    "http://example.com",
    "200.00",
    "0200",
    [],
    [{}],
    {},
    {"unknown": 1},
]


def paths(value: Any, path: tuple = ()) -> list[tuple]:
    """Every path to a value inside ``value`` (dict keys, list indices)."""
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*path, index))
    return found


def variants() -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = [("as is", VALID)]
    for path in paths(VALID):
        for replacement in REPLACEMENTS:
            out.append((f"{path} = {replacement!r}", _set(VALID, path, replacement)))
        if path and isinstance(_get(VALID, path[:-1]), dict):
            out.append((f"del {path}", _delete(VALID, path)))
        if isinstance(_get(VALID, path), dict):
            out.append((f"{path} + unknown key", _set(VALID, (*path, "zz_unknown"), 1)))
    return out


def _get(value: Any, path: tuple) -> Any:
    for part in path:
        value = value[part]
    return value


def _set(value: Any, path: tuple, replacement: Any) -> Any:
    if not path:
        return replacement
    copied = copy.deepcopy(value)
    _get(copied, path[:-1])[path[-1]] = replacement
    return copied


def _delete(value: Any, path: tuple) -> Any:
    copied = copy.deepcopy(value)
    del _get(copied, path[:-1])[path[-1]]
    return copied


FAST = compile_schema(load_schema("config"))


def test_the_config_schema_compiles() -> None:
    assert FAST(VALID) is True


def test_the_fast_check_agrees_with_jsonschema_on_every_broken_variant() -> None:
    validator = _validator("config")
    disagreements = []
    checked = 0
    for label, document in variants():
        expected = not any(True for _ in validator.iter_errors(document))
        if FAST(document) != expected:
            disagreements.append(f"{label}: fast {not expected}, jsonschema {expected}")
        checked += 1
    assert checked > 1000
    assert disagreements == []


@pytest.mark.parametrize(
    "schema",
    [
        {"oneOf": [{"type": "string"}, {"type": "integer"}]},
        {"type": "object", "patternProperties": {"^x": {}}, "additionalProperties": False},
        {"$ref": "https://example.com/remote.json"},
        {"type": "array", "prefixItems": [{}], "items": False},
    ],
    ids=["oneOf", "patternProperties", "remote $ref", "prefixItems"],
)
def test_a_schema_with_a_keyword_it_does_not_know_is_left_to_jsonschema(schema) -> None:
    with pytest.raises(Unsupported):
        compile_schema(schema)


def test_booleans_are_not_numbers_and_one_is_not_true() -> None:
    check = compile_schema({"enum": [1, "a"]})
    assert (check(1), check(True), check(Decimal(1)), check("a")) == (True, False, True, True)
    assert compile_schema({"type": "integer"})(True) is False
    assert compile_schema({"type": "number", "minimum": 0})(Decimal("NaN")) is False
    assert jsonschema.Draft202012Validator({"enum": [1]}).is_valid(True) is False


def test_a_valid_config_with_every_section_is_validated_without_importing_jsonschema(
    tmp_path,
) -> None:
    config = tmp_path / "reconciler.yaml"
    config.write_text(
        "version: 1\n"
        "state:\n  path: s/state.json\n"
        "minimax:\n  main:\n    group_id: '1687256519302470'\n    api_key_env: MINIMAX_API_KEY\n"
        "    sub_accounts:\n      - name: ci-bot\n        budget:\n          monthly_cash: '5.00'\n"
        "xai:\n  prod:\n    team_id: t-1\n    management_key_env: XAI_MANAGEMENT_KEY\n"
        "    spending_limit:\n      monthly_usd: '500.00'\n"
        "useapi:\n  default:\n    token_env: USEAPI_TOKEN\n    checks:\n      - min_credits: 100\n",
        encoding="utf-8",
    )
    probe = (
        "import sys\nfrom reconciler.cli import main\n"
        "try:\n    main(['validate', '-c', sys.argv[1]])\nexcept SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "print('jsonschema' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(config)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("False"), result.stdout + result.stderr
