"""In-memory emulator of useapi.net's MiniMax credits endpoint, written from the docs.

Its sources are ``shared/providers/useapi.md`` and the seed it cites; it imports nothing
from ``reconciler.providers``. It serves ``GET /v1/minimax/features/?account=A`` (the
trailing slash as documented, and without it) with ``Authorization: Bearer <token>``,
answering the seed's shape: ``totalCredits`` (a number) and ``totalCreditsStr``,
``creditExpireText[]{credit, endTime}`` (unix milliseconds), ``modelControl[]``,
``memberName``, ``audio{total_credit, sub_credits[]}`` and the seed's other fields.
Errors are ``{"error": "...", "code": N}`` with N the HTTP status: 401 for a missing or
unknown token; 400 when ``account`` is missing while the token has several accounts (it
may be left out when there is exactly one), and 400 for an account the token has not
configured (the features page documents only 400 and 401; ``GET /accounts/{account}``
would say 404). Credits are reported as set: the sandbox does not expire them itself.

Defaults: token ``SANDBOX_USEAPI_TOKEN`` with one account, ``SANDBOX_USEAPI_ACCOUNT``,
holding 1250 credits, of which 300 expire at the end of the UTC day two days after the
sandbox starts and 500 thirty days after, plus 100 audio credits. Accounts of a custom
token map start with no credits. The ``/_sandbox/useapi/`` admin routes mirror the
Python test controls.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.sandbox.admin import admin_action
from reconciler.sandbox.emulator import Emulator, bearer_token, status_phrase
from reconciler.sandbox.wire import Reply, Request, Route, json_reply, route

SANDBOX_USEAPI_TOKEN = "sandbox-useapi-token"
SANDBOX_USEAPI_ACCOUNT = "sandbox@example.com"

DAY_MS = 86_400_000
# The seed's model list: (modelId, videoCost).
_MODELS = (
    ("image-01", 1),
    ("23000", 30),
    ("23010", 30),
    ("23001", 30),
    ("23011", 30),
    ("23102", 30),
    ("23021", 45),
)


@dataclass
class _Account:
    total: int = 0
    expiring: list[dict[str, int]] = field(default_factory=list)  # {"credit", "endTime"}
    audio_credits: int = 0
    audio_end_time: int = 0


def _count(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return value


def _expiring(items: object, total: int) -> list[dict[str, int]]:
    """Check ``[{"credit": N, "endTime": ms}, ...]``; they cannot add up to more than total."""
    if not isinstance(items, Sequence) or isinstance(items, str):
        raise ValueError("expiring must be a list of {credit, endTime}")
    checked = []
    for item in items:
        if not isinstance(item, Mapping) or set(item) != {"credit", "endTime"}:
            raise ValueError('each expiring item must be {"credit": N, "endTime": unix ms}')
        checked.append(
            {
                "credit": _count(item["credit"], "credit"),
                "endTime": _count(item["endTime"], "endTime"),
            }
        )
    if sum(item["credit"] for item in checked) > total:
        raise ValueError(f"expiring credits add up to more than the total of {total}")
    return sorted(checked, key=lambda item: item["endTime"])


class UseapiEmulator(Emulator):
    """useapi.net tokens, the MiniMax accounts each has configured, and their credits."""

    name = "useapi"
    prefixes = ("/v1/minimax/",)
    example_paths = ("/v1/minimax/features/", "/v1/minimax/features")
    malformed_body = b'{"totalCredits": 100, "creditExpireText": [],}'

    def __init__(
        self,
        tokens: Mapping[str, Sequence[str]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``tokens`` maps a useapi token to the account names configured under it."""
        default = tokens is None
        if tokens is None:
            tokens = {SANDBOX_USEAPI_TOKEN: [SANDBOX_USEAPI_ACCOUNT]}
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, list[str]] = {}
        self._accounts: dict[str, _Account] = {}
        for token, accounts in tokens.items():
            if isinstance(accounts, str) or not all(isinstance(a, str) and a for a in accounts):
                raise ValueError(
                    f"the accounts of a useapi token must be a list of names: {accounts!r}"
                )
            self._tokens[token] = list(dict.fromkeys(accounts))
            for account in accounts:
                self._accounts.setdefault(account, _Account())
        if default:
            today_end = self._today_end()
            self._accounts[SANDBOX_USEAPI_ACCOUNT] = _Account(
                total=1250,
                expiring=[
                    {"credit": 300, "endTime": today_end + 2 * DAY_MS},
                    {"credit": 500, "endTime": today_end + 30 * DAY_MS},
                ],
                audio_credits=100,
                audio_end_time=today_end + 30 * DAY_MS,
            )
        self._routes = (route("GET", r"/v1/minimax/features/?", self._features),)

    @property
    def routes(self) -> Sequence[Route]:
        return self._routes

    def error_reply(
        self, status: int, message: str | None = None, code: int | None = None
    ) -> Reply:
        """``{"error": "<message>", "code": N}``, N the HTTP status unless one is given."""
        payload = {
            "error": message or status_phrase(status),
            "code": status if code is None else code,
        }
        return json_reply(payload, status)

    # -- test controls (mirrored by the admin routes) --

    def account(self, account: str) -> dict[str, Any]:
        """An account's credits, in the keyword names :meth:`set_credits` takes."""
        with self._lock:
            data = self._get(account)
            return {
                "account": account,
                "total": data.total,
                "expiring": [dict(item) for item in data.expiring],
                "audio_credits": data.audio_credits,
            }

    def set_credits(
        self,
        account: str,
        total: int,
        expiring: Sequence[Mapping[str, int]] | None = None,
        audio_credits: int | None = None,
    ) -> None:
        """Set the credits (None keeps the expiring list or the audio credits as they are)."""
        total = _count(total, "total")
        audio = None if audio_credits is None else _count(audio_credits, "audio_credits")
        with self._lock:
            data = self._get(account)
            items = _expiring(data.expiring if expiring is None else expiring, total)
            data.total, data.expiring = total, items
            if audio is not None:
                data.audio_credits = audio

    def add_account(
        self,
        account: str,
        token: str = SANDBOX_USEAPI_TOKEN,
        total: int = 0,
        expiring: Sequence[Mapping[str, int]] = (),
        audio_credits: int = 0,
    ) -> None:
        """Configure another account under a token (a new token is created as needed)."""
        if not isinstance(account, str) or not account or not isinstance(token, str) or not token:
            raise ValueError("account and token must be non-empty strings")
        data = _Account(_count(total, "total"), _expiring(expiring, total))
        data.audio_credits = _count(audio_credits, "audio_credits")
        data.audio_end_time = self._today_end() + 30 * DAY_MS
        with self._lock:
            accounts = self._tokens.setdefault(token, [])
            if account in accounts:
                raise ValueError(f"account {account!r} is already configured for this token")
            accounts.append(account)
            self._accounts[account] = data

    def admin_routes(self) -> Sequence[Route]:
        """``/_sandbox/useapi/accounts[/{account}[/credits]]``; bodies are the keywords above."""

        def read(request: Request, body: dict[str, Any]) -> dict[str, Any]:
            return {"account": self.account(request.params["account"])}

        def credits(request: Request, body: dict[str, Any]) -> None:
            self.set_credits(request.params["account"], **body)

        def add(request: Request, body: dict[str, Any]) -> None:
            self.add_account(**body)

        prefix = r"/_sandbox/useapi/accounts"
        return (
            route("GET", rf"{prefix}/(?P<account>[^/]+)", admin_action(read, ok=False)),
            route("PUT", rf"{prefix}/(?P<account>[^/]+)/credits", admin_action(credits)),
            route("POST", prefix, admin_action(add)),
        )

    # -- the documented endpoint --

    def _today_end(self) -> int:
        """Unix ms of the last millisecond of today (UTC), as the seed's ``endTime``s are."""
        return (int(self._clock() * 1000) // DAY_MS + 1) * DAY_MS - 1

    def _get(self, account: str) -> _Account:
        """An account's data; call with the lock held."""
        data = self._accounts.get(account)
        if data is None:
            raise ValueError(f"no useapi account {account!r} in the sandbox")
        return data

    def _features(self, request: Request) -> Reply:
        token = bearer_token(request)
        with self._lock:
            accounts = None if token is None else self._tokens.get(token)
            if accounts is None:
                return json_reply({"error": "Unauthorized", "code": 401}, 401)
            name = request.query.get("account") or ""
            if not name and len(accounts) != 1:
                message = (
                    "Parameter account is required when more than one account is configured"
                    if accounts
                    else "No MiniMax account is configured, see Setup MiniMax"
                )
                return self.error_reply(400, message)
            name = name or accounts[0]
            if name not in accounts:
                return self.error_reply(400, f"Account {name} is not configured")
            return json_reply(_answer(self._accounts[name], int(self._clock() * 1000)))


def _answer(account: _Account, now_ms: int) -> dict[str, Any]:
    """The seed's answer, filled with one account's credits."""
    soon = sum(i["credit"] for i in account.expiring if now_ms <= i["endTime"] < now_ms + DAY_MS)
    sub_credits = [
        {
            "credit_type": 3,
            "end_time": account.audio_end_time,
            "credit": account.audio_credits,
            "text": "",
            "record": [{"credit": account.audio_credits, "endTime": account.audio_end_time}],
            "coin_type": 0,
        }
    ]
    return {
        "privilegeType": 0,
        "totalCredits": account.total,
        "expireText": f"{soon} points will expire within 24 hours" if soon else "",
        "videoCost": 30,
        "queueLength": 3,
        "memberText": "Subscribe",
        "memberHoverText": "",
        "expireTime": 0,
        "isNewUser": False,
        "questionText": "",
        "trialExpireTime": 0,
        "trialText": 0,
        "memberName": "Free",
        "newUserVersion": 0,
        "creditExpireText": [dict(item) for item in account.expiring],
        "modelControl": [
            {
                "modelId": model,
                "videoCost": cost,
                "isMember": False,
                "freeCount": 0,
                "durations": [],
                "resolutions": [],
                "modes": [],
                "videoCosts": [],
            }
            for model, cost in _MODELS
        ],
        "supportModes": [],
        "imageQueueLength": 5,
        "totalCreditsStr": str(account.total),
        "isPaidSubscription": False,
        "canManagePlan": True,
        "audio": {
            "total_credit": account.audio_credits,
            "sub_credits": sub_credits if account.audio_credits else [],
            "base_resp": {},
        },
    }
