"""Strict reading of recorded resources (state records, saved live values), field by field.

The state is a file people edit: ``"prevent_destroy": "false"`` read leniently is true,
and a time without a timezone crashes the planner later. Each resource kind lists its
fields with a parser from here that names what it expected (``read_fields``), and every
wrong field is reported at once.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

REQUIRED: Any = object()  # the key must be present
NULLABLE: Any = object()  # absent or null both read as None

# (key, parser, value when absent: REQUIRED, NULLABLE or a default)
Field = tuple[str, Callable[[Any], Any], Any]


def read_fields(data: Mapping[str, Any], fields: tuple[Field, ...]) -> dict[str, Any]:
    """Each field of ``data`` through its parser; ``InvalidRecord`` names every wrong one.

    Keys this version does not know are ignored (and kept in the state document).
    """
    values: dict[str, Any] = {}
    problems: list[str] = []
    for key, parse, default in fields:
        value = data.get(key, _ABSENT)
        if value is _ABSENT:
            if default is REQUIRED:
                problems.append(f"{key} is missing")
            values[key] = None if default is NULLABLE else default
        elif value is None and default is NULLABLE:
            values[key] = None
        else:
            try:
                values[key] = parse(value)
            except Unexpected as exc:
                null = ", or null" if default is NULLABLE else ""
                problems.append(f"{key} is {_shown(value)} (expected {exc.expected}{null})")
    if problems:
        raise InvalidRecord(problems)
    return values


class InvalidRecord(ValueError):
    """A recorded resource that does not read back; ``problems`` says what, field by field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class Unexpected(Exception):
    """A field parser's refusal: what the field should have held."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


_ABSENT = object()
_ASCII_DIGITS = re.compile(r"[0-9]+")
_MONEY = re.compile(r"(0|[1-9][0-9]*)(\.[0-9]{1,2})?")


def nonempty_text(value: Any) -> str:
    if isinstance(value, str) and value:
        return value
    raise Unexpected("a non-empty string")


def digits(value: Any) -> str:
    # Not str.isdigit: it also accepts "²" and "١٢٣", which are no MiniMax id.
    if isinstance(value, str) and _ASCII_DIGITS.fullmatch(value):
        return value
    raise Unexpected('a string of digits, like "1766027179931476045"')


def count(value: Any) -> int:
    if type(value) is int and value >= 0:  # type(): True is an int, and no count
        return value
    raise Unexpected("a whole number, 0 or more")


def flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise Unexpected("true or false, without quotes")


def money(value: Any) -> Decimal:
    """An amount as reconciler writes it: a string with at most 2 decimals, never a float."""
    if isinstance(value, str) and _MONEY.fullmatch(value):
        with contextlib.suppress(InvalidOperation):
            return Decimal(value)
    raise Unexpected('an amount as a string, like "500.00"')


def moment(value: Any) -> datetime:
    """A timezone-aware time: naive and aware times cannot be compared or subtracted."""
    parsed = None
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            parsed = datetime.fromisoformat(value)  # Python 3.11+ reads a final "Z" too
    if parsed is None or parsed.utcoffset() is None:
        raise Unexpected('an ISO 8601 time with a timezone, like "2026-08-01T09:30:00Z"')
    return parsed


def one_of(*allowed: str) -> Callable[[Any], str]:
    """A parser accepting exactly these strings."""

    def parse(value: Any) -> str:
        if isinstance(value, str) and value in allowed:
            return value
        raise Unexpected(" or ".join(f'"{option}"' for option in allowed))

    return parse


def _shown(value: Any) -> str:
    """A value as it reads in the JSON file, cut short: for messages about that file."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 40 else text[:37] + "..."
