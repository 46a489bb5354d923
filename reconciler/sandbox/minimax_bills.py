"""The MiniMax emulator's bill rows: their shape, the default data, and spending by name.

``minimax.py`` speaks HTTP; this module holds what a bill row is, written from the seed's
``batch_query_bill`` example: ``consume_cash`` a decimal string with four places,
``consume_token`` a string, ``created_at`` unix seconds on the hour, ``consume_time`` a
human string (``2026年11月02日 19:00-20:00``), ``ymd`` empty, and the spender named twice:
``creator_name`` (``name@group_id``, or ``主账号`` for the main account) and
``api_token_name`` (the sub-account's name, or the main account's ``默认Token``).

The sandbox's default group starts with realistic spend by its main account: several
models over several days of the previous month and of this month up to today (computed
from the sandbox clock), so ``usage`` and ``plan`` have figures to show from the start.
Tests spend in a sub-account's name with :func:`spend_row`, including accounts created
behind the tool's back. One ``batch_query_bill`` answers at most ``MAX_RANGE_DAYS`` days:
the real limit is not documented, so the sandbox makes clients split long ranges.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from reconciler.sandbox.admin import parse_day

MAIN_ACCOUNT = "主账号"
MAIN_TOKEN_NAME = "默认Token"
MAX_RANGE_DAYS = 31

_YMD = re.compile(r"[0-9]{8}")
_CASH = re.compile(r"-?[0-9]{1,9}(\.[0-9]{1,4})?")

# The seed's own example answer, verbatim: its trailing comma after the last row makes it
# invalid JSON, which is what the ``malformed`` fault answers on MiniMax paths.
SEED_BILL_EXAMPLE = """{
"bill_list": [
{
"method": "chatcompletion-pro",
"consume_cash": "0.0540",
"consume_token": "3602",
"created_at": 1692702000,
"status": "SUCCESS",
"model": "abab5.5-chat",
"mail": "主账号",
"creator_id": "",
"api_token_name": "默认Token",
"group_id": "1690536709939485",
"creator_name": "主账号",
"ymd": "",
"consume_time": "2023年08月22日 19:00-20:00"
},
{
"method": "plugin-search",
"consume_cash": "0.0300",
"consume_token": "1",
"created_at": 1692702000,
"status": "SUCCESS",
"model": "abab5.5-chat",
"mail": "主账号",
"creator_id": "",
"api_token_name": "默认Token",
"group_id": "1690536709939485",
"creator_name": "主账号",
"ymd": "",
"consume_time": "2023年08月22日 19:00-20:00"
},
{
"method": "chatcompletion-pro",
"consume_cash": "0.0000",
"consume_token": "999",
"created_at": 1706698800,
"status": "SUCCESS",
"model": "abab6-chat",
"mail": "冬天@1690536709939485",
"creator_id": "",
"api_token_name": "冬天",
"group_id": "1690536709939485",
"creator_name": "冬天@1690536709939485",
"ymd": "",
"consume_time": "2024年01月31日 19:00-20:00"
},
],
"total_cash": 0.20879999999999999,
"total_token": 31330,
"base_resp": {
"status_code": 0,
"status_msg": "success"
}
}""".encode()

# (day of month, hour, model, method, cash, tokens): the main account's default spend.
_DEFAULT_SPEND = (
    (1, 9, "MiniMax-Text-01", "chatcompletion-v2", "1.2600", 126_000),
    (2, 14, "abab6.5s-chat", "chatcompletion-pro", "0.3000", 30_000),
    (3, 10, "speech-02-hd", "t2a-v2", "2.5000", 25_000),
    (5, 19, "MiniMax-Text-01", "chatcompletion-v2", "0.8450", 84_500),
    (8, 11, "MiniMax-M1", "chatcompletion-v2", "3.1200", 156_000),
    (13, 16, "abab6.5s-chat", "plugin-search", "0.0300", 1),
    (21, 20, "speech-02-hd", "t2a-v2", "1.7500", 17_500),
)


def bill_row(
    group_id: str,
    spender: str,
    created_at: int,
    cash: str,
    tokens: int,
    model: str,
    method: str,
) -> dict[str, Any]:
    """A row as ``batch_query_bill`` answers it, for ``spender`` (a name or ``主账号``)."""
    main = spender == MAIN_ACCOUNT
    who = MAIN_ACCOUNT if main else f"{spender}@{group_id}"
    start = datetime.fromtimestamp(created_at - created_at % 3600, UTC)
    end = start + timedelta(hours=1)
    return {
        "method": method,
        "consume_cash": cash,
        "consume_token": str(tokens),
        "created_at": created_at,
        "status": "SUCCESS",
        "model": model,
        "mail": who,
        "creator_id": "",
        "api_token_name": MAIN_TOKEN_NAME if main else spender,
        "group_id": group_id,
        "creator_name": who,
        "ymd": "",
        "consume_time": f"{start:%Y年%m月%d日 %H:%M}-{end:%H:%M}",
    }


def default_rows(group_id: str, now: float) -> list[dict[str, Any]]:
    """The main account's spend over last month and this month up to today."""
    today = datetime.fromtimestamp(now, UTC).date()
    last_month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    rows = []
    for month_start in (last_month, today.replace(day=1)):
        for day, hour, model, method, cash, tokens in _DEFAULT_SPEND:
            moment = datetime(month_start.year, month_start.month, day, hour, tzinfo=UTC)
            if moment.date() <= today:
                created = int(moment.timestamp())
                rows.append(bill_row(group_id, MAIN_ACCOUNT, created, cash, tokens, model, method))
    return rows


