"""The one HTTP policy every provider uses: timeouts, retries, backoff, Retry-After.

Providers describe a call and how to read its answer (``interpret``); this module sends
it, retries what is safe (HTTP 429 and 5xx, timeouts, dropped connections, and whatever
``interpret`` marks ``retryable`` such as MiniMax rate-limit codes) with exponential
backoff and jitter, honours ``Retry-After``, and never logs a body or header: answers
may carry secrets, requests carry the API key. An answer that may have been executed but
never arrived (a timeout, a dropped connection, a 5xx) marks the error it finally raises
``answer_lost``, even when a later attempt was refused: that refusal may be of the
request's own earlier success.
"""

from __future__ import annotations

import email.utils
import json
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from reconciler import __version__
from reconciler.errors import ProviderError
from reconciler.fsutil import too_deep
from reconciler.providers.bounded import (
    MAX_ANSWER_BYTES,
    AnswerTooLarge,
    bounded_transport,
    call_bounds,
    time_left,
)

if TYPE_CHECKING:
    import httpx

T = TypeVar("T")

USER_AGENT = f"reconciler/{__version__}"


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 120.0  # a longer Retry-After ends the call rather than retry early
    timeout: float = 30.0  # for each read; a call as a whole has ``deadline``
    deadline: float = 120.0  # one call: every attempt, every read and every wait between
    connections: int = 20  # keep-alive connections per host: at least the requests in flight


DEFAULT_POLICY = RetryPolicy()

_stopping = threading.Event()
_abandoned = threading.Event()


def request_stop() -> None:
    """Ctrl-C, SIGTERM or SIGHUP: calls in flight get no further attempt, waits end now."""
    _stopping.set()


def abandon_calls() -> None:
    """The grace period after a stop is over: no call is sent any more, by any thread."""
    _stopping.set()
    _abandoned.set()


def clear_stop() -> None:
    """A new command starts (tests run several in one process)."""
    _stopping.clear()
    _abandoned.clear()


def new_client(base_url: str, policy: RetryPolicy = DEFAULT_POLICY) -> httpx.Client:
    """An httpx client for one provider host; thread-safe, shared by parallel changes."""
    import httpx  # lazy: ~200 ms of import the CLI's --help should not pay

    plain_http = base_url.startswith("http://")  # loopback only (schema): no TLS context to build
    connections = max(1, policy.connections)
    # The pool's limits belong to the transport: a Client given a transport ignores its own.
    limits = httpx.Limits(
        max_connections=max(connections, 100), max_keepalive_connections=connections
    )
    return httpx.Client(
        base_url=base_url,
        transport=bounded_transport(httpx.HTTPTransport(verify=not plain_http, limits=limits)),
        timeout=httpx.Timeout(policy.timeout, connect=10.0),
        # Uncompressed, so the size cap is on what is parsed (no gzip bomb).
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
        follow_redirects=False,
    )


class ProviderClient:
    """What every provider client shares: one host's httpx client under the one HTTP policy.

    Subclasses describe calls (URL, auth, how to read the answer) and hand them to ``_send``;
    tests may pass their own ``client`` (an ``httpx.MockTransport``) and ``sleep``.
    """

    def __init__(
        self,
        base_url: str,
        policy: RetryPolicy = DEFAULT_POLICY,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.base_url = base_url
        self._policy = policy
        self._client = client or new_client(base_url, policy)
        self._sleep = sleep

    def close(self) -> None:
        self._client.close()

    def _send(
        self,
        request: Callable[[], httpx.Response],
        interpret: Callable[[httpx.Response], T],
        describe: str,
        max_bytes: int = MAX_ANSWER_BYTES,
    ) -> T:
        return send(
            self._client, request, interpret, describe, self._policy, self._sleep, max_bytes
        )


def send(
    client: httpx.Client,
    request: Callable[[], httpx.Response],
    interpret: Callable[[httpx.Response], T],
    describe: str,
    policy: RetryPolicy = DEFAULT_POLICY,
    sleep: Callable[[float], None] | None = None,
    max_bytes: int = MAX_ANSWER_BYTES,
) -> T:
    """Run ``request`` until ``interpret`` accepts its answer or retrying stops making sense.

    The whole call, retries and waits included, ends by ``policy.deadline``; an answer
    larger than ``max_bytes`` is refused; after ``request_stop()`` nothing is retried, and
    after ``abandon_calls()`` nothing is sent.
    """
    answer_lost = False
    attempts = max(1, policy.attempts)  # with 0 there would be no error to raise
    if _abandoned.is_set():
        raise ProviderError(f"{describe}: not sent: reconciler is exiting")
    with call_bounds(policy.deadline, max_bytes):
        for attempt in range(1, attempts + 1):
            outcome = _attempt(request, interpret, describe)
            if not isinstance(outcome, ProviderError):
                return outcome
            error = outcome
            answer_lost = answer_lost or error.answer_lost
            if not error.retryable or attempt == attempts:
                if error.retryable and attempt > 1:  # say it was not a one-off
                    error = _ended(error, f"gave up after {attempt} attempts", retryable=True)
                break
            if error.retry_after is not None and error.retry_after > policy.max_retry_after:
                error = _too_long_to_wait(error, policy)
                break
            delay = _delay(policy, attempt, error.retry_after)
            stop = _why_not_retry(delay, policy)
            if stop:
                error = _ended(error, stop)
                break
            (sleep or _stopping.wait)(delay)
    if answer_lost and not error.answer_lost:
        error.answer_lost = True
    raise error


def _attempt(
    request: Callable[[], httpx.Response],
    interpret: Callable[[httpx.Response], T],
    describe: str,
) -> T | ProviderError:
    """One attempt: the interpreted answer, or the error it ended in (never raised here)."""
    import httpx

    try:
        return interpret(request())
    except httpx.ConnectError as exc:
        return ProviderError(f"{describe}: cannot connect ({_reason(exc)})", retryable=True)
    except httpx.TimeoutException as exc:
        sent = not isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout)
        return ProviderError(
            f"{describe}: timed out ({type(exc).__name__})", retryable=True, answer_lost=sent
        )
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
        return ProviderError(
            f"{describe}: connection dropped ({_reason(exc)})", retryable=True, answer_lost=True
        )
    except AnswerTooLarge as exc:
        return ProviderError(
            f"{describe}: the answer is larger than {exc.limit // (1024 * 1024)} MiB, more than "
            "any answer this call should have; it was not read",
            answer_lost=True,
        )
    except httpx.HTTPError as exc:
        # Not its text: a LocalProtocolError quotes the offending header, the API key.
        return ProviderError(f"{describe}: HTTP failure ({type(exc).__name__})")
    except ProviderError as exc:
        return exc


