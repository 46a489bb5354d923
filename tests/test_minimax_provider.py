"""MinimaxProvider against the sandbox over real loopback HTTP.

Each test starts a fresh Sandbox and a provider with a fast retry policy. Sleeps between
retries are recorded instead of slept, so the tests can check the backoff without
waiting for it. What is pinned down: every call does what the API document says, errors
carry the code, ``status_msg`` and ``Trace-Id``, only what is safe is retried, a lost
answer is reported as such (and never produces a twin account), and no secret ever
reaches an error message.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from reconciler.errors import ProviderError
from reconciler.model import Status
from reconciler.providers.http import RetryPolicy, parse_retry_after
from reconciler.providers.minimax import MinimaxProvider
from reconciler.sandbox import SANDBOX_MINIMAX_API_KEY, SANDBOX_MINIMAX_GROUP_ID, Sandbox

GROUP = SANDBOX_MINIMAX_GROUP_ID
KEY = SANDBOX_MINIMAX_API_KEY
OTHER_GROUP = "1690536709939485"
OTHER_KEY = "other-group-key"
POLICY = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05, timeout=2.0)
TRACE_ID = re.compile(r"\(Trace-Id [0-9a-f]{32}\)")


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    with Sandbox(minimax_keys={KEY: GROUP, OTHER_KEY: OTHER_GROUP}) as server:
        yield server


@pytest.fixture
def sleeps() -> list[float]:
    """The delays the provider asked to sleep between attempts, in order."""
    return []


@pytest.fixture
def make_provider(sb: Sandbox, sleeps: list[float]) -> Iterator[Callable[..., MinimaxProvider]]:
    """Build providers against the sandbox; every one is closed after the test."""
    made: list[MinimaxProvider] = []

    def make(
        *, api_key: str = KEY, group_id: str = GROUP, policy: RetryPolicy = POLICY
    ) -> MinimaxProvider:
        provider = MinimaxProvider(
            base_url=sb.url,
            group_id=group_id,
            api_key=api_key,
            api_key_env="MINIMAX_API_KEY",
            policy=policy,
            sleep=sleeps.append,
        )
        made.append(provider)
        return provider

    yield make
    for provider in made:
        provider.close()


@pytest.fixture
def provider(make_provider: Callable[..., MinimaxProvider]) -> MinimaxProvider:
    return make_provider()


def accounts(sb: Sandbox, group: str = GROUP) -> dict[str, dict]:
    return {a["account_name"]: a for a in sb.minimax_accounts(group)}


def calls(sb: Sandbox, method: str, path: str = "/v1/sub_account") -> int:
    return sum(1 for r in sb.requests if r["method"] == method and r["path"] == path)


# -- the calls do what the API says --


def test_create_returns_subject_id_account_password_and_token(
    sb: Sandbox, provider: MinimaxProvider
) -> None:
    created = provider.create("ci-bot")

    live = accounts(sb)["ci-bot"]
    assert created.subject_id == live["subject_id"]
    assert created.account == f"ci-bot@{GROUP}"
    assert created.password and created.password == live["password"]
    assert created.token and created.token == live["token"]
    assert live["status"] == 0


def test_create_sends_group_id_and_bearer_key(sb: Sandbox, provider: MinimaxProvider) -> None:
    provider.create("ci-bot")

    (request,) = sb.requests
    assert request["query"] == {"GroupId": GROUP}


def test_create_accepts_a_chinese_name(sb: Sandbox, provider: MinimaxProvider) -> None:
    created = provider.create("测试账号")

    assert accounts(sb)["测试账号"]["subject_id"] == created.subject_id
    assert created.account == f"测试账号@{GROUP}"


def test_set_status_disabled_then_enabled_is_seen_by_the_provider(
    sb: Sandbox, provider: MinimaxProvider
) -> None:
    created = provider.create("ci-bot")

    provider.set_status(created.subject_id, Status.DISABLED)
    assert accounts(sb)["ci-bot"]["status"] == 2
    provider.set_status(created.subject_id, Status.ENABLED)
    assert accounts(sb)["ci-bot"]["status"] == 0


def test_rotate_token_returns_a_new_token_the_provider_now_holds(
    sb: Sandbox, provider: MinimaxProvider
) -> None:
    created = provider.create("ci-bot")

    token = provider.rotate_token(created.subject_id)

    assert token != created.token
    assert accounts(sb)["ci-bot"]["token"] == token


def test_delete_removes_the_account(sb: Sandbox, provider: MinimaxProvider) -> None:
    created = provider.create("ci-bot")
    kept = provider.create("kept")

    provider.delete(created.subject_id)

    assert list(accounts(sb)) == ["kept"]
    assert accounts(sb)["kept"]["subject_id"] == kept.subject_id


def test_a_deleted_name_can_be_created_again(sb: Sandbox, provider: MinimaxProvider) -> None:
    first = provider.create("ci-bot")
    provider.delete(first.subject_id)

    second = provider.create("ci-bot")

    assert second.subject_id != first.subject_id
    assert accounts(sb)["ci-bot"]["subject_id"] == second.subject_id


def test_bills_returns_the_rows_in_the_date_range(sb: Sandbox, provider: MinimaxProvider) -> None:
    def at(day: str) -> int:
        return int(datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()) + 3600

    for day, cash in [("2026-07-31", "1.00"), ("2026-08-01", "2.50"), ("2026-08-31", "3.25")]:
        sb.add_minimax_bill(GROUP, {"created_at": at(day), "consume_cash": cash, "model": "abab"})
    sb.add_minimax_bill(GROUP, {"created_at": at("2026-09-01"), "consume_cash": "9.00"})

    rows = provider.bills(date(2026, 8, 1), date(2026, 8, 31))

    assert [row.cash for row in rows] == [Decimal("2.50"), Decimal("3.25")]
    (request,) = sb.requests
    assert request["query"] == {"GroupId": GROUP, "start_date": "20260801", "end_date": "20260831"}


def test_bills_of_an_empty_range_is_an_empty_list(provider: MinimaxProvider) -> None:
    assert provider.bills(date(2026, 8, 1), date(2026, 8, 31)) == []


# -- errors say what happened, with code, status_msg and Trace-Id --


def test_unknown_subject_id_shows_code_status_msg_and_trace_id(
    sb: Sandbox, provider: MinimaxProvider
) -> None:
    with pytest.raises(ProviderError) as caught:
        provider.set_status("1000000000000000000", Status.DISABLED)

    error = caught.value
    assert error.code == 2013
    assert not error.retryable
    assert error.trace_id and re.fullmatch(r"[0-9a-f]{32}", error.trace_id)
    message = str(error)
    assert "code 2013" in message
    assert "sub account not found" in message
    assert f"(Trace-Id {error.trace_id})" in message
    assert "1000000000000000000" in message
    assert calls(sb, "PUT", "/v1/sub_account/1000000000000000000/status") == 1


def test_rotate_and_delete_of_an_unknown_id_are_refused_with_2013(
    provider: MinimaxProvider,
) -> None:
    for call in (provider.rotate_token, provider.delete):
        with pytest.raises(ProviderError) as caught:
            call("1000000000000000000")
        assert caught.value.code == 2013


def test_duplicate_name_is_refused_with_2013_and_sent_once(
    sb: Sandbox, provider: MinimaxProvider
) -> None:
    provider.create("ci-bot")

    with pytest.raises(ProviderError) as caught:
        provider.create("ci-bot")

    assert caught.value.code == 2013
    assert not caught.value.retryable
    assert not caught.value.answer_lost
    assert "already exists" in str(caught.value)
    assert "'ci-bot'" in str(caught.value)
    assert calls(sb, "POST") == 2
    assert len(accounts(sb)) == 1


def test_wrong_api_key_names_the_env_var_and_says_authorization(
    make_provider: Callable[..., MinimaxProvider], sb: Sandbox, sleeps: list[float]
) -> None:
    provider = make_provider(api_key="not-the-key")

    with pytest.raises(ProviderError) as caught:
        provider.create("ci-bot")

    message = str(caught.value)
    assert caught.value.code == 1004
    assert "MINIMAX_API_KEY" in message
    assert "authorization failed" in message
    assert GROUP in message
    assert sb.url in message  # the key may belong to the other region's host
    assert "not-the-key" not in message
    assert not caught.value.retryable
    assert calls(sb, "POST") == 1
    assert sleeps == []
    assert accounts(sb) == {}


def test_key_of_another_group_is_refused_with_1004(
    make_provider: Callable[..., MinimaxProvider], sb: Sandbox
) -> None:
    provider = make_provider(api_key=OTHER_KEY)

    with pytest.raises(ProviderError) as caught:
        provider.create("ci-bot")

    assert caught.value.code == 1004
    assert "token not match group" in str(caught.value)
    assert "MINIMAX_API_KEY" in str(caught.value)
    assert accounts(sb) == {} and accounts(sb, OTHER_GROUP) == {}


def test_http_401_is_an_authorization_error_and_not_retried(
    sb: Sandbox, provider: MinimaxProvider
) -> None:
    sb.add_fault("POST", kind="http_status", http_status=401, retry_after=None)

    with pytest.raises(ProviderError) as caught:
        provider.create("ci-bot")

    assert "authorization failed" in str(caught.value)
    assert "MINIMAX_API_KEY" in str(caught.value)
    assert calls(sb, "POST") == 1


# -- retries: what is safe, with backoff and Retry-After --


def test_429_with_retry_after_is_retried_after_the_time_it_asks(
    sb: Sandbox, provider: MinimaxProvider, sleeps: list[float]
) -> None:
    sb.add_fault("POST", kind="http_status", http_status=429, retry_after=0.125)

    created = provider.create("ci-bot")

    assert calls(sb, "POST") == 2
    assert sleeps == [0.125]
    assert accounts(sb)["ci-bot"]["subject_id"] == created.subject_id


def test_retry_after_beyond_what_reconciler_waits_ends_the_call_with_when_to_retry(
    sb: Sandbox, provider: MinimaxProvider, sleeps: list[float]
) -> None:
    sb.add_fault("POST", kind="http_status", http_status=429, retry_after=3600)

    with pytest.raises(ProviderError) as caught:
        provider.create("ci-bot")

    assert sleeps == []
    assert calls(sb, "POST") == 1
    assert "asks to wait 3600s" in str(caught.value) and "run again later" in str(caught.value)
    assert caught.value.code == 429 and caught.value.retryable is False


def test_retries_really_sleep_by_default(sb: Sandbox) -> None:
    sb.add_fault("POST", kind="http_status", http_status=429, retry_after=0.2)
    provider = MinimaxProvider(
        base_url=sb.url, group_id=GROUP, api_key=KEY, api_key_env="MINIMAX_API_KEY", policy=POLICY
    )
    try:
        started = time.monotonic()
        provider.create("ci-bot")
        assert time.monotonic() - started >= 0.19
    finally:
        provider.close()


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_retried_with_backoff(
    sb: Sandbox, provider: MinimaxProvider, sleeps: list[float], status: int
) -> None:
    sb.add_fault("POST", kind="http_status", http_status=status, retry_after=None, times=2)

    provider.create("ci-bot")

    assert calls(sb, "POST") == 3
    assert len(sleeps) == 2
    assert all(0 < delay <= POLICY.max_delay for delay in sleeps)
    assert len(accounts(sb)) == 1


@pytest.mark.parametrize("code", [1000, 1001, 1002, 1024, 1033, 1039, 2045])
def test_rate_limit_and_transient_codes_are_retried(
    sb: Sandbox, provider: MinimaxProvider, sleeps: list[float], code: int
) -> None:
    sb.add_fault("POST", kind="base_resp", code=code)

    created = provider.create("ci-bot")

    assert calls(sb, "POST") == 2
    assert len(sleeps) == 1
    assert accounts(sb)["ci-bot"]["subject_id"] == created.subject_id


def test_exhausted_attempts_raise_a_retryable_error(
    sb: Sandbox, provider: MinimaxProvider, sleeps: list[float]
) -> None:
    sb.add_fault("POST", kind="base_resp", code=1002, times=None)

    with pytest.raises(ProviderError) as caught:
        provider.create("ci-bot")

    assert caught.value.retryable
    assert not caught.value.answer_lost  # a rate limit refuses the call before it runs
    assert caught.value.code == 1002
    assert "rate limit" in str(caught.value)
    assert f"gave up after {POLICY.attempts} attempts" in str(caught.value)
    assert calls(sb, "POST") == POLICY.attempts
    assert len(sleeps) == POLICY.attempts - 1
    assert accounts(sb) == {}


@pytest.mark.parametrize(
    ("fault", "lost"),
    [
        ({"kind": "base_resp", "code": 1001}, True),
        ({"kind": "base_resp", "code": 1024}, True),
        ({"kind": "http_status", "http_status": 502, "retry_after": None}, True),
        ({"kind": "base_resp", "code": 1002}, False),
        ({"kind": "http_status", "http_status": 429, "retry_after": 0}, False),
    ],
)
def test_a_refusal_after_an_attempt_of_unknown_outcome_marks_the_answer_lost(
    sb: Sandbox, provider: MinimaxProvider, sleeps: list[float], fault: dict, lost: bool
) -> None:
    # A gateway error or a MiniMax timeout may follow a create that ran: the duplicate-name
    # refusal of the retry then says the account exists, not that the name was taken.
    sb.add_fault("POST", **fault)
    sb.add_fault("POST", kind="base_resp", code=2013)

    with pytest.raises(ProviderError) as caught:
        provider.create("ci-bot")

    assert caught.value.code == 2013
    assert caught.value.answer_lost is lost


def test_backoff_grows_between_attempts(
    sb: Sandbox, make_provider: Callable[..., MinimaxProvider], sleeps: list[float]
) -> None:
    policy = RetryPolicy(attempts=4, base_delay=0.01, max_delay=10.0, timeout=2.0)
    provider = make_provider(policy=policy)
    sb.add_fault("GET", path="/v1/batch_query_bill", http_status=503, retry_after=None, times=None)

    with pytest.raises(ProviderError):
        provider.bills(date(2026, 8, 1), date(2026, 8, 31))

    # Jittered exponential backoff: attempt n waits within [base*2^(n-1)/2, base*2^(n-1)].
    assert len(sleeps) == 3
    for attempt, delay in enumerate(sleeps, start=1):
        ceiling = 0.01 * 2 ** (attempt - 1)
        assert ceiling / 2 <= delay <= ceiling


@pytest.mark.parametrize("code", [2013, 1004, 1008])
def test_fatal_codes_are_sent_once(
    sb: Sandbox, provider: MinimaxProvider, sleeps: list[float], code: int
) -> None:
    sb.add_fault("POST", kind="base_resp", code=code, times=None)

    with pytest.raises(ProviderError) as caught:
        provider.create("ci-bot")

    assert caught.value.code == code
    assert not caught.value.retryable
    assert calls(sb, "POST") == 1
    assert sleeps == []


def test_http_404_is_not_retried(sb: Sandbox, provider: MinimaxProvider) -> None:
    sb.add_fault("POST", kind="http_status", http_status=404, retry_after=None, times=None)

    with pytest.raises(ProviderError) as caught:
        provider.create("ci-bot")

    assert "HTTP 404" in str(caught.value)
    assert calls(sb, "POST") == 1


def test_a_refused_connection_is_retried_then_reported(
    make_provider: Callable[..., MinimaxProvider], sb: Sandbox, sleeps: list[float]
) -> None:
    provider = make_provider()
    sb.stop()

    with pytest.raises(ProviderError) as caught:
        provider.create("ci-bot")

    assert "cannot connect" in str(caught.value)
    assert caught.value.retryable
    assert not caught.value.answer_lost  # nothing was sent
    assert len(sleeps) == POLICY.attempts - 1


# -- lost answers: retried safely, reported honestly, never a twin --


def test_connection_dropped_before_create_is_retried_and_creates_once(
    sb: Sandbox, provider: MinimaxProvider, sleeps: list[float]
) -> None:
    sb.add_fault("POST", kind="drop_before")

    created = provider.create("ci-bot")

    assert calls(sb, "POST") == 2
    assert len(sleeps) == 1
    assert list(accounts(sb)) == ["ci-bot"]
    assert accounts(sb)["ci-bot"]["subject_id"] == created.subject_id


def test_connection_dropped_after_create_is_a_lost_answer_refused_as_duplicate(
    sb: Sandbox, provider: MinimaxProvider
) -> None:
    sb.add_fault("POST", kind="drop_after")

    with pytest.raises(ProviderError) as caught:
        provider.create("ci-bot")

    assert caught.value.answer_lost
    assert caught.value.code == 2013
    assert not caught.value.retryable
    assert "already exists" in str(caught.value)
    assert calls(sb, "POST") == 2
    assert len(sb.minimax_accounts(GROUP)) == 1  # never a twin


def test_connection_dropped_after_rotation_retries_and_returns_the_live_token(
    sb: Sandbox, provider: MinimaxProvider
) -> None:
    created = provider.create("ci-bot")
    sb.add_fault("PUT", path=r"/v1/sub_account/\d+/token", kind="drop_after")

    token = provider.rotate_token(created.subject_id)

    assert accounts(sb)["ci-bot"]["token"] == token


def test_dropped_connections_until_exhaustion_mark_the_answer_lost(
    sb: Sandbox, provider: MinimaxProvider
) -> None:
    sb.add_fault("POST", kind="drop_after", times=None)

    with pytest.raises(ProviderError) as caught:
        provider.create("ci-bot")

    assert caught.value.answer_lost
    assert calls(sb, "POST") >= 2
    assert len(sb.minimax_accounts(GROUP)) == 1


def test_latency_beyond_the_timeout_is_a_timeout_with_the_answer_lost(
    sb: Sandbox, make_provider: Callable[..., MinimaxProvider]
) -> None:
    policy = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.05, timeout=0.2)
    provider = make_provider(policy=policy)
    created = provider.create("ci-bot")
    sb.add_fault("PUT", path=r"/v1/sub_account/\d+/token", kind="latency", delay=0.5, times=None)

    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        provider.rotate_token(created.subject_id)

    assert "timed out" in str(caught.value)
    assert caught.value.answer_lost
    assert caught.value.retryable
    assert calls(sb, "PUT", f"/v1/sub_account/{created.subject_id}/token") == 2
    assert time.monotonic() - started < 1.5


def test_latency_within_the_timeout_just_succeeds(
    sb: Sandbox, provider: MinimaxProvider, sleeps: list[float]
) -> None:
    sb.add_fault("POST", kind="latency", delay=0.05)

    provider.create("ci-bot")

    assert calls(sb, "POST") == 1
    assert sleeps == []


def test_one_garbled_answer_to_a_read_is_retried(sb: Sandbox, provider: MinimaxProvider) -> None:
    sb.add_fault("GET", path="/v1/batch_query_bill", kind="malformed", times=1)

    assert provider.bills(date(2026, 8, 1), date(2026, 8, 31)) == []
    assert calls(sb, "GET", "/v1/batch_query_bill") == 2


def test_malformed_json_is_a_clear_error(sb: Sandbox, provider: MinimaxProvider) -> None:
    sb.add_fault("GET", path="/v1/batch_query_bill", kind="malformed", times=None)

    with pytest.raises(ProviderError) as caught:
        provider.bills(date(2026, 8, 1), date(2026, 8, 31))

    message = str(caught.value)
    assert "not valid JSON" in message
    assert "HTTP 200" in message
    assert TRACE_ID.search(message)
    assert calls(sb, "GET", "/v1/batch_query_bill") == POLICY.attempts  # retried, then reported


def test_malformed_answer_to_create_marks_the_answer_lost(
    sb: Sandbox, provider: MinimaxProvider
) -> None:
    # A 2xx the client cannot read means the account may exist without its id and token.
    sb.add_fault("POST", kind="malformed", times=None)

    with pytest.raises(ProviderError) as caught:
        provider.create("ci-bot")

    assert "not valid JSON" in str(caught.value)
    assert caught.value.answer_lost


# -- secrets never reach an error message --


def test_no_secret_appears_in_any_provider_error(
    sb: Sandbox, make_provider: Callable[..., MinimaxProvider]
) -> None:
    provider = make_provider()
    created = provider.create("ci-bot")
    rotated = provider.rotate_token(created.subject_id)
    errors: list[ProviderError] = []

    def expect_error(call: Callable[[], object]) -> None:
        with pytest.raises(ProviderError) as caught:
            call()
        errors.append(caught.value)

    expect_error(lambda: provider.create("ci-bot"))  # duplicate
    expect_error(lambda: provider.set_status("404", Status.DISABLED))
    expect_error(lambda: make_provider(api_key=KEY + "-typo").create("x"))
    expect_error(lambda: make_provider(api_key=OTHER_KEY).create("x"))
    sb.add_fault("POST", kind="http_status", http_status=429, times=None)
    expect_error(lambda: provider.create("other"))
    sb.clear_faults()
    sb.add_fault("POST", kind="drop_after", times=None)
    expect_error(lambda: provider.create("lost"))
    sb.clear_faults()
    sb.add_fault("PUT", path=r".*/token", kind="malformed", times=None)
    expect_error(lambda: provider.rotate_token(created.subject_id))

    secrets = [KEY, KEY + "-typo", OTHER_KEY, created.token, created.password, rotated]
    secrets += [a["token"] for a in sb.minimax_accounts(GROUP)]
    secrets += [a["password"] for a in sb.minimax_accounts(GROUP)]
    for error in errors:
        shown = f"{error} {error!r} {error.args}"
        for secret in secrets:
            assert secret not in shown


# -- Retry-After parsing --


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("120", 120.0), ("0", 0.0), ("1.5", 1.5), (" 7 ", 7.0), ("-3", 0.0)],
)
def test_parse_retry_after_reads_seconds(header: str, seconds: float) -> None:
    assert parse_retry_after(header) == seconds


def test_parse_retry_after_reads_an_http_date() -> None:
    moment = datetime.now(UTC) + timedelta(seconds=30)
    header = email.utils.format_datetime(moment, usegmt=True)

    assert parse_retry_after(header) == pytest.approx(30, abs=2)


def test_parse_retry_after_of_a_past_date_is_zero() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


@pytest.mark.parametrize("header", [None, "", "soon", "Someday, 99 Foo 2015", "1 2 3"])
def test_parse_retry_after_of_garbage_or_nothing_is_none(header: str | None) -> None:
    assert parse_retry_after(header) is None


def test_a_policy_with_zero_attempts_still_sends_once(
    sb: Sandbox, make_provider: Callable[..., MinimaxProvider]
) -> None:
    provider = make_provider(policy=RetryPolicy(attempts=0, timeout=2.0))

    provider.create("ci-bot")

    assert calls(sb, "POST") == 1


# -- answer shapes the sandbox does not produce, served by a stub transport --


def stub_provider(answers: list[dict], sleeps: list[float]) -> MinimaxProvider:
    """A provider whose HTTP client replays ``answers`` (HTTP 200 JSON), one per request."""
    pending = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        # json.dumps escapes what UTF-8 cannot carry (a lone surrogate), as a server may.
        body = json.dumps(pending.pop(0)).encode()
        headers = {"Trace-Id": "feedface", "Content-Type": "application/json"}
        return httpx.Response(200, content=body, headers=headers)

    client = httpx.Client(base_url="http://127.0.0.1:9", transport=httpx.MockTransport(handler))
    return MinimaxProvider(
        base_url="http://127.0.0.1:9",
        group_id=GROUP,
        api_key=KEY,
        api_key_env="MINIMAX_API_KEY",
        policy=POLICY,
        client=client,
        sleep=sleeps.append,
    )


OK = {"status_code": 0, "status_msg": "success"}


@pytest.mark.parametrize(
    "answer",
    [
        {"base_resp": OK, "subject_id": None, "token": "t0k"},
        {"base_resp": OK, "subject_id": "", "token": "t0k"},
        {"base_resp": OK, "subject_id": "1766027179931476045"},
        {"base_resp": OK, "subject_id": "1766027179931476045", "token": None},
        {"base_resp": OK},
    ],
)
def test_a_successful_create_without_id_or_token_is_a_lost_answer(
    answer: dict, sleeps: list[float]
) -> None:
    provider = stub_provider([answer], sleeps)
    try:
        with pytest.raises(ProviderError) as caught:
            provider.create("ci-bot")
    finally:
        provider.close()

    assert caught.value.answer_lost
    assert "without subject_id or token" in str(caught.value)


def test_a_numeric_subject_id_is_kept_exactly(sleeps: list[float]) -> None:
    answer = {"base_resp": OK, "subject_id": 1766027179931476045, "token": "t0k", "password": "p"}
    provider = stub_provider([answer], sleeps)
    try:
        created = provider.create("ci-bot")
    finally:
        provider.close()

    assert created.subject_id == "1766027179931476045"
    assert created.account == f"ci-bot@{GROUP}"


@pytest.mark.parametrize("code", [1002.0, "1002"])
def test_a_code_sent_as_float_or_text_is_still_an_error(code: object, sleeps: list[float]) -> None:
    refused = {"base_resp": {"status_code": code, "status_msg": "rate limit exceeded"}}
    provider = stub_provider([refused, {"base_resp": OK, "token": "n3w"}], sleeps)
    try:
        assert provider.rotate_token("1") == "n3w"
    finally:
        provider.close()

    assert len(sleeps) == 1  # the first answer was read as 1002 and retried


def test_a_rotation_answer_without_a_token_is_a_lost_answer(sleeps: list[float]) -> None:
    provider = stub_provider([{"base_resp": OK}], sleeps)
    try:
        with pytest.raises(ProviderError) as caught:
            provider.rotate_token("1")
    finally:
        provider.close()

    assert caught.value.answer_lost
    assert "no token in the answer" in str(caught.value)


def test_a_subject_id_is_sent_as_one_path_segment(sleeps: list[float]) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path.decode())
        return httpx.Response(200, json={"base_resp": OK})

    client = httpx.Client(base_url="http://127.0.0.1:9", transport=httpx.MockTransport(handler))
    provider = MinimaxProvider(
        base_url="http://127.0.0.1:9",
        group_id=GROUP,
        api_key=KEY,
        api_key_env="MINIMAX_API_KEY",
        client=client,
    )
    try:
        provider.delete("../1?x=1")
    finally:
        provider.close()

    assert seen == [f"/v1/sub_account/..%2F1%3Fx%3D1?GroupId={GROUP}"]


def test_a_key_no_header_can_carry_is_never_quoted_in_the_error(
    make_provider: Callable[..., MinimaxProvider],
) -> None:
    # httpx names the illegal header value, key included, in its own message.
    provider = make_provider(api_key="sk-SECRETPART1\nSECRETPART2")

    with pytest.raises(ProviderError) as caught:
        provider.create("ci-bot")

    assert "HTTP failure" in str(caught.value)
    assert "SECRETPART" not in str(caught.value)


def test_reprs_of_what_carries_a_secret_leave_it_out(provider: MinimaxProvider) -> None:
    from reconciler.secrets_command import NewSecret

    created = provider.create("ci-bot")
    secret = NewSecret("addr", created.account, created.subject_id, created.token, "now", "pw-1")

    for shown in (repr(created), repr(secret), str([created, secret])):
        assert created.token not in shown and created.password not in shown
        assert "pw-1" not in shown
        assert created.subject_id in shown


GOOD_TOKEN = "eyJhbGciOiJSUzI1NiJ9.payload.signature"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("subject_id", "abc-1"),
        ("subject_id", -5),
        ("subject_id", "１２３"),
        ("subject_id", 1.5),
        ("subject_id", True),
        ("token", "\ud800lone-surrogate-token"),
        ("token", "line\nbreak-token"),
        ("token", "x" * 100_000),
        ("token", 12345),
        ("password", "\ud800"),
        ("password", ["a", "list"]),
    ],
    ids=lambda v: repr(v)[:20],
)
def test_a_create_answer_the_state_could_not_read_back_is_a_lost_answer_never_recorded(
    field: str, value: object, sleeps: list[float]
) -> None:
    answer = {"base_resp": OK, "subject_id": "1766027179931476045", "token": GOOD_TOKEN}
    answer[field] = value
    provider = stub_provider([answer], sleeps)
    try:
        with pytest.raises(ProviderError) as caught:
            provider.create("ci-bot")
    finally:
        provider.close()

    assert caught.value.answer_lost
    message = str(caught.value)
    assert f"unusable: {field}" in message
    assert GOOD_TOKEN not in message and "lone-surrogate" not in message
    message.encode()  # printable: no surrogate reached the message


def test_a_numeric_subject_id_is_read_as_its_digits(sleeps: list[float]) -> None:
    answer = {"base_resp": OK, "subject_id": 1766027179931476045, "token": GOOD_TOKEN}
    provider = stub_provider([answer], sleeps)
    try:
        created = provider.create("ci-bot")
    finally:
        provider.close()

    assert created.subject_id == "1766027179931476045"
    assert created.password == ""
