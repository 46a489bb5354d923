"""Request, reply and route types shared by the sandbox's emulators and its server.

The sandbox is split into a server (``server.py`` and ``transport.py``: sockets, routing,
faults, admin endpoints) and one emulator module per provider (``minimax.py``, ``xai.py``,
``useapi.py``, each an ``emulator.Emulator``). They meet here: an emulator receives a
parsed :class:`Request` and returns a :class:`Reply`, never touching a socket, so each
emulator can be read against its API document alone and the server stays
provider-agnostic.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class Request:
    """One parsed HTTP request; header names are lower-cased so lookups ignore case.

    ``query`` keeps the last value of a repeated parameter; ``raw_query`` is there for
    the endpoints whose parameters repeat (``invoiceIds.invoiceIds=a&invoiceIds.invoiceIds=b``).
    """

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes = b""
    params: Mapping[str, str] = field(default_factory=dict)
    raw_query: str = ""

    def header(self, name: str) -> str | None:
        """Return a header value, matching the name case-insensitively as HTTP does."""
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class Reply:
    """An answer to write back; the server adds Content-Type, Content-Length and Trace-Id."""

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    drip: float = 0.0  # > 0: send the body one byte every ``drip`` seconds (a fault)


def json_reply(payload: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Reply:
    """Encode as UTF-8 JSON leaving non-ASCII as is, as the providers do (``测试账号``)."""
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return Reply(status=status, body=body, headers=dict(headers or {}))


def parse_json(body: bytes) -> Any:
    """Decode a request body; raise ValueError on anything that is not UTF-8 JSON."""
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"body is not valid JSON: {exc}") from exc


Handler = Callable[[Request], Reply]


@dataclass(frozen=True)
class Route:
    """A method plus a full-match path pattern; named groups become ``Request.params``."""

    method: str
    pattern: re.Pattern[str]
    handler: Handler


def route(method: str, pattern: str, handler: Handler) -> Route:
    """Build a Route from a regex string, so route tables read as one line each."""
    return Route(method.upper(), re.compile(pattern), handler)


def dispatch(routes: Sequence[Route], request: Request) -> Reply | None:
    """Call the first route matching method and whole path; None when none matches."""
    for candidate in routes:
        if candidate.method != request.method:
            continue
        match = candidate.pattern.fullmatch(request.path)
        if match is not None:
            return candidate.handler(replace(request, params=match.groupdict()))
    return None
