"""MiniMax bill rows as reconciler reads them: who spent, on which day, which model, how much.

``batch_query_bill`` answers raw rows (seed ``000_...``, ``shared/providers/minimax.md``);
this module turns one into a ``BillRow`` and splits a date range into the calendar-month
chunks the client queries one at a time (the API's longest range is not documented; a
month is what the provider notes advise). Money is exact: ``consume_cash`` is read as a
``Decimal`` from its decimal string (the answer's ``total_cash`` is a float and never
used). The seed shows consumption both negative (its field table: ``-91.2344``) and
positive (its example), so a row's spend is the amount without its sign.

The spender is named by ``creator_name``: ``主账号`` is the group's main account,
``name@group_id`` a sub-account; a row without a creator falls back to
``api_token_name``, which for a sub-account is its name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from reconciler.providers.amounts import wire_amount

MAIN_ACCOUNT = "主账号"
UNKNOWN_SPENDER = "(unnamed)"

_YMD = re.compile(r"[0-9]{8}")
_CONSUME_TIME = re.compile(r"([0-9]{4})年([0-9]{1,2})月([0-9]{1,2})日")


class UnreadableRow(ValueError):
    """A bill row whose money or day cannot be read: money is never guessed."""


@dataclass(frozen=True)
class BillRow:
    """One row of a MiniMax bill: ``cash`` spent (>= 0) by ``spender`` on ``day`` (UTC)."""

    spender: str
    day: date
    model: str
    method: str
    cash: Decimal
    tokens: int

    @property
    def main(self) -> bool:
        return self.spender == MAIN_ACCOUNT


def read_bill_row(row: Mapping[str, Any], group_id: str) -> BillRow:
    """A raw row as a ``BillRow``; ``UnreadableRow`` says which field is wrong."""
    return BillRow(
        spender=spender_of(row, group_id),
        day=_day(row),
        model=_text(row.get("model")) or "(no model)",
        method=_text(row.get("method")),
        cash=abs(_cash(row.get("consume_cash"))),
        tokens=_tokens(row.get("consume_token")),
    )


def spender_of(row: Mapping[str, Any], group_id: str) -> str:
    """Who spent: ``主账号``, a sub-account's name, or the raw creator when it is neither."""
    creator = _text(row.get("creator_name"))
    if creator == MAIN_ACCOUNT:
        return MAIN_ACCOUNT
    suffix = f"@{group_id}"
    if creator.endswith(suffix) and len(creator) > len(suffix):
        return creator[: -len(suffix)]
    return creator or _text(row.get("api_token_name")) or UNKNOWN_SPENDER


def month_chunks(start: date, end: date) -> list[tuple[date, date]]:
    """``[start, end]`` cut at month boundaries: each chunk lies within one calendar month."""
    chunks = []
    cursor = start
    while cursor <= end:
        next_month = (cursor.replace(day=28) + timedelta(days=4)).replace(day=1)
        last = min(end, next_month - timedelta(days=1))
        chunks.append((cursor, last))
        cursor = next_month
    return chunks


def _cash(value: Any) -> Decimal:
    amount = wire_amount(value)
    if amount is None:
        raise UnreadableRow(f"consume_cash is not an amount ({_shown(value)})")
    return amount


def _tokens(value: Any) -> int:
    """Tokens are a count, not money: anything but whole digits counts as none."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    return 0


def _day(row: Mapping[str, Any]) -> date:
    """The UTC day of ``created_at`` (unix seconds), else ``ymd``, else ``consume_time``."""
    created = row.get("created_at")
    if isinstance(created, str) and created.strip().isascii() and created.strip().isdigit():
        created = int(created.strip())
    if isinstance(created, Decimal) and created == created.to_integral_value():
        created = int(created)
    if isinstance(created, int) and not isinstance(created, bool) and 0 < created < 2**40:
        return datetime.fromtimestamp(created, UTC).date()
    ymd = _text(row.get("ymd"))
    if _YMD.fullmatch(ymd):
        try:
            return datetime.strptime(ymd, "%Y%m%d").date()
        except ValueError:
            pass
    match = _CONSUME_TIME.search(_text(row.get("consume_time")))
    if match:
        try:
            return date(*(int(part) for part in match.groups()))
        except ValueError:
            pass
    raise UnreadableRow(f"no day in created_at, ymd or consume_time ({_shown(created)})")


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
