"""Hostile inputs for property tests: what a careless edit, a bad merge or a hostile
provider can hand reconciler. Hypothesis strategies (imported only by tests and the
reliability report, which install ``hypothesis`` with the test extras).

Each strategy mixes valid shapes with the mutations that found defects before: YAML tags
and 1.1 typing traps, look-alike and invisible Unicode, lone surrogates, numbers past any
parser's limit, deep nesting, wrong types in every field, truncation. The files
reconciler keeps (state, sealed secrets, journal) are in ``hostile_files.py``.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

SECRET_TOKEN = "eyJhbGciOiJSUzI1NiJ9.hostile-secret-token-value"  # must never be printed
SECRET_PASSWORD = "hostile-password-9f8e7d"

_TRICKY_TEXT = st.sampled_from(
    [
        "",
        " ",
        "no",
        "off",
        "0123",
        "1:30",
        "2026-13-45",
        "~",
        "null",
        ".nan",
        "ci-bot",
        "\u0441i-bot",
        "caf\u0065\u0301",
        "\u202eevil",
        "\u200b",
        "\ufeff",
        "\x00",
        "\ud800",
        "数据分析",
        "x" * 300,
        "9" * 5000,
        "[" * 200,
        "&a",
        "*a",
        "!!python/name:os.system",
        SECRET_TOKEN,
    ]
)
TEXT = st.one_of(_TRICKY_TEXT, st.text(max_size=40))
SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    TEXT,
)
JSON_VALUE = st.recursive(
    SCALAR,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(TEXT, children, max_size=4)
    ),
    max_leaves=20,
)


@st.composite
def config_text(draw: st.DrawFn) -> str:
    """A config file: a valid one with one field replaced, or YAML-ish noise."""
    base: dict[str, Any] = {
        "version": 1,
        "minimax": {
            "cn-main": {
                "group_id": "1687256519302470",
                "api_key_env": "MINIMAX_API_KEY",
                "base_url": "http://127.0.0.1:9",
                "sub_accounts": [{"name": "ci-bot", "token_generation": 1}],
            }
        },
        "xai": {"prod": {"team_id": "t-1", "management_key_env": "XAI_KEY"}},
    }
    choice = draw(st.integers(0, 4))
    if choice == 0:
        return draw(st.text(max_size=300))
    if choice == 4:  # valid shapes with any names, generations and statuses
        group = base["minimax"]["cn-main"]
        group["sub_accounts"] = draw(st.lists(_ACCOUNT, max_size=5))
        return json.dumps(base, ensure_ascii=False)  # YAML reads no JSON surrogate pairs
    path = draw(
        st.sampled_from(
            [
                ("version",),
                ("minimax", "cn-main", "group_id"),
                ("minimax", "cn-main", "base_url"),
                ("minimax", "cn-main", "sub_accounts", 0, "name"),
                ("minimax", "cn-main", "sub_accounts", 0, "token_generation"),
                ("minimax", "cn-main", "sub_accounts", 0, "budget"),
                ("xai", "prod", "spending_limit"),
                ("state",),
                ("safety",),
            ]
        )
    )
    node: Any = base
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = draw(JSON_VALUE)
    text = json.dumps(base, ensure_ascii=draw(st.booleans()))  # JSON is YAML
    if choice == 2:
        cut = draw(st.integers(0, len(text)))
        text = text[:cut]
    if choice == 3:
        tag = draw(st.sampled_from(["!!timestamp ", "!!int ", "!!binary ", "!foo ", "&a ", "*a "]))
        text = text.replace('"ci-bot"', tag + '"ci-bot"')
    return text


# Names as people write them (letters, digits, punctuation, symbols of any script), or any.
NAME = st.one_of(
    st.text(st.characters(categories=("L", "M", "N", "P", "S")), min_size=1, max_size=30),
    st.text(min_size=1, max_size=30),
)
_ACCOUNT = st.fixed_dictionaries(
    {"name": NAME},
    optional={
        "status": st.sampled_from(["enabled", "disabled"]),
        "token_generation": st.integers(0, 999_999_999),
        "prevent_destroy": st.booleans(),
        "rotate_every": st.sampled_from(["90d", "12h", "1d"]),
    },
)


@st.composite
def plan_document(draw: st.DrawFn, valid: dict[str, Any]) -> bytes:
    """A saved plan: ``valid`` with one part replaced, or truncated, or other JSON."""
    document = json.loads(json.dumps(valid))
    choice = draw(st.integers(0, 3))
    if choice == 0:
        return json.dumps(draw(JSON_VALUE)).encode()
    if choice == 1:
        key = draw(st.sampled_from(sorted(document)))
        document[key] = draw(JSON_VALUE)
    if choice == 2 and document.get("changes"):
        change = document["changes"][0]
        change[draw(st.sampled_from(sorted(change)))] = draw(JSON_VALUE)
    data = json.dumps(document).encode()
    if choice == 3:
        data = data[: draw(st.integers(0, len(data)))]
    return data


@st.composite
def create_answer(draw: st.DrawFn) -> bytes:
    """A MiniMax create answer: the documented one with parts replaced, or anything."""
    answer: dict[str, Any] = {
        "subject_id": "1766027179931476045",
        "account": "ci-bot@1687256519302470",
        "password": SECRET_PASSWORD,
        "token": SECRET_TOKEN,
        "base_resp": {"status_code": 0, "status_msg": "success"},
    }
    if draw(st.booleans()):
        answer[draw(st.sampled_from(sorted(answer)))] = draw(JSON_VALUE)
    elif draw(st.booleans()):
        return json.dumps(draw(JSON_VALUE)).encode()
    data = json.dumps(answer).encode()
    if draw(st.integers(0, 4)) == 0:
        data = data[: draw(st.integers(0, len(data)))]
    return data


@st.composite
def xai_limits_answer(draw: st.DrawFn) -> bytes:
    """An xAI spending-limits answer with parts replaced, or anything."""
    limits: dict[str, Any] = {
        "softSl": {"val": "50000"},
        "effectiveSl": {"val": "50000"},
        "hardSlAuto": {"val": "100000"},
        "effectiveHardSl": {"val": "100000"},
    }
    if draw(st.booleans()):
        limits[draw(st.sampled_from(sorted(limits)))] = draw(JSON_VALUE)
        return json.dumps({"spendingLimits": limits}).encode()
    return json.dumps(draw(JSON_VALUE)).encode()


@st.composite
def rotate_answer(draw: st.DrawFn) -> bytes:
    """A MiniMax token rotation answer with parts replaced, or anything."""
    answer: dict[str, Any] = {
        "token": SECRET_TOKEN,
        "base_resp": {"status_code": 0, "status_msg": "success"},
    }
    if draw(st.booleans()):
        answer[draw(st.sampled_from(sorted(answer)))] = draw(JSON_VALUE)
        return json.dumps(answer).encode()
    return json.dumps(draw(JSON_VALUE)).encode()


# Numbers as they may come on the wire, past what any amount or time can be.
_NUMBER_TEXT = st.sampled_from(
    ["1e999999999", "-1e-999999999", "1" * 400, "0.20879999999999999", "9" * 16, "1E5", "-0", "1.5"]
)


def _numbers(draw: st.DrawFn, text: str, placeholder: str) -> bytes:
    """``text`` with each ``placeholder`` number replaced by a hostile one (or kept)."""
    while placeholder in text:
        text = text.replace(placeholder, draw(st.one_of(st.just("7"), _NUMBER_TEXT)), 1)
    return text.encode()


@st.composite
def bills_answer(draw: st.DrawFn) -> bytes:
    """A MiniMax bills answer: documented rows with a field replaced or a number past reason."""
    row = {
        "consume_cash": 424242,
        "creator_name": "ci-bot@1687256519302470",
        "created_at": 1762000000,
        "consume_token": 100,
        "model": "abab6.5s-chat",
    }
    rows: list[dict[str, Any]] = [dict(row) for _ in range(draw(st.integers(0, 3)))]
    if draw(st.booleans()) and rows:
        rows[0][draw(st.sampled_from(sorted(row)))] = draw(JSON_VALUE)
    answer = {"bill_list": rows, "base_resp": {"status_code": 0, "status_msg": "success"}}
    return _numbers(draw, json.dumps(answer), "424242")


@st.composite
def credits_answer(draw: st.DrawFn) -> bytes:
    """A useapi.net credits answer: documented fields replaced, or numbers past reason."""
    answer: dict[str, Any] = {"totalCredits": 424242}
    answer["creditExpireText"] = [{"credit": 424242, "endTime": 424242}]
    if draw(st.booleans()):
        answer[draw(st.sampled_from(sorted(answer)))] = draw(JSON_VALUE)
    return _numbers(draw, json.dumps(answer), "424242")
