"""MiniMax bill rows read exactly: who spent, on which day, how much; sums to the last digit.

Pure functions, no HTTP: a row in the seed's shape in, a ``BillRow`` out; rows summed per
spender (month to date and 30 days) and per account, model or day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from reconciler.billing.figures import Spend, exact, plain, show
from reconciler.billing.spend import grand_total, spend_by_spender, totals_by
from reconciler.providers.minimax_bills import (
    MAIN_ACCOUNT,
    BillRow,
    UnreadableRow,
    month_chunks,
    read_bill_row,
)

GROUP = "1690536709939485"


def at(day: str, hour: int = 19) -> int:
    return int(datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC).timestamp())


def raw(**fields: Any) -> dict[str, Any]:
    """The seed's third example row, with fields replaced."""
    row = {
        "method": "chatcompletion-pro",
        "consume_cash": "0.0540",
        "consume_token": "999",
        "created_at": 1706698800,
        "status": "SUCCESS",
        "model": "abab6-chat",
        "mail": f"冬天@{GROUP}",
        "creator_id": "",
        "api_token_name": "冬天",
        "group_id": GROUP,
        "creator_name": f"冬天@{GROUP}",
        "ymd": "",
        "consume_time": "2024年01月31日 19:00-20:00",
    }
    return {**row, **fields}


def row(spender: str, day: str, cash: str, model: str = "m", tokens: int = 1) -> BillRow:
    return BillRow(spender, date.fromisoformat(day), model, "chat", Decimal(cash), tokens)


# -- reading a row --


def test_a_sub_account_row_is_named_by_creator_name_without_the_group() -> None:
    read = read_bill_row(raw(), GROUP)
    assert (read.spender, read.model, read.tokens) == ("冬天", "abab6-chat", 999)
    assert read.day == date(2024, 1, 31)
    assert read.cash == Decimal("0.0540") and not read.main


def test_the_main_account_is_its_own_spender() -> None:
    read = read_bill_row(
        raw(creator_name="主账号", mail="主账号", api_token_name="默认Token"), GROUP
    )
    assert read.spender == MAIN_ACCOUNT and read.main


def test_a_row_without_a_creator_falls_back_to_the_api_token_name() -> None:
    assert read_bill_row(raw(creator_name=""), GROUP).spender == "冬天"


def test_a_name_holding_an_at_sign_keeps_it() -> None:
    assert read_bill_row(raw(creator_name=f"ops@home@{GROUP}"), GROUP).spender == "ops@home"


def test_a_creator_of_another_group_is_kept_whole() -> None:
    assert read_bill_row(raw(creator_name="冬天@999"), GROUP).spender == "冬天@999"


@pytest.mark.parametrize(
    ("cash", "spent"),
    [
        ("0.0540", "0.0540"),
        ("-91.2344", "91.2344"),  # the seed's field table writes consumption negative
        (Decimal("0.20879999999999999"), "0.20879999999999999"),  # a JSON number, parsed exactly
        (3, "3"),
    ],
)
def test_cash_is_read_exactly_and_counted_as_spend_whatever_its_sign(cash: Any, spent: str) -> None:
    assert read_bill_row(raw(consume_cash=cash), GROUP).cash == Decimal(spent)


@pytest.mark.parametrize(
    "cash",
    [None, "", "abc", "1e5", "NaN", 0.5, True, [1], Decimal("1e999999999"), 10**16],
)
def test_cash_that_is_not_an_amount_is_refused_never_guessed(cash: Any) -> None:
    with pytest.raises(UnreadableRow, match="consume_cash"):
        read_bill_row(raw(consume_cash=cash), GROUP)


def test_the_day_comes_from_created_at_then_ymd_then_consume_time() -> None:
    assert read_bill_row(raw(created_at=at("2026-11-02", 23)), GROUP).day == date(2026, 11, 2)
    assert read_bill_row(raw(created_at=None, ymd="20261103"), GROUP).day == date(2026, 11, 3)
    no_time = raw(created_at="", ymd="", consume_time="2023年08月22日 19:00-20:00")
    assert read_bill_row(no_time, GROUP).day == date(2023, 8, 22)
    with pytest.raises(UnreadableRow, match="no day"):
        read_bill_row(raw(created_at=None, ymd="", consume_time=""), GROUP)


def test_tokens_are_a_count_and_anything_else_counts_as_none() -> None:
    assert read_bill_row(raw(consume_token="3602"), GROUP).tokens == 3602
    assert read_bill_row(raw(consume_token="n/a"), GROUP).tokens == 0


# -- ranges --


def test_a_range_is_queried_one_calendar_month_at_a_time() -> None:
    assert month_chunks(date(2026, 1, 15), date(2026, 3, 2)) == [
        (date(2026, 1, 15), date(2026, 1, 31)),
        (date(2026, 2, 1), date(2026, 2, 28)),
        (date(2026, 3, 1), date(2026, 3, 2)),
    ]
    assert month_chunks(date(2026, 12, 31), date(2027, 1, 1)) == [
        (date(2026, 12, 31), date(2026, 12, 31)),
        (date(2027, 1, 1), date(2027, 1, 1)),
    ]
    assert month_chunks(date(2026, 11, 5), date(2026, 11, 5)) == [(date(2026, 11, 5),) * 2]


# -- sums --


def test_spend_per_spender_counts_the_month_and_the_last_30_days_apart() -> None:
    rows = [
        row("ci-bot", "2026-10-20", "1.0001"),
        row("ci-bot", "2026-11-02", "2.5000"),
        row("ci-bot", "2026-11-14", "0.0049"),
        row("old", "2026-10-01", "9.99"),  # before both: not a spender of this read
    ]
    spend = spend_by_spender(rows, date(2026, 11, 1), date(2026, 10, 16))
    assert spend["ci-bot"] == Spend(Decimal("2.5049"), Decimal("3.5050"))
    assert "old" not in spend


def test_totals_by_account_model_or_day_are_exact_and_sorted() -> None:
    rows = [
        row("b", "2026-11-02", "0.1", "m1", 10),
        row("a", "2026-11-01", "0.2", "m2", 20),
        row("b", "2026-11-01", "0.0000000001", "m1", 1),
    ]
    by_account = totals_by(rows, "account")
    assert list(by_account) == ["a", "b"]
    assert by_account["b"].cash == Decimal("0.1000000001") and by_account["b"].tokens == 11
    assert list(totals_by(rows, "model")) == ["m1", "m2"]
    assert list(totals_by(rows, "day")) == ["2026-11-01", "2026-11-02"]
    whole = grand_total(by_account.values())
    assert (whole.cash, whole.tokens) == (Decimal("0.3000000001"), 31)


# -- showing --


def test_amounts_are_shown_exactly_with_at_least_cents() -> None:
    assert plain(Decimal("4.2500")) == "4.25"
    assert plain(Decimal("4.0049")) == "4.0049"
    assert plain(Decimal("4")) == "4.00"
    assert plain(Decimal("0E-8")) == "0.00"
    assert show(Decimal("1234.5"), "usd") == "$1,234.50"
    assert show(Decimal("-0.5"), "cash") == "-0.50"
    assert show(Decimal("12345.0001"), "cash") == "12,345.0001"
    assert show(Decimal("1250"), "credits") == "1,250"
    assert exact(Decimal("1250.00"), "credits") == "1250"
    assert show(None, "usd") == "(unknown)"