def spend_row(
    group_id: str,
    account_name: str,
    cash: str,
    now: float,
    *,
    model: str = "MiniMax-Text-01",
    tokens: int = 1000,
    day: str | None = None,
    hour: int = 12,
    method: str = "chatcompletion-v2",
) -> dict[str, Any]:
    """A bill row for spend by ``account_name`` (``主账号`` for the main account) on ``day``
    (``YYYY-MM-DD``, default today by the sandbox clock); ValueError for a bad argument."""
    if not isinstance(account_name, str) or not account_name:
        raise ValueError("account_name must be a non-empty string")
    if not isinstance(cash, str) or not _CASH.fullmatch(cash):
        raise ValueError(f"cash must be a decimal string with at most 4 places, got {cash!r}")
    for value, name in ((model, "model"), (method, "method")):
        if not isinstance(value, str) or not value:
            raise ValueError(f"{name} must be a non-empty string")
    if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0:
        raise ValueError(f"tokens must be a non-negative integer, got {tokens!r}")
    if isinstance(hour, bool) or not isinstance(hour, int) or not 0 <= hour <= 23:
        raise ValueError(f"hour must be an integer from 0 to 23, got {hour!r}")
    when = parse_day(day) if day is not None else datetime.fromtimestamp(now, UTC).date()
    created = int(datetime(when.year, when.month, when.day, hour, tzinfo=UTC).timestamp())
    return bill_row(group_id, account_name, created, cash, tokens, model, method)


def bill_window(start_date: str | None, end_date: str | None) -> tuple[int, int]:
    """Unix seconds from 00:00 UTC of ``start_date`` to the end of ``end_date`` (``YYYYMMDD``);
    ValueError with the ``status_msg`` MiniMax's code 2013 would carry."""
    start = _day_start(start_date, "start_date")
    end = _day_start(end_date, "end_date") + 86_399
    if start > end:
        raise ValueError("invalid params, start_date is after end_date")
    if end - start >= MAX_RANGE_DAYS * 86_400:
        raise ValueError(f"invalid params, the date range exceeds {MAX_RANGE_DAYS} days")
    return start, end


def bills_answer(rows: list[dict[str, Any]], start: int, end: int) -> dict[str, Any]:
    """The answer's fields for the rows in ``[start, end]``; ``total_cash`` a float, as MiniMax's."""
    found = [dict(row) for row in rows if start <= int(row["created_at"]) <= end]
    return {
        "bill_list": found,
        "total_cash": sum(float(row.get("consume_cash", 0)) for row in found),
        "total_token": sum(int(row.get("consume_token", 0)) for row in found),
    }


def _day_start(value: str | None, name: str) -> int:
    if value is None or not _YMD.fullmatch(value):
        raise ValueError(f"invalid params, {name}")
    try:
        day = datetime.strptime(value, "%Y%m%d").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(f"invalid params, {name}") from None
    return int(day.timestamp())


def check_row(row: dict[str, Any]) -> None:
    """A row added raw must carry what the answer's totals sum; ValueError otherwise."""
    try:
        int(row["created_at"])
        Decimal(str(row.get("consume_cash", 0)))
        int(row.get("consume_token", 0))
    except KeyError as exc:
        raise ValueError("a bill row needs created_at (unix seconds)") from exc
    except (TypeError, ValueError, InvalidOperation) as exc:
        raise ValueError(f"bad bill row: {exc}") from exc
