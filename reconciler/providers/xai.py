"""xAI Management API client: a team's spending limits and billing reads.

A thin map of the billing endpoints onto Python calls, written from xAI's reference (see
``shared/providers/xai.md``). Money on this API is USD cents as a string, usually wrapped
(``{"val": "50000"}`` is $500.00); it becomes ``Decimal`` dollars here and is never a float.
Billing reads (prepaid balance, invoice preview, usage, invoices) are read by ``xai_billing``.
Errors are non-2xx answers with a JSON body ``{"code": "...", "error": "..."}``: a 401 is a
key xAI does not accept, a 403 a key without billing permission for the team, both named
with the variable that holds the key. 429 and 5xx are retried by the one HTTP policy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from reconciler.errors import ProviderError
from reconciler.model import Desired
from reconciler.providers import xai_billing
from reconciler.providers.http import (
    DEFAULT_POLICY,
    ProviderClient,
    RetryPolicy,
    http_status_error,
    parse_json,
)
from reconciler.providers.xai_billing import (
    CENT,
    BillingShapeError,
    Invoice,
    InvoicePreview,
    Usage,
    cents,
)

if TYPE_CHECKING:
    import httpx

T = TypeVar("T")
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


class XaiProvider(ProviderClient):
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
        super().__init__(base_url, policy, client, sleep)
        self.team_id = team_id
        self.key_env = key_env
        self._key = management_key

    def spending_limits(self) -> SpendingLimits:
        what = "read spending limits"
        answer = self._call("GET", "postpaid/spending-limits", what)
        limits = answer.get("spendingLimits")
        if not isinstance(limits, dict):
            raise self._unexpected(what, "no spendingLimits object")
        soft = cents(limits.get("softSl"))
        effective = cents(limits.get("effectiveSl"))
        hard_auto = cents(limits.get("hardSlAuto"))
        effective_hard = cents(limits.get("effectiveHardSl"))
        override = cents(limits.get("hardSlOverride"))
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
        confirmed = cents(answer.get("thisBpSoftSpendingLimit"))
        if confirmed is None:
            raise self._unexpected(what, "no thisBpSoftSpendingLimit in the answer")
        return confirmed

    def invoice_preview(self) -> InvoicePreview:
        """This billing cycle's postpaid invoice so far; its amount None if not shown."""
        answer = self._call("GET", "postpaid/invoice/preview", "read the invoice preview")
        return xai_billing.invoice_preview(answer)

    def prepaid_credit(self) -> Decimal:
        """The prepaid credit left (``-total`` of the prepaid balance), in dollars."""
        what = "read the prepaid balance"
        return self._read(
            what, xai_billing.prepaid_credit, self._call("GET", "prepaid/balance", what)
        )

    def usage(self, first: date, last: date, *, by_model: bool) -> Usage:
        """Dollars per UTC day from ``first`` to ``last`` inclusive, per model if asked."""
        end = last + timedelta(days=1)  # xAI's endTime is exclusive
        request = {
            "timeRange": {
                "startTime": f"{first:%Y-%m-%d} 00:00:00",
                "endTime": f"{end:%Y-%m-%d} 00:00:00",
                "timezone": "Etc/GMT",
            },
            "timeUnit": "TIME_UNIT_DAY",
            "values": [{"name": "usd", "aggregation": "AGGREGATION_SUM"}],
            "groupBy": ["description"] if by_model else [],
            "filters": [],
        }
        what = f"read usage {first:%Y-%m-%d}..{last:%Y-%m-%d}"
        answer = self._call("POST", "usage", what, json={"analyticsRequest": request})
        return self._read(what, lambda a: xai_billing.usage(a, by_model), answer)

    def invoices(self, since: date) -> list[Invoice]:
        """Invoices of billing cycles from ``since``'s month on."""
        what = f"read invoices since {since:%Y-%m}"
        params = {"since.year": str(since.year), "since.month": str(since.month)}
        answer = self._call("GET", "invoices", what, params=params)
        return self._read(what, xai_billing.invoices, answer)

    def _read(self, what: str, reader: Callable[[dict[str, Any]], T], answer: dict[str, Any]) -> T:
        try:
            return reader(answer)
        except BillingShapeError as exc:
            raise self._unexpected(what, str(exc)) from None

    def _call(
        self,
        method: str,
        path: str,
        describe: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        what = f"xAI {describe} (team {self.team_id})"
        url = f"/v1/billing/teams/{quote(self.team_id, safe='')}/{path}"
        headers = {"Authorization": f"Bearer {self._key}"}

        def request() -> httpx.Response:
            return self._client.request(method, url, json=json, params=params, headers=headers)

        def interpret(response: httpx.Response) -> dict[str, Any]:
            return self._interpret(response, what)

        return self._send(request, interpret, what)

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
