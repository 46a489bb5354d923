"""Fault injection for the sandbox: the failures real providers are known to produce.

Tests and the demo need to see the reconciler survive what the API documents warn about:
latency, HTTP 429/5xx with ``Retry-After``, provider error codes in an HTTP 200 answer, a
connection dropped (or a gateway's 5xx) before or after the action took effect (a lost
answer), and a malformed JSON body like the MiniMax seed's trailing comma. A fault matches
a method and a full-match path regex; the first live match fires (on a ``chance`` share of
the requests it matches) and uses up one of its ``times``. Faults know no provider: the
emulator owning the request path shapes the answer (:func:`fault_reply`), so an
``http_status`` fault on an xAI path answers in xAI's error shape. ``base_resp`` is the
one provider-specific kind, an error code inside an HTTP 200 as only MiniMax has them: it
never fires on (nor is used up by) a request to a provider without such errors, and the
server refuses one whose path can only match such providers. This module only decides and
shapes; ``server.py`` applies the fault around the emulator call.
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace

from reconciler.sandbox.emulator import Emulator
from reconciler.sandbox.wire import Reply

FAULT_KINDS = frozenset(
    {
        "latency",
        "http_status",
        "http_status_after",  # the call runs, then a gateway answers 5xx: the outcome is unknown
        "base_resp",
        "drop_before",
        "drop_after",
        "malformed",
        "drip",  # the call runs; its answer then arrives one byte every ``delay`` seconds
        "oversize",  # in place of the call: a 200 whose body is ``size`` bytes long
    }
)
# Kinds that answer in place of the call, and kinds that answer (or drop) after it ran.
REPLACING_KINDS = frozenset({"http_status", "base_resp", "malformed", "drop_before", "oversize"})
AFTER_KINDS = frozenset({"http_status_after", "drop_after", "drip"})


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
    size: int = 0
    chance: float = 1.0  # the share of matching requests it fires on

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
    size: int = 0,
    chance: float = 1.0,
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
    if not _is_int(size) or not 0 <= size <= _MAX_SIZE:
        raise ValueError(f"fault size must be 0 to {_MAX_SIZE} bytes, got {size!r}")
    if not _is_number(chance) or not 0 < chance <= 1:
        raise ValueError(f"fault chance must be above 0 and at most 1, got {chance!r}")
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
        size=size,
        chance=float(chance),
    )


def check_in_band(fault: Fault, emulators: Sequence[Emulator]) -> None:
    """Refuse a base_resp fault whose path matches providers' paths, none with in-band errors.

    A path matching no example path at all is let through, like any fault that never fires.
    """
    if fault.kind != "base_resp":
        return
    matched = [
        emulator
        for emulator in emulators
        if any(fault.pattern.fullmatch(path) for path in emulator.example_paths)
    ]
    if matched and not any(emulator.in_band_errors for emulator in matched):
        names = ", ".join(emulator.name for emulator in matched)
        raise ValueError(
            f"a base_resp fault is an error code inside an HTTP 200, which {names} "
            "does not have; use kind='http_status' for its paths"
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
        self.random = random.Random()  # decides the faults with a chance; seed to replay

    def add(self, fault: Fault) -> None:
        """Append a fault; earlier faults win when several match."""
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        """Forget every fault, fired or not."""
        with self._lock:
            self._faults.clear()

    def take(self, method: str, path: str, in_band_errors: bool = True) -> Fault | None:
        """Return the first live fault matching the request and use up one of its times.

        ``in_band_errors`` False (the path's provider has no errors inside an HTTP 200)
        passes over ``base_resp`` faults, which have no meaning there.
        """
        with self._lock:
            for fault in self._faults:
                if fault.times == 0 or not fault.matches(method, path):
                    continue
                if fault.kind == "base_resp" and not in_band_errors:
                    continue
                if fault.chance < 1 and self.random.random() >= fault.chance:
                    continue
                if fault.times is not None:
                    fault.times -= 1
                return fault
        return None


def fault_reply(fault: Fault, emulator: Emulator) -> Reply:
    """Shape a fault's answer (http_status, http_status_after, base_resp, malformed).

    The emulator owning the request path shapes it, so each provider's client meets
    its own error shape.
    """
    if fault.kind == "malformed":
        return Reply(status=200, body=emulator.malformed_body)
    if fault.kind == "oversize":
        padding = max(0, fault.size - 8)
        return Reply(status=200, body=b'{"x": "' + b"x" * padding + b'"}')
    if fault.kind == "base_resp":
        reply = emulator.in_band_error_reply(fault.code, fault.message)
        if reply is None:
            raise ValueError(f"{emulator.name} has no in-band errors for a base_resp fault")
        return reply
    if fault.kind in ("http_status", "http_status_after"):
        reply = emulator.error_reply(fault.http_status, fault.message, fault.code)
        if fault.retry_after is None:
            return reply
        headers = {**reply.headers, "Retry-After": _format_seconds(fault.retry_after)}
        return replace(reply, headers=headers)
    raise ValueError(f"fault kind {fault.kind!r} does not replace the answer")


def dripping(reply: Reply, fault: Fault) -> Reply:
    """The emulator's own answer, to be sent one byte every ``fault.delay`` seconds."""
    return replace(reply, drip=fault.delay)


_MAX_SIZE = 512 * 1024 * 1024


def _format_seconds(seconds: float) -> str:
    """Whole seconds as HTTP wants them; a fraction is kept so tests can stay fast."""
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)
