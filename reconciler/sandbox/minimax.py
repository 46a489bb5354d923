"""In-memory emulator of MiniMax's sub-account and bill endpoints, written from the docs.

Its only sources are ``shared/providers/minimax.md`` and the seed document it cites; it
imports nothing from ``reconciler.providers`` on purpose, so a misreading of the API in
the client and one in this emulator are unlikely to agree and cancel out. It speaks the
documented shapes: errors as HTTP 200 with a non-zero ``base_resp.status_code``, secrets
(password, token) returned only by create and rotation, no list or get of sub-accounts,
bills filtered by UTC day, at most 31 days per query (rows and default spend in
``minimax_bills.py``). Tests inspect accounts with :meth:`accounts`, create one behind
the tool's back with :meth:`create_sub_account` and bill spend to it with :meth:`spend`,
none of which the real API offers; the ``/_sandbox/minimax/`` admin routes mirror them.
Every answer the server makes up for these paths (faults, 404) carries a ``base_resp``.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from reconciler.sandbox.emulator import Emulator, bearer_token, status_phrase
from reconciler.sandbox.minimax_bills import (
    MAIN_ACCOUNT,
    SEED_BILL_EXAMPLE,
    bill_window,
    bills_answer,
    check_row,
    default_rows,
    spend_row,
)
from reconciler.sandbox.wire import Reply, Request, Route, json_reply, parse_json, route

SANDBOX_MINIMAX_GROUP_ID = "1687256519302470"
SANDBOX_MINIMAX_API_KEY = "sandbox-minimax-key"

AUTH_FAIL_MESSAGE = (
    "login fail: Please carry the API secret key in the 'Authorization' field of the request header"
)
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SUBJECT = r"(?P<subject_id>[^/]+)"

# Messages for the codes on MiniMax's error page, used when a fault gives no message.
_CODE_MESSAGES = {
    1000: "unknown error",
    1001: "request timeout",
    1002: "rate limit exceeded",
    1004: "not authorized",
    1008: "insufficient balance",
    1024: "internal error",
    1033: "system error",
    1039: "token limit exceeded",
    2013: "invalid params",
    2045: "rate growth limit exceeded",
}


class _Refusal(Exception):
    """A documented error answer (HTTP 200, non-zero code), raised to end a handler early."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _success(**fields: Any) -> Reply:
    return json_reply({**fields, "base_resp": {"status_code": 0, "status_msg": "success"}})


def _new_token() -> str:
    """A JWT-looking secret like MiniMax's; only its length and opacity matter."""
    return "eyJ" + secrets.token_urlsafe(90)


@dataclass
class _Account:
    subject_id: str
    account_name: str
    account: str
    status: int
    token: str
    password: str
    group_id: str
    created_at: int


@dataclass
class _Group:
    accounts: dict[str, _Account] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # account_name -> subject_id
    bills: list[dict[str, Any]] = field(default_factory=list)


_GroupHandler = Callable[[Request, _Group, str], Reply]


def _base_resp(code: int, message: str, status: int = 200) -> Reply:
    return json_reply({"base_resp": {"status_code": code, "status_msg": message}}, status)


