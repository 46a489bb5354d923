"""useapi.net client: the credits of a MiniMax account configured there (read only).

A thin map of ``GET /v1/minimax/features/?account=A`` (seed ``001_...``,
``shared/providers/useapi.md``) onto one call: ``totalCredits`` and the credits that
expire, from ``creditExpireText[]{credit, endTime (unix ms)}``. ``account`` may be left
out when the token has exactly one account configured. Errors are ``{"error", "code"}``
with HTTP 400 (a missing or unknown account) or 401 (a token useapi.net does not
accept); each becomes one line naming the config section, the account and the
variable that holds the token, never the token. 429 and 5xx are retried by the one HTTP
policy. Credits are numbers on the wire, parsed as ``Decimal`` on arrival.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeGuard

from reconciler.errors import ProviderError
from reconciler.model import Desired
from reconciler.providers.amounts import wire_amount
from reconciler.providers.http import (
    DEFAULT_POLICY,
    ProviderClient,
    RetryPolicy,
    http_status_error,
    parse_json,
)

if TYPE_CHECKING:
    import httpx

_MESSAGE_MAX = 300


@dataclass(frozen=True)
class Credits:
    """An account's credits; ``expiring`` lists ``(credits, when)`` that lapse at a time."""

    total: Decimal
    expiring: tuple[tuple[Decimal, datetime], ...] = ()

    def expiring_within(self, start: datetime, end: datetime) -> Decimal:
        """Credits that lapse from ``start`` up to (not including) ``end``."""
        soon = (credit for credit, when in self.expiring if start <= when < end)
        return sum(soon, Decimal(0))


class UseapiProvider(ProviderClient):
    """Credit reads with one useapi.net token (a ``useapi.ALIAS`` section)."""

    def __init__(
        self,
        *,
        base_url: str,
        token: str,
        token_env: str,
        alias: str,
        policy: RetryPolicy = DEFAULT_POLICY,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        super().__init__(base_url, policy, client, sleep)
        self.token_env = token_env
        self.alias = alias
        self._token = token

    def credits(self, account: str | None) -> Credits:
        """The credits of ``account`` (None: the token's only account)."""
        named = f"account {account}" if account else "the only account"
        what = f"useapi.net read credits of {named} (useapi.{self.alias})"
        params = {"account": account} if account else {}
        headers = {"Authorization": f"Bearer {self._token}"}

        def request() -> httpx.Response:
            return self._client.get("/v1/minimax/features/", params=params, headers=headers)

        def interpret(response: httpx.Response) -> Credits:
            return self._interpret(response, what, named=account is not None)

        return self._send(request, interpret, what)

    def _interpret(self, response: httpx.Response, what: str, named: bool) -> Credits:
        if not response.is_success:
            raise self._refusal(response, what, named)
        answer = parse_json(response, what, money=True)
        if not isinstance(answer, dict):
            raise ProviderError(f"{what}: unexpected answer: not a JSON object")
        try:
            return read_credits(answer)
        except ValueError as exc:
            raise ProviderError(f"{what}: unexpected answer: {exc}") from None

    def _refusal(self, response: httpx.Response, what: str, named: bool) -> ProviderError:
        status, detail = response.status_code, _error_detail(response)
        if status == 401:
            return ProviderError(
                f"{what}: the token in {self.token_env} was refused (HTTP 401{detail}); check "
                "that the variable holds your useapi.net API token",
                code=status,
            )
        if status == 400:
            advice = (
                "check the account's email as configured at useapi.net"
                if named
                else "with several accounts configured at useapi.net, name the one to read "
                "in the check's `account:`"
            )
            return ProviderError(f"{what}: refused (HTTP 400{detail}); {advice}", code=status)
        return http_status_error(response, what, detail.removeprefix(": "))


def read_credits(answer: Mapping[str, Any]) -> Credits:
    """``totalCredits`` (or ``totalCreditsStr``) and ``creditExpireText``; ValueError if absent."""
    total = wire_amount(answer.get("totalCredits"))
    if total is None:
        total = wire_amount(answer.get("totalCreditsStr"))
    if total is None:
        raise ValueError("no totalCredits")
    expiring = []
    entries = answer.get("creditExpireText") or []
    if not isinstance(entries, list):
        raise ValueError("creditExpireText is not a list")
    for item in entries:
        credit = wire_amount(item.get("credit")) if isinstance(item, dict) else None
        end = item.get("endTime") if isinstance(item, dict) else None
        if credit is None or not _milliseconds(end):
            raise ValueError("a creditExpireText entry is not {credit, endTime}")
        expiring.append((credit, datetime.fromtimestamp(end / 1000, UTC)))
    return Credits(total, tuple(sorted(expiring, key=lambda item: item[1])))


_LAST_MS = 253402300799999  # 9999-12-31T23:59:59.999Z, the last moment a datetime holds


def _milliseconds(value: Any) -> TypeGuard[int]:
    """Whether ``value`` is a time in unix milliseconds that a datetime can hold."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _LAST_MS


def _error_detail(response: httpx.Response) -> str:
    """``: <error>`` from useapi's ``{"error", "code"}`` body, one line, cut short."""
    try:
        body = response.json()
    except (ValueError, RecursionError):
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    text = " ".join(str(error).split()) if error else ""
    return f": {text[:_MESSAGE_MAX]}" if text else ""


class _UseapiFactory:
    """Builds the client of one ``useapi.ALIAS`` section for a ``ProviderPool``."""

    name = "useapi"

    def __call__(
        self, config: Desired, alias: str, credentials: Mapping[str, str], policy: RetryPolicy
    ) -> UseapiProvider:
        section = config.useapi[alias]
        return UseapiProvider(
            base_url=section.base_url,
            token=credentials[section.token_env],
            token_env=section.token_env,
            alias=alias,
            policy=policy,
        )


USEAPI = _UseapiFactory()
