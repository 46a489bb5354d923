"""Property tests: whatever a file or a provider hands reconciler, it is read or refused
with reconciler's own error, never a crash, and never with a secret in the message.

Generators are in ``reconciler.testing.hostile``; each property runs a bounded number of
examples so the suite stays fast (the reliability report under ``benchmarks/`` runs many
more).
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
from hypothesis import HealthCheck, given, settings

from reconciler.config import load_config
from reconciler.errors import ConfigError, PlanError, ProviderError
from reconciler.model import Desired, DesiredSubAccount, MinimaxGroup
from reconciler.planner import make_plan
from reconciler.providers.http import RetryPolicy
from reconciler.providers.minimax import MinimaxProvider
from reconciler.providers.xai import XaiProvider
from reconciler.render import plan_to_dict
from reconciler.saved_plan import load_saved_plan
from reconciler.testing.hostile import (
    SECRET_PASSWORD,
    SECRET_TOKEN,
    config_text,
    create_answer,
    plan_document,
    xai_limits_answer,
)

BOUNDED = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ONE_TRY = RetryPolicy(attempts=1)


@BOUNDED
@given(config_text())
def test_any_config_text_is_loaded_or_refused_with_located_config_errors(text: str) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory, "reconciler.yaml")
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            load_config([str(path)], {})
        except ConfigError as refused:
            message = str(refused)
            assert SECRET_TOKEN not in message
            assert all(issue.file for issue in refused.issues)
            message.encode()  # printable: no lone surrogate reaches the terminal


def _valid_plan() -> dict:
    group = MinimaxGroup("cn-main", "1", "K", sub_accounts=(DesiredSubAccount("cn-main", "a"),))
    plan = make_plan(Desired(minimax={"cn-main": group}), {}, datetime(2026, 11, 1, tzinfo=UTC))
    return plan_to_dict(plan)


VALID_PLAN = _valid_plan()


@BOUNDED
@given(plan_document(VALID_PLAN))
def test_any_saved_plan_file_is_read_or_refused_with_a_plan_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory, "p.json")
        path.write_bytes(data)
        try:
            load_saved_plan(str(path))
        except PlanError as refused:
            str(refused).encode()


def _answering(body: bytes) -> httpx.Client:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    return httpx.Client(base_url="http://127.0.0.1:9", transport=transport)


@BOUNDED
@given(create_answer())
def test_any_create_answer_gives_an_account_or_a_provider_error_never_a_secret(
    body: bytes,
) -> None:
    provider = MinimaxProvider(
        base_url="http://127.0.0.1:9",
        group_id="1687256519302470",
        api_key="k",
        api_key_env="MINIMAX_API_KEY",
        policy=ONE_TRY,
        client=_answering(body),
    )
    try:
        created = provider.create("ci-bot")
    except ProviderError as refused:
        message = str(refused)
        assert SECRET_TOKEN not in message and SECRET_PASSWORD not in message
        message.encode()
    else:
        assert created.subject_id.isascii() and created.subject_id.isdigit()
        created.token.encode()
    finally:
        provider.close()


@BOUNDED
@given(xai_limits_answer())
def test_any_xai_limits_answer_gives_exact_limits_or_a_provider_error(body: bytes) -> None:
    provider = XaiProvider(
        base_url="http://127.0.0.1:9",
        team_id="t-1",
        management_key="k",
        key_env="XAI_KEY",
        policy=ONE_TRY,
        client=_answering(body),
    )
    try:
        limits = provider.spending_limits()
    except ProviderError as refused:
        str(refused).encode()
    else:
        assert all(
            isinstance(amount, Decimal) and amount == amount.quantize(Decimal("0.01"))
            for amount in (limits.soft, limits.effective, limits.hard)
        )
    finally:
        provider.close()
