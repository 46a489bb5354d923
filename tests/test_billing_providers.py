"""The billing reads of each provider client, against the sandbox over loopback HTTP.

MiniMax bills month by month and exactly; xAI prepaid credit, invoice preview, usage
(partial when ``limitReached``) and invoices; useapi.net credits and what lapses soon. Each
refusal a user can meet is one line naming the provider, the call and what to fix. The
sandbox clock is pinned to 2026-11-14 12:00 UTC.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from reconciler.errors import ProviderError
from reconciler.providers.http import RetryPolicy
from reconciler.providers.minimax import MinimaxProvider
from reconciler.providers.useapi import UseapiProvider
from reconciler.providers.xai import XaiProvider
from reconciler.sandbox import (
    SANDBOX_MINIMAX_API_KEY,
    SANDBOX_MINIMAX_GROUP_ID,
    SANDBOX_USEAPI_ACCOUNT,
    SANDBOX_USEAPI_TOKEN,
    SANDBOX_XAI_MANAGEMENT_KEY,
    SANDBOX_XAI_TEAM_ID,
    Sandbox,
)

GROUP, TEAM = SANDBOX_MINIMAX_GROUP_ID, SANDBOX_XAI_TEAM_ID
NOW = datetime(2026, 11, 14, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy(attempts=2, base_delay=0.0, max_delay=0.0, timeout=2.0)


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(clock=lambda: NOW.timestamp()) as server:
        yield server


@pytest.fixture
def minimax(sb: Sandbox) -> Iterator[MinimaxProvider]:
    client = MinimaxProvider(
        base_url=sb.url,
        group_id=GROUP,
        api_key=SANDBOX_MINIMAX_API_KEY,
        api_key_env="K",
        policy=POLICY,
    )
    yield client
    client.close()


@pytest.fixture
def xai(sb: Sandbox) -> Iterator[XaiProvider]:
    client = XaiProvider(
        base_url=sb.url,
        team_id=TEAM,
        management_key=SANDBOX_XAI_MANAGEMENT_KEY,
        key_env="K",
        policy=POLICY,
    )
    yield client
    client.close()


@pytest.fixture
def useapi(sb: Sandbox) -> Iterator[Callable[..., UseapiProvider]]:
    made: list[UseapiProvider] = []

    def make(token: str = SANDBOX_USEAPI_TOKEN) -> UseapiProvider:
        made.append(
            UseapiProvider(
                base_url=sb.url,
                token=token,
                token_env="USEAPI_TOKEN",
                alias="default",
                policy=POLICY,
            )
        )
        return made[-1]

    yield make
    for client in made:
        client.close()


def bill_queries(sb: Sandbox) -> list[tuple[str, str]]:
    return [
        (r["query"]["start_date"], r["query"]["end_date"])
        for r in sb.requests
        if r["path"] == "/v1/batch_query_bill"
    ]


# -- MiniMax bills --


def test_a_long_range_is_read_month_by_month_and_summed_exactly(
    sb: Sandbox, minimax: MinimaxProvider
) -> None:
    sb.create_minimax_sub_account(GROUP, "ci-bot")
    for day, cash in (("2026-08-31", "0.0001"), ("2026-09-15", "1.1111"), ("2026-10-01", "2.2222")):
        sb.add_minimax_spend(GROUP, "ci-bot", cash, day=day)

    rows = minimax.bills(date(2026, 8, 20), date(2026, 10, 31))

    assert sorted(bill_queries(sb)) == [  # asked for at once: in any order
        ("20260820", "20260831"),
        ("20260901", "20260930"),
        ("20261001", "20261031"),
    ]
    mine = [row for row in rows if row.spender == "ci-bot"]
    assert sum(row.cash for row in mine) == Decimal("3.3334")
    assert {row.spender for row in rows} == {"ci-bot", "主账号"}


def test_the_seeds_own_malformed_bill_is_one_clear_error(
    sb: Sandbox, minimax: MinimaxProvider
) -> None:
    sb.add_fault("GET", path="/v1/batch_query_bill", kind="malformed", times=None)
    with pytest.raises(ProviderError) as refused:
        minimax.bills(date(2026, 11, 1), date(2026, 11, 14))
    message = str(refused.value)
    assert message.startswith("MiniMax read bills 2026-11-01..2026-11-14 (group 1687256519302470)")
    assert "not valid JSON" in message and "\n" not in message


def test_a_bill_row_without_an_amount_names_the_row() -> None:
    row = {"created_at": int(NOW.timestamp()), "consume_cash": "", "creator_name": "主账号"}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"bill_list": [row]}))
    client = MinimaxProvider(
        base_url="https://api.minimax.chat",
        group_id=GROUP,
        api_key="k",
        api_key_env="K",
        client=httpx.Client(base_url="https://api.minimax.chat", transport=transport),
    )
    with pytest.raises(ProviderError, match=r"bill row 1: consume_cash is not an amount"):
        client.bills(date(2026, 11, 14), date(2026, 11, 14))
    client.close()


# -- xAI billing --


def test_prepaid_credit_is_minus_the_balance_total(sb: Sandbox, xai: XaiProvider) -> None:
    assert xai.prepaid_credit() == Decimal("25.00")
    sb.add_xai_balance_change(TEAM, "-1050")
    sb.add_xai_balance_change(TEAM, "300", origin="SPEND")
    assert xai.prepaid_credit() == Decimal("32.50")


def test_the_invoice_preview_is_this_months_usage_so_far(sb: Sandbox, xai: XaiProvider) -> None:
    sb.add_xai_usage(TEAM, "2026-11-02", "grok-4", "10.005")
    sb.add_xai_usage(TEAM, "2026-10-30", "grok-4", "99")
    preview = xai.invoice_preview()
    assert (preview.amount, preview.year, preview.month) == (Decimal("10.01"), 2026, 11)


def test_usage_is_dollars_per_day_per_model_exactly(sb: Sandbox, xai: XaiProvider) -> None:
    for day, model, usd in (
        ("2026-11-01", "grok-4", "0.1"),
        ("2026-11-01", "grok-3", "0.2"),
        ("2026-11-03", "grok-4", "1.25"),
    ):
        sb.add_xai_usage(TEAM, day, model, usd)

    by_model = xai.usage(date(2026, 11, 1), date(2026, 11, 3), by_model=True)
    assert sorted((p.key, p.day.isoformat(), p.usd) for p in by_model.points) == [
        ("grok-3", "2026-11-01", Decimal("0.2")),
        ("grok-4", "2026-11-01", Decimal("0.1")),
        ("grok-4", "2026-11-03", Decimal("1.25")),
    ]
    by_day = xai.usage(date(2026, 11, 1), date(2026, 11, 1), by_model=False)
    assert [(p.key, p.usd) for p in by_day.points] == [
        ("", Decimal("0.3"))
    ]  # never 0.30000000000000004
    assert not by_day.partial


def test_usage_says_so_when_xai_reports_limit_reached(sb: Sandbox, xai: XaiProvider) -> None:
    sb.add_xai_usage(TEAM, "2026-11-01", "grok-4", "1")
    sb.add_xai_usage(TEAM, "2026-11-01", "grok-3", "2")
    sb.set_xai_usage_max_series(TEAM, 1)
    assert xai.usage(date(2026, 11, 1), date(2026, 11, 30), by_model=True).partial


def test_invoices_since_a_month_are_listed_with_their_totals(sb: Sandbox, xai: XaiProvider) -> None:
    sb.add_xai_invoice(
        TEAM, 2026, 9, lines=[{"description": "grok-4", "cents": 1234}], tax_cents=100
    )
    sb.add_xai_invoice(
        TEAM, 2026, 10, lines=[{"description": "grok-4", "cents": 50}], status="INVOICE_STATUS_DUE"
    )

    (october,) = xai.invoices(date(2026, 10, 1))
    assert (october.total, october.status, october.year, october.month) == (
        Decimal("0.50"),
        "DUE",
        2026,
        10,
    )
    assert [i.total for i in xai.invoices(date(2026, 1, 1))] == [Decimal("13.34"), Decimal("0.50")]


def test_a_key_without_billing_permission_is_one_clear_line(sb: Sandbox) -> None:
    client = XaiProvider(
        base_url=sb.url,
        team_id=TEAM,
        management_key="sandbox-xai-readonly-key",
        key_env="XAI_KEY",
        policy=POLICY,
    )
    with pytest.raises(ProviderError) as refused:
        client.prepaid_credit()
    client.close()
    assert "XAI_KEY may not manage billing" in str(refused.value) and "HTTP 403" in str(
        refused.value
    )


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ({"changes": []}, "no total amount"),
        (
            {
                "timeSeries": [
                    {"dataPoints": [{"timestamp": "2026-11-01T00:00:00Z", "values": ["x"]}]}
                ]
            },
            "not an amount",
        ),
        ({"timeSeries": "nope"}, "timeSeries is not a list"),
        ({"invoices": [{"invoiceId": "i"}]}, "no total amount"),
    ],
)
def test_billing_answers_in_an_unexpected_shape_are_refused_naming_the_field(
    answer: Any, problem: str
) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=answer))
    client = XaiProvider(
        base_url="https://management-api.x.ai",
        team_id="t",
        management_key="k",
        key_env="K",
        client=httpx.Client(base_url="https://management-api.x.ai", transport=transport),
    )
    calls: list[Callable[[], Any]] = [
        client.prepaid_credit,
        lambda: client.usage(date(2026, 11, 1), date(2026, 11, 1), by_model=False),
        lambda: client.invoices(date(2026, 11, 1)),
    ]
    failures = []
    for call in calls:
        try:
            call()
        except ProviderError as exc:
            failures.append(str(exc))
    client.close()
    assert any(problem in failure and "unexpected answer" in failure for failure in failures)


# -- useapi.net credits --


def test_credits_and_those_lapsing_within_a_week(useapi: Callable[..., UseapiProvider]) -> None:
    client = useapi()
    read = client.credits(None)
    assert read.total == Decimal(1250)
    assert read.expiring_within(NOW, NOW + timedelta(days=7)) == Decimal(300)
    assert client.credits(SANDBOX_USEAPI_ACCOUNT).total == Decimal(1250)


def test_a_refused_useapi_token_is_one_line_naming_the_variable_never_the_token(
    useapi: Callable[..., UseapiProvider],
) -> None:
    with pytest.raises(ProviderError) as refused:
        useapi("not-my-token").credits(None)
    message = str(refused.value)
    assert "the token in USEAPI_TOKEN was refused (HTTP 401: Unauthorized)" in message
    assert "not-my-token" not in message and "\n" not in message


def test_several_accounts_without_account_is_refused_with_what_to_set(
    sb: Sandbox, useapi: Callable[..., UseapiProvider]
) -> None:
    sb.add_useapi_account("second@example.com", total=7)
    with pytest.raises(ProviderError) as refused:
        useapi().credits(None)
    assert "HTTP 400" in str(refused.value) and "`account:`" in str(refused.value)
    assert useapi().credits("second@example.com").total == Decimal(7)


def test_an_account_useapi_does_not_know_is_refused_without_asking_to_name_one(
    useapi: Callable[..., UseapiProvider],
) -> None:
    with pytest.raises(ProviderError) as refused:
        useapi().credits("nobody@example.com")
    message = str(refused.value)
    assert "HTTP 400" in message and "nobody@example.com" in message
    assert "`account:`" not in message and "email as configured at useapi.net" in message


@pytest.mark.parametrize(
    "answer",
    [
        {"totalCredits": 5, "creditExpireText": [{"credit": 1, "endTime": 10**400}]},
        {"totalCredits": 5, "creditExpireText": 7},
        {"totalCredits": Decimal("1e999999999")},
    ],
    ids=["a time past any date", "not a list", "credits past any amount"],
)
def test_credits_past_reason_are_an_unexpected_answer_not_a_crash(answer: dict) -> None:
    from reconciler.providers.useapi import read_credits

    with pytest.raises(ValueError):
        read_credits(answer)
