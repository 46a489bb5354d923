"""In-memory emulator of xAI's Management API billing endpoints, written from the docs.

Its sources are ``shared/providers/xai.md`` and the seed it cites; like every emulator it
imports nothing from ``reconciler.providers``, so a misreading of the API in the client
and one here are unlikely to agree. It speaks the documented shapes: ``Authorization:
Bearer <management key>``; money as USD-cent strings, mostly wrapped (``{"val":
"20000"}``); errors as a non-2xx with ``{"code": "<status text>", "error": "<message>"}``,
where the status text is the gRPC status description xAI's answers carry (403: "The
caller does not have permission to execute the specified operation"). This module holds
the keys, auth, routes, error shape and test controls; the endpoint bodies are in
``xai_endpoints.py``, the team data and money rules in ``xai_ledger.py``, the admin routes
in ``xai_admin.py``. Top-ups, payment methods and billing info are not emulated (the tool
never calls them; their paths answer 404 in xAI's shape).

Defaults: one team, ``SANDBOX_XAI_TEAM_ID``, with a soft limit of 0 (not set), a hard
limit of $1,000.00 (``hardSlAuto`` 100000 cents, no override), one $25.00 prepaid
purchase (``total`` "-2500"), no usage and no invoices. ``SANDBOX_XAI_MANAGEMENT_KEY``
has every billing permission on it; ``SANDBOX_XAI_READONLY_KEY`` authenticates (its
validation answers) but holds no billing ACL, so every billing call answers 403.
Auth order: no or unknown key 401, a key of another team 403, a missing ACL 403, then a
bad request 400. ACL names (``billing:read``, ``billing:write``) are the sandbox's own:
the docs do not list management-key ACLs.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from reconciler.sandbox import xai_endpoints as endpoints
from reconciler.sandbox.admin import parse_day
from reconciler.sandbox.emulator import Emulator, bearer_token, status_phrase
from reconciler.sandbox.wire import Reply, Request, Route, json_reply, route
from reconciler.sandbox.xai_admin import xai_admin_routes
from reconciler.sandbox.xai_endpoints import Refusal, TeamHandler
from reconciler.sandbox.xai_ledger import (
    DEFAULT_INVOICE_STATUS,
    Team,
    UsageRow,
    parse_cents,
    parse_usd,
    rfc3339,
)

SANDBOX_XAI_TEAM_ID = "3f8a2c1e-6b4d-4e9a-8c2f-5d7b9e1a0c34"
SANDBOX_XAI_MANAGEMENT_KEY = "sandbox-xai-management-key"
SANDBOX_XAI_READONLY_KEY = "sandbox-xai-readonly-key"

BILLING_READ = "billing:read"
BILLING_WRITE = "billing:write"
FULL_ACLS = ("api-key:read", "api-key:write", BILLING_READ, BILLING_WRITE)

PERMISSION_DENIED = "The caller does not have permission to execute the specified operation"
# What xAI puts in "code": the gRPC status description behind the HTTP status.
_STATUS_TEXT = {
    400: "Client specified an invalid argument",
    401: "The request does not have valid authentication credentials",
    403: PERMISSION_DENIED,
    404: "Some requested entity was not found",
    409: "The operation was aborted",
    412: "The system is not in a state required for the operation's execution",
    429: "Some resource has been exhausted",
    499: "The operation was cancelled",
    500: "Internal error",
    501: "Operation is not implemented or not supported",
    503: "The service is currently unavailable",
    504: "Deadline expired before operation could complete",
}
_TEAM = r"/v1/billing/teams/(?P<team_id>[^/]+)"


@dataclass(frozen=True)
class XaiKey:
    """What a management key may do: its team, its ACLs and its display name."""

    team_id: str
    acls: tuple[str, ...] = FULL_ACLS
    name: str = "sandbox management key"


class XaiEmulator(Emulator):
    """The xAI teams, their management keys and billing data, behind one lock."""

    name = "xai"
    prefixes = ("/v1/billing/", "/auth/")
    example_paths = (
        "/auth/management-keys/validation",
        f"/v1/billing/teams/{SANDBOX_XAI_TEAM_ID}/postpaid/spending-limits",
        f"/v1/billing/teams/{SANDBOX_XAI_TEAM_ID}/postpaid/invoice/preview",
        f"/v1/billing/teams/{SANDBOX_XAI_TEAM_ID}/prepaid/balance",
        f"/v1/billing/teams/{SANDBOX_XAI_TEAM_ID}/usage",
        f"/v1/billing/teams/{SANDBOX_XAI_TEAM_ID}/invoices",
    )
    malformed_body = b'{"spendingLimits": {"softSl": {"val": "0"}},}'

    def __init__(
        self,
        keys: Mapping[str, str | XaiKey] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``keys`` maps a key to its team id (every ACL) or to an :class:`XaiKey`."""
        default = keys is None
        if keys is None:
            readonly = XaiKey(SANDBOX_XAI_TEAM_ID, ("api-key:read",), "sandbox read-only key")
            keys = {
                SANDBOX_XAI_MANAGEMENT_KEY: SANDBOX_XAI_TEAM_ID,
                SANDBOX_XAI_READONLY_KEY: readonly,
            }
        self._keys = {k: v if isinstance(v, XaiKey) else XaiKey(v) for k, v in keys.items()}
        self._clock = clock
        self._lock = threading.Lock()
        self._teams: dict[str, Team] = {}
        if default:
            self._team(SANDBOX_XAI_TEAM_ID).add_change(-2500, "PURCHASE", rfc3339(self._now()))
        self._routes = (
            route("GET", r"/auth/management-keys/validation", self._validation),
            route(
                "GET",
                rf"{_TEAM}/postpaid/spending-limits",
                self._guard(BILLING_READ, endpoints.spending_limits),
            ),
            route(
                "POST",
                rf"{_TEAM}/postpaid/spending-limits",
                self._guard(BILLING_WRITE, endpoints.set_soft_limit),
            ),
            route(
                "GET",
                rf"{_TEAM}/postpaid/invoice/preview",
                self._guard(BILLING_READ, endpoints.invoice_preview),
            ),
            route("GET", rf"{_TEAM}/prepaid/balance", self._guard(BILLING_READ, endpoints.balance)),
            route("POST", rf"{_TEAM}/usage", self._guard(BILLING_READ, endpoints.usage)),
            route("GET", rf"{_TEAM}/invoices", self._guard(BILLING_READ, endpoints.invoices)),
        )

    @property
    def routes(self) -> Sequence[Route]:
        return self._routes

    def error_reply(
        self, status: int, message: str | None = None, code: int | None = None
    ) -> Reply:
        """``{"code": "<status text>", "error": "<message>"}``; a numeric code has no place."""
        text = _STATUS_TEXT.get(status, "Unknown error")
        return json_reply({"code": text, "error": message or status_phrase(status)}, status)

    # -- test controls (no such calls in the real API), mirrored by admin routes --

    def spending_limits(self, team_id: str) -> dict[str, Any]:
        """The team's ``spendingLimits`` object, as the GET answers it."""
        with self._lock:
            return self._team(team_id).spending_limits()

    def set_soft_limit(self, team_id: str, cents: int | str) -> None:
        """Change the soft limit behind the tool's back (as the console would); no checks."""
        value = parse_cents(cents, "cents")
        with self._lock:
            self._team(team_id).soft = value

    def set_hard_limit(
        self, team_id: str, cents: int | str, override: int | str | None = None
    ) -> None:
        """Set ``hardSlAuto`` and the override (None: no override)."""
        auto = parse_cents(cents, "cents")
        forced = None if override is None else parse_cents(override, "override")
        with self._lock:
            team = self._team(team_id)
            team.hard_auto, team.hard_override = auto, forced

    def add_usage(self, team_id: str, day: str, description: str, usd: str) -> None:
        """Record usage in dollars on a day; it feeds ``usage`` and the invoice preview."""
        if not isinstance(description, str) or not description:
            raise ValueError("description must be a non-empty string, such as a model name")
        row = UsageRow(parse_day(day), description, parse_usd(usd))
        with self._lock:
            self._team(team_id).usage.append(row)

    def set_usage_max_series(self, team_id: str, max_series: int) -> None:
        """How many series one ``usage`` answer holds before ``limitReached``."""
        if isinstance(max_series, bool) or not isinstance(max_series, int) or max_series < 0:
            raise ValueError(f"max_series must be a non-negative integer, got {max_series!r}")
        with self._lock:
            self._team(team_id).max_series = max_series

    def add_balance_change(
        self,
        team_id: str,
        cents: int | str,
        origin: str = "PURCHASE",
        create_time: str | None = None,
    ) -> None:
        """Append a prepaid change, signed as on the wire: a purchase is negative."""
        amount = parse_cents(cents, "cents", signed=True)
        if not isinstance(origin, str) or not origin:
            raise ValueError("origin must be a non-empty string such as PURCHASE")
        if create_time is not None and not isinstance(create_time, str):
            raise ValueError("create_time must be an RFC 3339 string")
        with self._lock:
            self._team(team_id).add_change(amount, origin, create_time or rfc3339(self._now()))

    def add_invoice(
        self,
        team_id: str,
        year: int,
        month: int,
        lines: Sequence[Mapping[str, Any]] | None = None,
        tax_cents: int | str = 0,
        status: str = DEFAULT_INVOICE_STATUS,
    ) -> str:
        """Add an invoice and return its id; ``lines`` None bills that month's usage."""
        for value, name, top in ((year, "year", 9999), (month, "month", 12)):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
                raise ValueError(f"{name} must be an integer from 1 to {top}, got {value!r}")
        if lines is not None and not isinstance(lines, Sequence):
            raise ValueError("lines must be a list")
        if not isinstance(status, str) or not status:
            raise ValueError("status must be a non-empty string")
        tax = parse_cents(tax_cents, "tax_cents")
        with self._lock:
            invoice = self._team(team_id).add_invoice(year, month, lines, tax, status)
        return str(invoice["invoiceId"])

    # -- admin routes --

    def admin_routes(self) -> Sequence[Route]:
        """``/_sandbox/xai/{team_id}/...``: bodies are the keyword arguments above."""
        return xai_admin_routes(self)

    # -- request plumbing --

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def _team(self, team_id: str) -> Team:
        """Get or create a team's data; call with the lock held."""
        return self._teams.setdefault(team_id, Team())

    def _key(self, request: Request) -> tuple[str, XaiKey]:
        token = bearer_token(request)
        if token is None:
            raise Refusal(401, "Missing management key: use 'Authorization: Bearer <key>'")
        key = self._keys.get(token)
        if key is None:
            raise Refusal(401, "The management key is not valid")
        return token, key

    def _validation(self, request: Request) -> Reply:
        try:
            token, key = self._key(request)
        except Refusal as refusal:
            return self.error_reply(refusal.status, refusal.message)
        return json_reply(
            {
                "apiKeyId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"sandbox-xai:{token}")),
                "teamId": key.team_id,
                "scope": "SCOPE_TEAM",
                "scopeId": key.team_id,
                "name": key.name,
                "acls": list(key.acls),
                "redactedApiKey": f"{token[:4]}...{token[-4:]}" if len(token) > 12 else "...",
            }
        )

    def _guard(self, acl: str, handler: TeamHandler) -> Callable[[Request], Reply]:
        """Authorize the key for the path's team and the ACL, then answer under the lock."""

        def guarded(request: Request) -> Reply:
            try:
                _, key = self._key(request)
                if key.team_id != request.params["team_id"] or acl not in key.acls:
                    raise Refusal(403, PERMISSION_DENIED)
                with self._lock:
                    return json_reply(handler(request, self._team(key.team_id), self._now()))
            except Refusal as refusal:
                return self.error_reply(refusal.status, refusal.message)

        return guarded
