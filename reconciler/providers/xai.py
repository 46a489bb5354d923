"""xAI Management API client: the team's postpaid spending limits and its invoice preview.

A thin map of the billing endpoints onto Python calls, written from xAI's reference (see
``shared/providers/xai.md``). Money on this API is USD cents as a string, usually wrapped
(``{"val": "50000"}`` is $500.00); it becomes ``Decimal`` dollars here and is never a float.
Errors are non-2xx answers with a JSON body ``{"code": "...", "error": "..."}``: a 401 is a
key xAI does not accept, a 403 a key without billing permission for the team, both named
with the variable that holds the key. 429 and 5xx are retried by the one HTTP policy.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from reconciler.errors import ProviderError
from reconciler.model import Desired
from reconciler.providers.http import (
    DEFAULT_POLICY,
    RetryPolicy,
    http_status_error,
    new_client,
    parse_json,
    send,
)

if TYPE_CHECKING:
    import httpx

CENT = Decimal("0.01")
_WHOLE_CENTS = re.compile(r"-?[0-9]{1,20}")
_MESSAGE_MAX = 300


@dataclass(frozen=True)
class SpendingLimits:
    """A team's postpaid monthly limits in dollars, as ``GET spending-limits`` reports them.

    ``soft`` is the user-set limit (0 until set), ``effective`` what xAI enforces now,
    ``hard`` the most the soft limit may be set to (the hard limit in force).
    """

    soft: Decimal
    effective: Decimal
    hard: Decimal
    hard_auto: Decimal
    override: Decimal | None = None


class XaiProvider:
    """Billing calls for one team with one management key."""

    def __init__(
        self,
        *,
        base_url: str,
        team_id: str,
        management_key: str,
        key_env: str,
        policy: RetryPolicy = DEFAULT_POLICY,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.base_url = base_url
        self.team_id = team_id
        self.key_env = key_env
        self._key = management_key
        self._policy = policy
        self._client = client or new_client(base_url, policy)
        self._sleep = sleep

    def close(self) -> None:
        self._client.close()

    def spending_limits(self) -> SpendingLimits:
        what = "read spending limits"
        answer = self._call("GET", "postpaid/spending-limits", what)
        limits = answer.get("spendingLimits")
        if not isinstance(limits, dict):
            raise self._unexpected(what, "no spendingLimits object")
        soft = _cents(limits.get("softSl"))
        effective = _cents(limits.get("effectiveSl"))
        hard_auto = _cents(limits.get("hardSlAuto"))
        effective_hard = _cents(limits.get("effectiveHardSl"))
        override = _cents(limits.get("hardSlOverride"))
        if soft is None or (hard_auto is None and effective_hard is None):
            raise self._unexpected(what, "softSl or the hard limit is missing or not an amount")
        hard = effective_hard if effective_hard is not None else hard_auto
        assert hard is not None, "one of them is present (checked above)"
        return SpendingLimits(
            soft=soft,
            effective=effective if effective is not None else min(soft, hard),
            hard=hard,
            hard_auto=hard_auto if hard_auto is not None else hard,
            override=override,
        )

    def set_soft_limit(self, amount: Decimal) -> Decimal:
        """Set the monthly soft limit; returns what xAI says the limit now is."""
        what = f"set the spending limit to ${amount:,.2f}"
        body = {"desiredSoftSpendingLimit": {"val": str(to_cents(amount))}}
        answer = self._call("POST", "postpaid/spending-limits", what, json=body)
        confirmed = _cents(answer.get("thisBpSoftSpendingLimit"))
        if confirmed is None:
            raise self._unexpected(what, "no thisBpSoftSpendingLimit in the answer")
        return confirmed

    def month_spend(self) -> Decimal | None:
        """This billing period's postpaid spend from the invoice preview; None if not shown."""
        answer = self._call("GET", "postpaid/invoice/preview", "read the invoice preview")
        invoice = answer.get("coreInvoice")
        if not isinstance(invoice, dict):
            return None
        return _cents(invoice.get("amountAfterVat"))

    def _call(self, method: str, path: str, describe: str, *, json: Any = None) -> dict[str, Any]:
        what = f"xAI {describe} (team {self.team_id})"
        url = f"/v1/billing/teams/{quote(self.team_id, safe='')}/{path}"
        headers = {"Authorization": f"Bearer {self._key}"}

        def request() -> httpx.Response:
            return self._client.request(method, url, json=json, headers=headers)

        def interpret(response: httpx.Response) -> dict[str, Any]:
            return self._interpret(response, what)

        extra = {"sleep": self._sleep} if self._sleep else {}
        return send(self._client, request, interpret, what, self._policy, **extra)

    def _interpret(self, response: httpx.Response, what: str) -> dict[str, Any]:
        if not response.is_success:
            raise self._refusal(response, what)
        answer = parse_json(response, what, money=True)
        if not isinstance(answer, dict):
            raise self._unexpected(what, "the answer is not a JSON object")
        return answer

    def _refusal(self, response: httpx.Response, what: str) -> ProviderError:
        status = response.status_code
        detail = _error_detail(response)
        if status == 401:
            return ProviderError(
                f"{what}: the management key in {self.key_env} was refused (HTTP 401{detail}); "
                "check that the variable holds a current xAI management key",
                code=status,
            )
        if status == 403:
            return ProviderError(
                f"{what}: the management key in {self.key_env} may not manage billing of team "
                f"{self.team_id} (HTTP 403{detail}); give the key billing read/write permission "
                "for this team in the xAI console, or check team_id",
                code=status,
            )
        if status == 404:
            return ProviderError(
                f"{what}: team {self.team_id} was not found (HTTP 404{detail}); check team_id",
                code=status,
            )
        return http_status_error(response, what, detail.removeprefix(": "))

    def _unexpected(self, describe: str, problem: str) -> ProviderError:
        """An answer that parsed but does not say what the API documents."""
        if not describe.startswith("xAI "):
            describe = f"xAI {describe} (team {self.team_id})"
        return ProviderError(f"{describe}: unexpected answer: {problem}")


