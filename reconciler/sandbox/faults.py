"""Fault injection for the sandbox: the failures real providers are known to produce.

Tests and the demo need to see the reconciler survive what the API documents warn about:
latency, HTTP 429/5xx with ``Retry-After``, provider error codes in an HTTP 200 answer,
a connection dropped (or a gateway's 5xx) before or after the action took effect (a lost
answer), and a
malformed JSON body like the seed's trailing comma. A fault matches a method and a
full-match path regex; the first live match fires and uses up one of its ``times``. This
module only decides and shapes; ``server.py`` applies the fault around the emulator call.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from http import HTTPStatus

from reconciler.sandbox.wire import Reply, json_reply

FAULT_KINDS = frozenset(
    {
        "latency",
        "http_status",
        "http_status_after",  # the call runs, then a gateway answers 5xx: the outcome is unknown
        "base_resp",
        "drop_before",
        "drop_after",
        "malformed",
    }
)
# Kinds that answer in place of the call, and kinds that answer (or drop) after it ran.
REPLACING_KINDS = frozenset({"http_status", "base_resp", "malformed", "drop_before"})
AFTER_KINDS = frozenset({"http_status_after", "drop_after"})

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

# Like the seed's bill example: a trailing comma that strict JSON parsers refuse.
MALFORMED_BODY = b'{"base_resp": {"status_code": 0, "status_msg": "success"},}'


@dataclass
class Fault:
    """One injected failure; ``times`` None means it fires forever."""

    method: str
    path: str
    kind: str
    http_status: int
    retry_after: float | None
    code: int | None
    message: str | None
    delay: float
    times: int | None
    pattern: re.Pattern[str]

    def matches(self, method: str, path: str) -> bool:
        """Match method (or ``*``) and the whole path, ignoring the query string."""
        method_ok = self.method == "*" or self.method == method.upper()
        return method_ok and self.pattern.fullmatch(path) is not None


def make_fault(
    method: str = "POST",
    path: str = r"/v1/sub_account",
    kind: str = "http_status",
    http_status: int = 429,
    retry_after: float | None = 1,
    code: int | None = None,
    message: str | None = None,
    delay: float = 0.0,
    times: int | None = 1,
) -> Fault:
    """Validate and build a Fault, so a typo in a test fails loudly instead of never firing."""
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_KINDS)}")
    if not isinstance(method, str) or not method:
        raise ValueError("fault method must be a non-empty string")
    try:
        pattern = re.compile(path)
    except (re.error, TypeError) as exc:
        raise ValueError(f"fault path is not a valid regex: {exc}") from exc
    if not _is_int(http_status) or not 100 <= http_status <= 599:
        raise ValueError(f"fault http_status must be an HTTP status code, got {http_status!r}")
    if retry_after is not None and (not _is_number(retry_after) or retry_after < 0):
        raise ValueError(f"fault retry_after must be a non-negative number, got {retry_after!r}")
    if code is not None and not _is_int(code):
        raise ValueError(f"fault code must be an integer, got {code!r}")
    if message is not None and not isinstance(message, str):
        raise ValueError("fault message must be a string")
    if not _is_number(delay) or delay < 0:
        raise ValueError(f"fault delay must be a non-negative number, got {delay!r}")
    if times is not None and (not _is_int(times) or times < 0):
        raise ValueError(f"fault times must be a non-negative integer or None, got {times!r}")
    return Fault(
        method=method.upper(),
        path=path,
        kind=kind,
        http_status=http_status,
        retry_after=retry_after,
        code=code,
        message=message,
        delay=float(delay),
        times=times,
        pattern=pattern,
    )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class FaultSet:
    """The live faults, shared by every handler thread, hence the lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        """Append a fault; earlier faults win when several match."""
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        """Forget every fault, fired or not."""
        with self._lock:
            self._faults.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """Return the first live fault matching the request and use up one of its times."""
        with self._lock:
            for fault in self._faults:
                if fault.times == 0 or not fault.matches(method, path):
                    continue
                if fault.times is not None:
                    fault.times -= 1
                return fault
        return None


def fault_reply(fault: Fault) -> Reply:
    """Shape a fault's answer (http_status, http_status_after, base_resp, malformed)."""
    if fault.kind == "malformed":
        return Reply(status=200, body=MALFORMED_BODY)
    if fault.kind == "base_resp":
        code = 1000 if fault.code is None else fault.code
        message = fault.message or _CODE_MESSAGES.get(code, "error")
        return json_reply({"base_resp": {"status_code": code, "status_msg": message}})
    if fault.kind in ("http_status", "http_status_after"):
        code = 1000 if fault.code is None else fault.code
        message = fault.message or _status_phrase(fault.http_status)
        headers = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = _format_seconds(fault.retry_after)
        payload = {"base_resp": {"status_code": code, "status_msg": message}}
        return json_reply(payload, status=fault.http_status, headers=headers)
    raise ValueError(f"fault kind {fault.kind!r} does not replace the answer")


def _status_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "sandbox fault"


def _format_seconds(seconds: float) -> str:
    """Whole seconds as HTTP wants them; a fraction is kept so tests can stay fast."""
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)