class MiniMaxEmulator(Emulator):
    """The MiniMax groups, their keys, sub-accounts and bills, behind one lock."""

    name = "minimax"
    example_paths = (
        "/v1/sub_account",
        "/v1/sub_account/1766027179931476045",
        "/v1/sub_account/1766027179931476045/status",
        "/v1/sub_account/1766027179931476045/token",
        "/v1/batch_query_bill",
    )
    in_band_errors = True
    # The seed's own bill example, trailing comma in ``bill_list`` and all.
    malformed_body = SEED_BILL_EXAMPLE

    def __init__(
        self,
        keys: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        keys_given = keys
        if keys is None:
            keys = {SANDBOX_MINIMAX_API_KEY: SANDBOX_MINIMAX_GROUP_ID}
        self._keys = dict(keys)
        self._clock = clock
        self._lock = threading.Lock()
        self._groups: dict[str, _Group] = {}
        self._subject_ids: set[str] = set()
        if keys_given is None:
            group = self._group(SANDBOX_MINIMAX_GROUP_ID)
            group.bills.extend(default_rows(SANDBOX_MINIMAX_GROUP_ID, clock()))
        self._routes = (
            route("POST", r"/v1/sub_account", self._guard(self._create)),
            route("DELETE", rf"/v1/sub_account/{_SUBJECT}", self._guard(self._delete)),
            route("PUT", rf"/v1/sub_account/{_SUBJECT}/status", self._guard(self._set_status)),
            route("PUT", rf"/v1/sub_account/{_SUBJECT}/token", self._guard(self._rotate_token)),
            route("GET", r"/v1/batch_query_bill", self._guard(self._bills)),
        )

    @property
    def routes(self) -> Sequence[Route]:
        """The documented endpoints, for the server's route table."""
        return self._routes

    # -- the error shape: base_resp, in an HTTP 200 or an HTTP error --

    def error_reply(
        self, status: int, message: str | None = None, code: int | None = None
    ) -> Reply:
        """``{"base_resp": {...}}`` with the HTTP status; code 1000 unless one is given."""
        code = 1000 if code is None else code
        return _base_resp(code, message or status_phrase(status), status)

    def in_band_error_reply(self, code: int | None, message: str | None) -> Reply:
        """MiniMax's usual error: HTTP 200 with a non-zero ``base_resp.status_code``."""
        code = 1000 if code is None else code
        return _base_resp(code, message or _CODE_MESSAGES.get(code, "error"))

    def admin_routes(self) -> Sequence[Route]:
        """``/_sandbox/minimax/{group}/...``, mirroring the test controls below."""
        from reconciler.sandbox.minimax_admin import minimax_admin_routes

        return minimax_admin_routes(self)

    # -- inspection and changes for tests and the admin endpoints (not in the real API) --

    def accounts(self, group_id: str) -> list[dict[str, Any]]:
        """Every live sub-account of a group, secrets included, in creation order."""
        with self._lock:
            group = self._groups.get(group_id)
            return [asdict(account) for account in group.accounts.values()] if group else []

    def create_sub_account(self, group_id: str, account_name: str) -> dict[str, Any]:
        """Create an account as the MiniMax console would, behind the tool's back."""
        with self._lock:
            try:
                account = self._new_account(self._group(group_id), group_id, account_name)
            except _Refusal as refusal:
                raise ValueError(refusal.message) from None
            return {"subject_id": account.subject_id, "account": account.account}

    def add_bill(self, group_id: str, row: Mapping[str, Any]) -> None:
        """Append a bill row (the seed's shape); reject rows the totals could not sum."""
        if not isinstance(row, Mapping):
            raise ValueError("a bill row must be a JSON object")
        stored = dict(row)
        check_row(stored)
        stored.setdefault("group_id", group_id)
        with self._lock:
            self._group(group_id).bills.append(stored)

    def spend(self, group_id: str, account_name: str, cash: str, **details: Any) -> None:
        """Bill ``cash`` to a live sub-account of the group, or to the main account
        (``主账号``); ``details`` are ``model``, ``tokens``, ``day``, ``hour``, ``method``."""
        row = spend_row(group_id, account_name, cash, self._clock(), **details)
        with self._lock:
            group = self._group(group_id)
            if account_name != MAIN_ACCOUNT and account_name not in group.names:
                raise ValueError(f"no sub-account {account_name!r} in group {group_id}")
            group.bills.append(row)

    # -- request plumbing --

    def _group(self, group_id: str) -> _Group:
        """Get or create a group's data; call with the lock held."""
        return self._groups.setdefault(group_id, _Group())

    def _guard(self, handler: _GroupHandler) -> Callable[[Request], Reply]:
        """Authorize, then run the handler under the lock, turning refusals into answers."""

        def guarded(request: Request) -> Reply:
            try:
                group_id = self._authorize(request)
                with self._lock:
                    return handler(request, self._group(group_id), group_id)
            except _Refusal as refusal:
                return _base_resp(refusal.code, refusal.message)

        return guarded

    def _authorize(self, request: Request) -> str:
        """Check the Bearer key and that GroupId is the key's group; return the group."""
        key = bearer_token(request)
        group_of_key = None if key is None else self._keys.get(key)
        if group_of_key is None:
            raise _Refusal(1004, AUTH_FAIL_MESSAGE)
        group_id = request.query.get("GroupId", "")
        if not group_id:
            raise _Refusal(2013, "invalid params, GroupId is required")
        if group_id != group_of_key:
            raise _Refusal(1004, "token not match group")
        return group_id

    @staticmethod
    def _json_object(request: Request) -> dict[str, Any]:
        try:
            body = parse_json(request.body)
        except ValueError as exc:
            raise _Refusal(2013, "invalid params") from exc
        if not isinstance(body, dict):
            raise _Refusal(2013, "invalid params")
        return body

    @staticmethod
    def _account(request: Request, group: _Group) -> _Account:
        account = group.accounts.get(request.params["subject_id"])
        if account is None:
            raise _Refusal(2013, "invalid params, sub account not found")
        return account

    def _new_subject_id(self) -> str:
        """A unique 19-digit decimal id, like ``1766027179931476045`` in the seed."""
        while True:
            candidate = str(10**18 + secrets.randbelow(9 * 10**18))
            if candidate not in self._subject_ids:
                self._subject_ids.add(candidate)
                return candidate

    def _new_account(self, group: _Group, group_id: str, name: Any) -> _Account:
        """Create an account in ``group``; call with the lock held."""
        if not isinstance(name, str) or not name or _CONTROL_CHARS.search(name):
            raise _Refusal(2013, "invalid params, account_name")
        if name in group.names:
            raise _Refusal(2013, "invalid params, account name already exists")
        account = _Account(
            subject_id=self._new_subject_id(),
            account_name=name,
            account=f"{name}@{group_id}",
            status=0,
            token=_new_token(),
            password=secrets.token_hex(5),
            group_id=group_id,
            created_at=int(self._clock()),
        )
        group.accounts[account.subject_id] = account
        group.names[name] = account.subject_id
        return account

    # -- the documented endpoints --

    def _create(self, request: Request, group: _Group, group_id: str) -> Reply:
        name = self._json_object(request).get("account_name")
        account = self._new_account(group, group_id, name)
        return _success(
            subject_id=account.subject_id,
            account=account.account,
            password=account.password,
            group_id=group_id,
            token=account.token,
        )

    def _delete(self, request: Request, group: _Group, group_id: str) -> Reply:
        account = self._account(request, group)
        del group.accounts[account.subject_id]
        del group.names[account.account_name]
        return _success()

    def _set_status(self, request: Request, group: _Group, group_id: str) -> Reply:
        account = self._account(request, group)
        status = self._json_object(request).get("status")
        if type(status) is not int or status not in (0, 2):
            raise _Refusal(2013, "invalid params, status")
        account.status = status
        return _success()

    def _rotate_token(self, request: Request, group: _Group, group_id: str) -> Reply:
        account = self._account(request, group)
        account.token = _new_token()
        return _success(token=account.token)

    def _bills(self, request: Request, group: _Group, group_id: str) -> Reply:
        try:
            start, end = bill_window(request.query.get("start_date"), request.query.get("end_date"))
        except ValueError as exc:
            raise _Refusal(2013, str(exc)) from None
        return _success(**bills_answer(group.bills, start, end))