def to_cents(amount: Decimal) -> int:
    """Dollars to whole cents; the config allows 2 decimals at most, so this is exact."""
    return int((amount / CENT).to_integral_value())


def _cents(value: Any) -> Decimal | None:
    """``{"val": "50000"}``, ``"50000"`` or ``50000`` cents as dollars; None if not an amount.

    Whole cents only, written as digits: a fraction, an exponent or a float is not what
    the API documents, and money is never guessed.
    """
    if isinstance(value, dict):
        value = value.get("val")
    if isinstance(value, str) and _WHOLE_CENTS.fullmatch(value.strip()):
        return (Decimal(value.strip()) * CENT).quantize(CENT)
    if isinstance(value, int) and not isinstance(value, bool):
        return (Decimal(value) * CENT).quantize(CENT)
    return None


def _error_detail(response: httpx.Response) -> str:
    """``: <code>: <message>`` from an xAI error body, one line, never more than the message."""
    try:
        body = response.json()
    except (ValueError, RecursionError):
        return ""
    if not isinstance(body, dict):
        return ""
    code, error = (" ".join(str(body.get(key) or "").split()) for key in ("code", "error"))
    # ``code`` is sometimes a status name ("PermissionDenied"), sometimes the same sentence.
    text = f"{code}: {error}" if code and error and code not in error and len(code) <= 40 else ""
    text = text or error or code
    return f": {text[:_MESSAGE_MAX]}" if text else ""


class _XaiFactory:
    """Builds the client of one ``xai.ALIAS`` team for a ``ProviderPool``."""

    name = "xai"

    def __call__(
        self, config: Desired, alias: str, credentials: Mapping[str, str], policy: RetryPolicy
    ) -> XaiProvider:
        team = config.xai[alias]
        return XaiProvider(
            base_url=team.base_url,
            team_id=team.team_id,
            management_key=credentials[team.management_key_env],
            key_env=team.management_key_env,
            policy=policy,
        )


XAI = _XaiFactory()