def _why_not_retry(delay: float, policy: RetryPolicy) -> str | None:
    """Why the next attempt will not happen: a stop was asked for, or no time is left."""
    if _stopping.is_set():
        return "not retried: reconciler is stopping"
    left = time_left()
    if left is not None and delay >= left:
        return f"gave up after the call's {policy.deadline:.0f}s deadline"
    return None


def _ended(error: ProviderError, why: str, *, retryable: bool = False) -> ProviderError:
    """``error`` with why no further attempt was made (``retryable``: it was transient)."""
    message = str(error).removesuffix(f" (Trace-Id {error.trace_id})" if error.trace_id else "")
    return ProviderError(
        f"{message}; {why}",
        code=error.code,
        trace_id=error.trace_id,
        retryable=retryable,
        answer_lost=error.answer_lost,
        retry_after=error.retry_after,
    )


def http_status_error(response: httpx.Response, describe: str, detail: str = "") -> ProviderError:
    """A ProviderError for a non-2xx answer: 429 and 5xx are retryable.

    A 5xx (a gateway's 502 or 504 above all) may come after the call was executed, so for
    a create its outcome is unknown: it counts as a lost answer.
    """
    status = response.status_code
    extra = f": {detail}" if detail else ""
    return ProviderError(
        f"{describe}: HTTP {status}{extra}",
        code=status,
        trace_id=response.headers.get("Trace-Id"),
        retryable=status == 429 or status >= 500,
        answer_lost=status >= 500,
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
    )


def parse_json(response: httpx.Response, describe: str, *, money: bool = False) -> Any:
    """The answer's JSON, or a clear provider error naming what came back instead.

    With ``money``, JSON numbers with a fraction arrive as ``Decimal``, never as float:
    money stays exact from the wire to the screen.
    """
    try:
        value = json.loads(response.content, parse_float=Decimal) if money else response.json()
    except (ValueError, RecursionError):
        return _malformed(response, describe)
    if too_deep(value):
        return _malformed(response, describe)
    return value


def _malformed(response: httpx.Response, describe: str) -> Any:
    """A garbled answer (truncated, an HTML error page, nested past reason) is retried: a
    read or a status write is safe to repeat, and a repeated create is refused as a
    duplicate (no twin), which reports the account as created without its id."""
    kind = response.headers.get("Content-Type", "no content type")[:60]
    raise ProviderError(
        f"{describe}: the provider's answer is not valid JSON (HTTP {response.status_code}, {kind}, "
        f"{len(response.content)} bytes)",
        trace_id=response.headers.get("Trace-Id"),
        retryable=response.is_success,
        # A 2xx says the call ran: what it created or issued is in an answer we cannot read.
        answer_lost=response.is_success,
    )


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def _too_long_to_wait(error: ProviderError, policy: RetryPolicy) -> ProviderError:
    """Retrying before the provider allows would only be refused again: stop and say when."""
    return _ended(
        error,
        f"the provider asks to wait {error.retry_after:.0f}s before retrying, longer than "
        f"reconciler waits ({policy.max_retry_after:.0f}s): run again later",
    )


def _delay(policy: RetryPolicy, attempt: int, retry_after: float | None) -> float:
    if retry_after is not None:
        return retry_after
    backoff = min(policy.max_delay, policy.base_delay * 2.0 ** (attempt - 1))
    return backoff * random.uniform(0.5, 1.0)


def _reason(exc: Exception) -> str:
    return str(exc) or type(exc).__name__
