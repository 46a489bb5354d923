"""Every provider call ends: a deadline for the whole call, a cap on each answer's size and
depth, and no retry once reconciler is stopping. Over real loopback HTTP to the sandbox."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date

import httpx
import pytest

from reconciler.errors import ProviderError
from reconciler.providers.http import RetryPolicy, clear_stop, request_stop
from reconciler.providers.minimax import MinimaxProvider
from reconciler.sandbox import SANDBOX_MINIMAX_API_KEY, SANDBOX_MINIMAX_GROUP_ID, Sandbox

BILLS = "/v1/batch_query_bill"
DAY = date(2026, 11, 1)


_MADE: list[MinimaxProvider] = []


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox() as server:
        yield server
        while _MADE:
            _MADE.pop().close()


def provider(sb: Sandbox, **policy: float) -> MinimaxProvider:
    settings = {"attempts": 4, "base_delay": 0.01, "max_delay": 0.05, "timeout": 5.0, **policy}
    made = MinimaxProvider(
        base_url=sb.url,
        group_id=SANDBOX_MINIMAX_GROUP_ID,
        api_key=SANDBOX_MINIMAX_API_KEY,
        api_key_env="MINIMAX_API_KEY",
        policy=RetryPolicy(**settings),  # type: ignore[arg-type]
    )
    _MADE.append(made)
    return made


def test_an_answer_dripped_a_byte_at_a_time_ends_at_the_calls_deadline(sb: Sandbox) -> None:
    sb.add_fault("GET", path=BILLS, kind="drip", delay=0.05, times=None)
    client = provider(sb, deadline=1.0)
    started = time.monotonic()

    with pytest.raises(ProviderError) as caught:
        client.bills(DAY, DAY)

    elapsed = time.monotonic() - started
    assert elapsed < 2.0, elapsed  # each read was quick; the whole answer never came
    assert "timed out" in str(caught.value)
    assert caught.value.answer_lost


def test_a_call_that_keeps_failing_stops_retrying_at_its_deadline(sb: Sandbox) -> None:
    sb.add_fault(
        "GET", path=BILLS, kind="http_status", http_status=503, retry_after=0.4, times=None
    )
    client = provider(sb, deadline=1.0, attempts=20)
    started = time.monotonic()

    with pytest.raises(ProviderError) as caught:
        client.bills(DAY, DAY)

    assert time.monotonic() - started < 1.5
    assert "gave up after the call's 1s deadline" in str(caught.value)
    assert sum(1 for r in sb.requests if r["path"] == BILLS) <= 4


def test_an_oversized_answer_is_refused_unread_and_not_retried(sb: Sandbox) -> None:
    sb.add_fault("GET", path=BILLS, kind="oversize", size=20 * 1024 * 1024, times=None)

    with pytest.raises(ProviderError) as caught:
        provider(sb).bills(DAY, DAY)

    assert "larger than 16 MiB" in str(caught.value)
    assert sum(1 for r in sb.requests if r["path"] == BILLS) == 1


def test_an_answer_nested_past_reason_is_a_malformed_answer_not_a_crash() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=deep))
    client = MinimaxProvider(
        base_url="http://127.0.0.1:9",
        group_id=SANDBOX_MINIMAX_GROUP_ID,
        api_key=SANDBOX_MINIMAX_API_KEY,
        api_key_env="MINIMAX_API_KEY",
        policy=RetryPolicy(attempts=1),
        client=httpx.Client(base_url="http://127.0.0.1:9", transport=transport),
    )

    try:
        with pytest.raises(ProviderError, match="not valid JSON"):
            client.bills(DAY, DAY)
    finally:
        client.close()


def test_nothing_is_retried_once_reconciler_is_stopping(sb: Sandbox) -> None:
    sb.add_fault("GET", path=BILLS, kind="http_status", http_status=503, retry_after=0, times=None)
    request_stop()
    try:
        with pytest.raises(ProviderError) as caught:
            provider(sb).bills(DAY, DAY)
    finally:
        clear_stop()

    assert "not retried: reconciler is stopping" in str(caught.value)
    assert sum(1 for r in sb.requests if r["path"] == BILLS) == 1
