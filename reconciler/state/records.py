"""Strict reading of a recorded sub-account, field by field, from the state file.

The state is a file people edit: ``"prevent_destroy": "false"`` read leniently is true,
and a time without a timezone crashes the planner later. Each field has a parser that
names what it expected, and every wrong field is reported at once.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from reconciler.model import RecordedSubAccount, Status


def read_record(data: Mapping[str, Any]) -> RecordedSubAccount:
    """Read back what ``to_dict`` wrote; ``InvalidRecord`` names every field that is wrong.

    Strict, because the state is a file people edit: ``"prevent_destroy": "false"``
    read leniently is true, and a time without a timezone crashes the planner later.
    Keys this version does not know are ignored (and kept in the state document).
    """
    values: dict[str, Any] = {}
    problems: list[str] = []
    for key, parse, default in _RECORD_FIELDS:
        value = data.get(key, _ABSENT)
        if value is _ABSENT:
            if default is _REQUIRED:
                problems.append(f"{key} is missing")
            values[key] = None if default is _NULLABLE else default
        elif value is None and default is _NULLABLE:
            values[key] = None
        else:
            try:
                values[key] = parse(value)
            except _Unexpected as exc:
                null = ", or null" if default is _NULLABLE else ""
                problems.append(f"{key} is {_shown(value)} (expected {exc.expected}{null})")
    if problems:
        raise InvalidRecord(problems)
    return RecordedSubAccount(**values)


class InvalidRecord(ValueError):
    """A recorded resource that does not read back; ``problems`` says what, field by field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class _Unexpected(Exception):
    """A field parser's refusal: what the field should have held."""

    def __init__(self, expected: str) -> None:
        super().__init__(expected)
        self.expected = expected


_ABSENT = object()
_REQUIRED = object()
_NULLABLE = object()
_ASCII_DIGITS = re.compile(r"[0-9]+")
_STATUS_VALUES = frozenset(status.value for status in Status)


def _nonempty_text(value: Any) -> str:
    if isinstance(value, str) and value:
        return value
    raise _Unexpected("a non-empty string")


def _digits(value: Any) -> str:
    # Not str.isdigit: it also accepts "²" and "١٢٣", which are no MiniMax id.
    if isinstance(value, str) and _ASCII_DIGITS.fullmatch(value):
        return value
    raise _Unexpected('a string of digits, like "1766027179931476045"')


def _count(value: Any) -> int:
    if type(value) is int and value >= 0:  # type(): True is an int, and no count
        return value
    raise _Unexpected("a whole number, 0 or more")


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise _Unexpected("true or false, without quotes")


def _status(value: Any) -> Status:
    if isinstance(value, str) and value in _STATUS_VALUES:
        return Status(value)
    raise _Unexpected(" or ".join(f'"{status.value}"' for status in Status))


def _moment(value: Any) -> datetime:
    """A timezone-aware time: naive and aware times cannot be compared or subtracted."""
    moment = None
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            moment = datetime.fromisoformat(value)  # Python 3.11+ reads a final "Z" too
    if moment is None or moment.utcoffset() is None:
        raise _Unexpected('an ISO 8601 time with a timezone, like "2026-08-01T09:30:00Z"')
    return moment


# Each field of a recorded sub-account: its parser, and its value when the key is absent
# (_REQUIRED: none; _NULLABLE: null, which the field may also hold).
_RECORD_FIELDS: tuple[tuple[str, Callable[[Any], Any], Any], ...] = (
    ("alias", _nonempty_text, _REQUIRED),
    ("name", _nonempty_text, _REQUIRED),
    ("group_id", _digits, _REQUIRED),
    ("subject_id", _digits, _NULLABLE),
    ("status", _status, _NULLABLE),
    ("token_generation", _count, 0),
    ("token_issued_at", _moment, _NULLABLE),
    ("token_fingerprint", _nonempty_text, _NULLABLE),
    ("prevent_destroy", _flag, False),
    ("pending", _flag, False),
    ("created_at", _moment, _NULLABLE),
)


def _shown(value: Any) -> str:
    """A value as it reads in the JSON file, cut short: for messages about that file."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 40 else text[:37] + "..."
