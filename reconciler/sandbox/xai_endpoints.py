"""The bodies of xAI's billing endpoints: request validation and answers, given a team.

``xai.py`` authorizes a request and takes the lock; the functions here check what the
request carries and answer from the team's ``xai_ledger.Team``. Checks are strict, so a
client that misspells a field or an enum meets a 400 here rather than in production.
The ``usage`` request (``analyticsRequest``) has a grammar of its own: a time range of
local ``YYYY-MM-DD HH:MM:SS`` times in a named timezone, ``endTime`` exclusive, a time
unit, the values to aggregate and what to group by; the sandbox supports what the tool
sends: ``TIME_UNIT_DAY``, ``usd`` summed (``AGGREGATION_SUM``), grouped by
``description`` or not at all, no filters. It does not convert timezones: a usage row's
day is taken to be a day in the zone asked for.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from reconciler.sandbox.wire import Request, parse_json
from reconciler.sandbox.xai_ledger import Team

_DIGITS = re.compile(r"[0-9]{1,15}")


class Refusal(Exception):
    """An error answer (HTTP status, message), raised to end a handler early."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# A billing endpoint: the request, the team (lock held) and "now"; answers a JSON payload.
TeamHandler = Callable[[Request, Team, datetime], Any]


def spending_limits(request: Request, team: Team, now: datetime) -> dict[str, Any]:
    return {"spendingLimits": team.spending_limits()}


def set_soft_limit(request: Request, team: Team, now: datetime) -> dict[str, Any]:
    """Refuse anything but ``{"desiredSoftSpendingLimit": {"val": "<digits>"}}`` up to the hard limit."""
    body = _json(request)
    inner = (
        body.get("desiredSoftSpendingLimit") if isinstance(body, dict) and len(body) == 1 else None
    )
    if not isinstance(inner, dict) or set(inner) != {"val"}:
        raise Refusal(400, 'the body must be {"desiredSoftSpendingLimit": {"val": "<USD cents>"}}')
    value = inner["val"]
    if not isinstance(value, str) or not _DIGITS.fullmatch(value):
        raise Refusal(
            400,
            f"desiredSoftSpendingLimit.val must be USD cents as a string of digits, got {value!r}",
        )
    cents = int(value)
    if cents > team.effective_hard:
        raise Refusal(
            400,
            f"The desired soft spending limit ({cents} cents) is above the team's hard "
            f"spending limit ({team.effective_hard} cents)",
        )
    team.soft = cents
    return {"thisBpSoftSpendingLimit": {"val": str(cents)}}


def invoice_preview(request: Request, team: Team, now: datetime) -> dict[str, Any]:
    return team.preview(now)


def balance(request: Request, team: Team, now: datetime) -> dict[str, Any]:
    return team.balance()


def usage(request: Request, team: Team, now: datetime) -> dict[str, Any]:
    try:
        query: UsageQuery = parse_usage_request(_json(request))
    except ValueError as exc:
        raise Refusal(400, str(exc)) from exc
    series, reached = team.usage_series(query.start, query.end, query.by_description, query.values)
    return {"timeSeries": series, "limitReached": reached}


def invoices(request: Request, team: Team, now: datetime) -> dict[str, Any]:
    query = parse_qs(request.raw_query, keep_blank_values=True)

    def number(name: str, top: int) -> int | None:
        values = query.get(name)
        if not values:
            return None
        text = values[-1]
        if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= top:
            raise Refusal(400, f"{name} must be an integer from 1 to {top}, got {text!r}")
        return int(text)

    since_year, since_month = number("since.year", 9999), number("since.month", 12)
    since = None if since_year is None else (since_year, since_month or 1)
    found = team.find_invoices(
        number("billingCycle.year", 9999),
        number("billingCycle.month", 12),
        since,
        query.get("invoiceIds.invoiceIds", []),
    )
    return {"invoices": found}


def _json(request: Request) -> Any:
    try:
        return parse_json(request.body)
    except ValueError as exc:
        raise Refusal(400, "the request body is not valid JSON") from exc


# -- the usage request --

_FIELDS = {"timeRange", "timeUnit", "values", "groupBy", "filters"}
_TIMEZONE = re.compile(r"[A-Za-z][A-Za-z0-9_+\-/]{0,63}")
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")


@dataclass(frozen=True)
class UsageQuery:
    """A checked usage request: ``[start, end)``, grouping, and how many values to answer."""

    start: datetime
    end: datetime
    timezone: str
    by_description: bool
    values: int


def parse_usage_request(body: Any) -> UsageQuery:
    """Check ``{"analyticsRequest": {...}}``; raise ValueError naming what is wrong."""
    if not isinstance(body, dict) or set(body) != {"analyticsRequest"}:
        raise ValueError('the body must be {"analyticsRequest": {...}}')
    request = body["analyticsRequest"]
    if not isinstance(request, dict):
        raise ValueError("analyticsRequest must be an object")
    unknown = sorted(set(request) - _FIELDS)
    if unknown:
        raise ValueError(f"analyticsRequest has unknown fields: {', '.join(unknown)}")
    start, end, timezone = _time_range(request.get("timeRange"))
    if request.get("timeUnit") != "TIME_UNIT_DAY":
        raise ValueError(f"timeUnit must be TIME_UNIT_DAY, got {request.get('timeUnit')!r}")
    values = request.get("values")
    if not isinstance(values, list) or not values:
        raise ValueError("values must be a non-empty list")
    for value in values:
        if value != {"name": "usd", "aggregation": "AGGREGATION_SUM"}:
            raise ValueError(
                f'each value must be {{"name": "usd", "aggregation": "AGGREGATION_SUM"}}, got {value!r}'
            )
    group_by = request.get("groupBy", [])
    if group_by not in ([], ["description"]):
        raise ValueError(f'groupBy must be ["description"] or [], got {group_by!r}')
    if request.get("filters", []) != []:
        raise ValueError("filters are not supported by the sandbox; send []")
    return UsageQuery(start, end, timezone, bool(group_by), len(values))


def _time_range(time_range: Any) -> tuple[datetime, datetime, str]:
    if not isinstance(time_range, dict) or not set(time_range) <= {
        "startTime",
        "endTime",
        "timezone",
    }:
        raise ValueError("timeRange must be an object of startTime, endTime and timezone")
    start = _time(time_range.get("startTime"), "startTime")
    end = _time(time_range.get("endTime"), "endTime")
    if start >= end:
        raise ValueError("timeRange.startTime must be before timeRange.endTime (exclusive)")
    timezone = time_range.get("timezone", "Etc/GMT")
    if not isinstance(timezone, str) or not _TIMEZONE.fullmatch(timezone):
        raise ValueError(f"timeRange.timezone must be a timezone name, got {timezone!r}")
    return start, end, timezone


def _time(value: Any, name: str) -> datetime:
    if isinstance(value, str) and _TIME.fullmatch(value):
        try:
            return datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
        except ValueError:
            pass
    raise ValueError(f'timeRange.{name} must be "YYYY-MM-DD HH:MM:SS", got {value!r}')
