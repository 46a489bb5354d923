"""XaiProvider reading answers the sandbox never gives: odd money shapes and error bodies.

The sandbox covers the documented shapes end to end (``test_xai_provider.py``); here an
``httpx.MockTransport`` answers with what a real API might also send, to pin down that
money is read exactly or refused, never guessed, and that an error names the provider,
the call and the team in one line.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from reconciler.errors import ProviderError
from reconciler.providers.http import RetryPolicy
from reconciler.providers.xai import XaiProvider

TEAM = "team-1"
POLICY = RetryPolicy(attempts=3, base_delay=0.0, max_delay=0.0, timeout=2.0)


def provider(answer: Callable[[httpx.Request], httpx.Response]) -> XaiProvider:
    client = httpx.Client(
        base_url="https://management-api.x.ai", transport=httpx.MockTransport(answer)
    )
    return XaiProvider(
        base_url="https://management-api.x.ai",
        team_id=TEAM,
        management_key="xai-secret-key-value",
        key_env="XAI_MANAGEMENT_KEY",
        policy=POLICY,
        client=client,
        sleep=lambda _: None,
    )


def limits(**fields: Any) -> Callable[[httpx.Request], httpx.Response]:
    body = {"spendingLimits": fields}
    return lambda request: httpx.Response(200, json=body)


def test_cents_read_from_wrapped_strings_plain_strings_and_integers() -> None:
    read = provider(
        limits(
            softSl={"val": "12345"},
            effectiveSl="12345",
            hardSlAuto=100000,
            effectiveHardSl={"val": "90000"},
        )
    ).spending_limits()

    assert read.soft == Decimal("123.45")
    assert read.effective == Decimal("123.45")
    assert read.hard == Decimal("900.00")  # the hard limit in force, not the automatic one
    assert read.hard_auto == Decimal("1000.00")
    assert read.override is None


def test_without_an_effective_hard_limit_the_automatic_one_bounds_the_soft_limit() -> None:
    read = provider(limits(softSl={"val": "0"}, hardSlAuto={"val": "50000"})).spending_limits()

    assert read.hard == Decimal("500.00")
    assert read.effective == Decimal("0.00")


@pytest.mark.parametrize(
    "soft",
    [{"val": "12.5"}, {"val": "abc"}, 123.0, {"val": 1.5}, True, None, {"val": "1e3"}, 10**28],
    ids=["fraction", "text", "float", "float val", "bool", "missing", "exponent", "28 digits"],
)
def test_money_that_is_not_whole_cents_is_refused_not_guessed(soft: Any) -> None:
    with pytest.raises(ProviderError) as refused:
        provider(limits(softSl=soft, hardSlAuto={"val": "100000"})).spending_limits()

    assert "xAI read spending limits (team team-1): unexpected answer" in str(refused.value)


def test_setting_the_limit_sends_cents_as_a_string_and_reads_the_confirmation() -> None:
    sent: list[Any] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append((request.method, request.url.path, json.loads(request.content)))
        return httpx.Response(200, json={"thisBpSoftSpendingLimit": {"val": "50000"}})

    assert provider(answer).set_soft_limit(Decimal("500.00")) == Decimal("500.00")
    assert sent == [
        (
            "POST",
            f"/v1/billing/teams/{TEAM}/postpaid/spending-limits",
            {"desiredSoftSpendingLimit": {"val": "50000"}},
        )
    ]


def test_the_key_goes_only_in_the_authorization_header_and_never_into_errors() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        return httpx.Response(401, json={"code": "Unauthenticated", "error": "bad key"})

    with pytest.raises(ProviderError) as refused:
        provider(answer).spending_limits()

    assert seen == ["Bearer xai-secret-key-value"]  # a 401 is not retried
    assert "xai-secret-key-value" not in str(refused.value)
    assert "XAI_MANAGEMENT_KEY" in str(refused.value)


def test_a_403_names_the_variable_the_team_and_the_missing_permission() -> None:
    body = {"code": "PermissionDenied", "error": "The caller does not have permission"}
    with pytest.raises(ProviderError) as refused:
        provider(lambda r: httpx.Response(403, json=body)).spending_limits()

    message = str(refused.value)
    assert "XAI_MANAGEMENT_KEY" in message and TEAM in message and "billing" in message
    assert "PermissionDenied: The caller does not have permission" in message
    assert "\n" not in message


def test_an_error_message_is_one_line_and_cut_short() -> None:
    body = {"code": "Internal", "error": "line one\nline two " + "x" * 1000}
    with pytest.raises(ProviderError) as refused:
        provider(lambda r: httpx.Response(400, json=body)).spending_limits()

    message = str(refused.value)
    assert "\n" not in message
    assert "line one line two" in message and len(message) < 500


def test_5xx_is_retried_then_reported_with_its_status() -> None:
    calls = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(503, json={"code": "Unavailable", "error": "try later"})

    with pytest.raises(ProviderError) as refused:
        provider(answer).spending_limits()

    assert len(calls) == POLICY.attempts
    assert "HTTP 503" in str(refused.value)


def test_a_malformed_answer_is_one_clear_line() -> None:
    broken = lambda r: httpx.Response(200, content=b'{"spendingLimits": {,}')  # noqa: E731
    with pytest.raises(ProviderError) as refused:
        provider(broken).spending_limits()

    assert "xAI read spending limits (team team-1)" in str(refused.value)
    assert "not valid JSON" in str(refused.value)


def test_a_confirmation_without_the_limit_is_an_unexpected_answer() -> None:
    with pytest.raises(ProviderError, match="no thisBpSoftSpendingLimit"):
        provider(lambda r: httpx.Response(200, json={})).set_soft_limit(Decimal("1.00"))


def test_the_month_spend_comes_from_the_invoice_preview_or_is_unknown() -> None:
    preview = {
        "coreInvoice": {"amountAfterVat": "1234"},
        "billingCycle": {"year": 2026, "month": 11},
    }
    read = provider(lambda r: httpx.Response(200, json=preview)).invoice_preview()
    assert (read.amount, read.year, read.month) == (Decimal("12.34"), 2026, 11)
    assert provider(lambda r: httpx.Response(200, json={})).invoice_preview().amount is None
