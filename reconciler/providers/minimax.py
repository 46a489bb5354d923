"""MiniMax open-platform client: sub-accounts (create, delete, status, token) and bills.

A thin map of the API onto Python calls; it knows URLs, auth, JSON shapes and error
codes, nothing about plans. MiniMax reports most errors as HTTP 200 with a non-zero
``base_resp.status_code``; both that and the HTTP status are checked, and every error
shows the code, ``status_msg`` and the ``Trace-Id`` support asks for. Answers are never
logged or echoed: create and rotate answers carry the only copy of a password and token.
Bills are read month by month; each row becomes a ``BillRow`` (``minimax_bills``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from reconciler.errors import ProviderError
from reconciler.model import SUBJECT_ID, Desired, Status
from reconciler.providers.http import (
    DEFAULT_POLICY,
    ProviderClient,
    RetryPolicy,
    http_status_error,
    parse_json,
)
from reconciler.providers.minimax_bills import BillRow, UnreadableRow, month_chunks, read_bill_row

if TYPE_CHECKING:
    import httpx

RETRYABLE_CODES = {1000, 1001, 1002, 1024, 1033, 1039, 2045}
# Unknown error, timeout, internal errors: the call may have been carried out. Rate limits
# (1002, 1039, 2045) refuse a call before it runs.
UNKNOWN_OUTCOME_CODES = {1000, 1001, 1024, 1033}
AUTH_CODE = 1004
STATUS_CODES = {Status.ENABLED: 0, Status.DISABLED: 2}
_MONTHS_AT_ONCE = 4  # bills queries of one range in flight together
_TOKEN_MAX = 8192  # MiniMax tokens are JWTs of a few hundred characters
_PASSWORD_MAX = 1024


@dataclass(frozen=True)
class CreatedSubAccount:
    subject_id: str
    account: str
    password: str = field(repr=False)  # never in a repr: a log or a traceback may show it
    token: str = field(repr=False)


class MinimaxProvider(ProviderClient):
    """Calls for one group (``GroupId``) with one API key."""

    def __init__(
        self,
        *,
        base_url: str,
        group_id: str,
        api_key: str,
        api_key_env: str,
        policy: RetryPolicy = DEFAULT_POLICY,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        super().__init__(base_url, policy, client, sleep)
        self.group_id = group_id
        self.api_key_env = api_key_env
        self._api_key = api_key

    def create(self, name: str) -> CreatedSubAccount:
        what = f"MiniMax create sub-account {name!r} (group {self.group_id})"
        answer = self._call(
            "POST", "/v1/sub_account", f"create sub-account {name!r}", json={"account_name": name}
        )
        subject_id = _identifier(answer.get("subject_id"))
        token = _secret(answer.get("token"), _TOKEN_MAX)
        password = answer.get("password")
        password = "" if password in (None, "") else _secret(password, _PASSWORD_MAX)
        if subject_id is None or token is None or password is None:
            # The account exists now, but what the answer carried cannot be recorded: the
            # pending record stays, and the next apply reports the account by name.
            raise ProviderError(
                f"{what}: success without subject_id or token in a form reconciler can record "
                f"(unusable: {_unusable(subject_id, token, password)}; expected a numeric "
                "subject_id and text secrets)",
                answer_lost=True,
            )
        account = answer.get("account")
        return CreatedSubAccount(
            subject_id=subject_id,
            account=account
            if isinstance(account, str) and _printable(account)
            else f"{name}@{self.group_id}",
            password=password,
            token=token,
        )

    def delete(self, subject_id: str) -> None:
        self._call(
            "DELETE", f"/v1/sub_account/{_segment(subject_id)}", f"delete sub-account {subject_id}"
        )

    def set_status(self, subject_id: str, status: Status) -> None:
        self._call(
            "PUT",
            f"/v1/sub_account/{_segment(subject_id)}/status",
            f"set status of sub-account {subject_id} to {status.value}",
            json={"status": STATUS_CODES[status]},
        )

    def rotate_token(self, subject_id: str) -> str:
        answer = self._call(
            "PUT",
            f"/v1/sub_account/{_segment(subject_id)}/token",
            f"new token for sub-account {subject_id}",
        )
        token = _secret(answer.get("token"), _TOKEN_MAX)
        if token is None:
            # The old token is most likely revoked already: the new one is lost.
            raise ProviderError(
                f"MiniMax new token for sub-account {subject_id} (group {self.group_id}): no token "
                "in the answer that reconciler can keep",
                answer_lost=True,
            )
        return token

    def bills(self, start: date, end: date) -> list[BillRow]:
        """Bill rows between two days (inclusive, UTC), one query per calendar month.

        The months are asked for at once (a plan's window spans two), so reading them costs
        one round trip, not one per month; the rows come back in month order.
        """
        chunks = month_chunks(start, end)
        if len(chunks) == 1:
            return self._bill_chunk(*chunks[0])
        with ThreadPoolExecutor(max_workers=min(len(chunks), _MONTHS_AT_ONCE)) as pool:
            parts = list(pool.map(lambda chunk: self._bill_chunk(*chunk), chunks))
        return [row for part in parts for row in part]

    def _bill_chunk(self, start: date, end: date) -> list[BillRow]:
        what = f"read bills {start:%Y-%m-%d}..{end:%Y-%m-%d}"
        answer = self._call(
            "GET",
            "/v1/batch_query_bill",
            what,
            params={"start_date": f"{start:%Y%m%d}", "end_date": f"{end:%Y%m%d}"},
            money=True,
        )
        raw = answer.get("bill_list")
        if raw is None:
            return []
        if not isinstance(raw, list):
            raise ProviderError(f"MiniMax {what} (group {self.group_id}): bill_list is not a list")
        rows = []
        for number, row in enumerate(raw, 1):
            if not isinstance(row, dict):
                raise ProviderError(
                    f"MiniMax {what} (group {self.group_id}): bill row {number} is not an object"
                )
            try:
                rows.append(read_bill_row(row, self.group_id))
            except UnreadableRow as exc:
                raise ProviderError(
                    f"MiniMax {what} (group {self.group_id}): bill row {number}: {exc}"
                ) from None
        return rows

    def _call(
        self,
        method: str,
        path: str,
        describe: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
        money: bool = False,
    ) -> dict[str, Any]:
        what = f"MiniMax {describe} (group {self.group_id})"
        query = {"GroupId": self.group_id, **(params or {})}
        headers = {"Authorization": f"Bearer {self._api_key}"}

        def request() -> httpx.Response:
            return self._client.request(method, path, params=query, json=json, headers=headers)

        def interpret(response: httpx.Response) -> dict[str, Any]:
            return self._interpret(response, what, money)

        return self._send(request, interpret, what)

    def _interpret(self, response: httpx.Response, what: str, money: bool) -> dict[str, Any]:
        trace_id = response.headers.get("Trace-Id")
        if not response.is_success:
            body = _safe_json(response)
            code, message = _base_resp(body)
            detail = f"code {code}: {message}" if code is not None else ""
            if response.status_code in (401, 403) or code == AUTH_CODE:
                raise self._auth_error(what, code or response.status_code, message, trace_id)
            raise http_status_error(response, what, detail)
        answer = parse_json(response, what, money=money)
        if not isinstance(answer, dict):
            raise ProviderError(
                f"{what}: the answer is not a JSON object", trace_id=trace_id, answer_lost=True
            )
        code, message = _base_resp(answer)
        if code in (None, 0):
            return answer
        if code == AUTH_CODE:
            raise self._auth_error(what, code, message, trace_id)
        raise ProviderError(
            f"{what}: code {code}: {message}",
            code=code,
            trace_id=trace_id,
            retryable=code in RETRYABLE_CODES,
            answer_lost=code in UNKNOWN_OUTCOME_CODES,
        )

    def _auth_error(
        self, what: str, code: int, message: str, trace_id: str | None
    ) -> ProviderError:
        return ProviderError(
            f"{what}: authorization failed (code {code}: {message}); check the key in "
            f"{self.api_key_env}, that it belongs to group {self.group_id}, and that base_url "
            f"{self.base_url} is the key's region",
            code=code,
            trace_id=trace_id,
        )


class _MinimaxFactory:
    """Builds the client of one ``minimax.ALIAS`` group for a ``ProviderPool``."""

    name = "minimax"

    def __call__(
        self, config: Desired, alias: str, credentials: Mapping[str, str], policy: RetryPolicy
    ) -> MinimaxProvider:
        group = config.minimax[alias]
        return MinimaxProvider(
            base_url=group.base_url,
            group_id=group.group_id,
            api_key=credentials[group.api_key_env],
            api_key_env=group.api_key_env,
            policy=policy,
        )


MINIMAX = _MinimaxFactory()


def _safe_json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _base_resp(answer: Any) -> tuple[int | None, str]:
    base = answer.get("base_resp") if isinstance(answer, dict) else None
    if not isinstance(base, dict):
        return None, ""
    message = str(base.get("status_msg") or "")[:300]
    return _integer(base.get("status_code")), message


def _integer(value: Any) -> int | None:
    """A code as an int whether it came as 1002, 1002.0 or "1002"; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _identifier(value: Any) -> str | None:
    """A subject_id as the state records it: ASCII digits, from a JSON number or a string.

    Exactly what the state's record reader accepts, so an answer is never recorded that
    every later command would refuse to read (``"abc-1"``, ``-5``, full-width digits).
    """
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        value = str(value)
    if isinstance(value, str) and SUBJECT_ID.fullmatch(value.strip()):
        return value.strip()
    return None


def _secret(value: Any, longest: int) -> str | None:
    """A token or password the store can seal and a person can paste: printable text."""
    return (
        value
        if isinstance(value, str) and 0 < len(value) <= longest and _printable(value)
        else None
    )


def _printable(value: Any) -> bool:
    """Text without control characters that encodes as UTF-8 (no lone surrogates)."""
    if not isinstance(value, str) or not value.isprintable():
        return False
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def _unusable(subject_id: str | None, token: str | None, password: str | None) -> str:
    """Which parts of a create answer could not be used; never their values."""
    parts = [
        part
        for part, value in (("subject_id", subject_id), ("token", token), ("password", password))
        if value is None
    ]
    return " and ".join(parts)


def _segment(subject_id: str) -> str:
    """A subject_id as one URL path segment: a stray '/' or '?' must not change the call."""
    return quote(str(subject_id), safe="")
