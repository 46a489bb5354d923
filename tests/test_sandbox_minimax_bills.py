"""The sandbox's MiniMax bills: realistic default spend, accounts made behind the tool's back
that then spend, the range cap that makes clients split long queries, and the seed's own
malformed example. Real loopback HTTP; the sandbox clock is pinned to 2026-11-14 12:00 UTC.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from reconciler.sandbox import SANDBOX_MINIMAX_API_KEY, SANDBOX_MINIMAX_GROUP_ID, Sandbox

GROUP = SANDBOX_MINIMAX_GROUP_ID
NOW = datetime(2026, 11, 14, 12, 0, tzinfo=UTC).timestamp()


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(clock=lambda: NOW) as sb:
        yield sb


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {SANDBOX_MINIMAX_API_KEY}"}
    with httpx.Client(base_url=sandbox.url, headers=headers, verify=False, timeout=5) as c:
        yield c


def bills(client: httpx.Client, start: str, end: str) -> dict[str, Any]:
    params = {"GroupId": GROUP, "start_date": start, "end_date": end}
    body: dict[str, Any] = client.get("/v1/batch_query_bill", params=params).json()
    return body


def test_the_default_group_has_main_account_spend_on_several_days_and_models(
    client: httpx.Client,
) -> None:
    rows = bills(client, "20261101", "20261114")["bill_list"]

    assert {row["creator_name"] for row in rows} == {"主账号"}
    assert {row["api_token_name"] for row in rows} == {"默认Token"}
    assert len({row["model"] for row in rows}) >= 3
    days = {datetime.fromtimestamp(row["created_at"], UTC).day for row in rows}
    assert days == {1, 2, 3, 5, 8, 13}  # the 21st is still to come
    assert all(len(row["consume_cash"].split(".")[1]) == 4 for row in rows)
    assert rows[0]["consume_time"] == "2026年11月01日 09:00-10:00"


def test_the_default_group_has_spend_last_month_too(client: httpx.Client) -> None:
    rows = bills(client, "20261001", "20261031")["bill_list"]
    assert sum(Decimal(row["consume_cash"]) for row in rows) == Decimal("9.8050")


def test_an_account_made_behind_the_tools_back_spends_in_its_own_name(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    made = sandbox.create_minimax_sub_account(GROUP, "临时工")
    sandbox.add_minimax_spend(GROUP, "临时工", "3.2100", model="abab6.5s-chat", tokens=321)

    (row,) = [
        r for r in bills(client, "20261114", "20261114")["bill_list"] if r["mail"] != "主账号"
    ]
    assert made["account"] == f"临时工@{GROUP}"
    assert row["creator_name"] == f"临时工@{GROUP}"
    assert row["api_token_name"] == "临时工"
    assert (row["consume_cash"], row["consume_token"], row["model"]) == (
        "3.2100",
        "321",
        "abab6.5s-chat",
    )
    assert [a["account_name"] for a in sandbox.minimax_accounts(GROUP)] == ["临时工"]


def test_spend_needs_a_live_account_or_the_main_account(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError, match="no sub-account"):
        sandbox.add_minimax_spend(GROUP, "nobody", "1.00")
    sandbox.add_minimax_spend(GROUP, "主账号", "1.00", day="2026-11-10")
    with pytest.raises(ValueError, match="cash"):
        sandbox.add_minimax_spend(GROUP, "主账号", "1.23456")


def test_admin_routes_create_an_account_and_bill_its_spend(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    made = client.post(f"/_sandbox/minimax/{GROUP}/sub_accounts", json={"account_name": "影子"})
    assert made.json()["ok"] is True and made.json()["account"] == f"影子@{GROUP}"
    spent = client.post(
        f"/_sandbox/minimax/{GROUP}/spend",
        json={"account_name": "影子", "cash": "0.5000", "day": "2026-11-02"},
    )
    assert spent.json() == {"ok": True}
    again = client.post(f"/_sandbox/minimax/{GROUP}/sub_accounts", json={"account_name": "影子"})
    assert again.status_code == 400 and "already exists" in again.json()["error"]
    rows = bills(client, "20261102", "20261102")["bill_list"]
    assert f"影子@{GROUP}" in {row["creator_name"] for row in rows}


def test_a_range_longer_than_31_days_is_refused_with_2013(client: httpx.Client) -> None:
    body = bills(client, "20261001", "20261101")
    assert body["base_resp"]["status_code"] == 2013
    assert "31 days" in body["base_resp"]["status_msg"]
    assert bills(client, "20261001", "20261031")["base_resp"]["status_code"] == 0


def test_a_malformed_fault_on_bills_answers_the_seeds_own_example(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    sandbox.add_fault("GET", path="/v1/batch_query_bill", kind="malformed")
    response = client.get(
        "/v1/batch_query_bill",
        params={"GroupId": GROUP, "start_date": "20261101", "end_date": "20261101"},
    )
    assert response.status_code == 200
    assert '"creator_name": "冬天@1690536709939485"' in response.text
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)
