"""The sandbox's own HTTP endpoints under ``/_sandbox/``, mirroring its Python API.

End-to-end tests and the demo may run the sandbox in another process (``reconciler
sandbox``); these endpoints let them inject faults, read the request log and, through
each emulator's own admin routes (``/_sandbox/minimax/...``, ``/_sandbox/xai/...``,
``/_sandbox/useapi/...``), inspect and change the emulated provider data over plain HTTP.
They need no auth, are never logged as provider requests and are never subject to
faults, so a test can always observe the server it is breaking. Their answers have one
shape of their own: ``{"ok": true, ...}``, or ``{"ok": false, "error": "..."}`` with 400.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from reconciler.sandbox.wire import Handler, Reply, Request, Route, json_reply, parse_json, route

if TYPE_CHECKING:
    from reconciler.sandbox.server import Sandbox

ADMIN_PREFIX = "/_sandbox/"
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

# An admin action gets the request (for its path params) and its JSON object body ({} for a
# GET or DELETE without one); it answers extra fields for the reply, or None. ValueError and TypeError (an
# unknown keyword in the body) become a 400.
AdminAction = Callable[[Request, dict[str, Any]], dict[str, Any] | None]


def admin_action(action: AdminAction, ok: bool = True) -> Handler:
    """Wrap an action as a handler; ``ok`` False answers its result without ``"ok"``."""

    def handler(request: Request) -> Reply:
        try:
            result = action(request, _object_body(request))
        except (TypeError, ValueError) as exc:
            return json_reply({"ok": False, "error": str(exc)}, status=400)
        if not ok:
            return json_reply(result or {})
        return json_reply({"ok": True, **(result or {})})

    return handler


def admin_routes(sandbox: Sandbox, emulator_routes: Sequence[Route]) -> list[Route]:
    """The admin route table, bound to one sandbox, ending with the emulators' own."""

    def health(request: Request, body: dict[str, Any]) -> None:
        return None

    def add_fault(request: Request, body: dict[str, Any]) -> None:
        sandbox.add_fault(**body)

    def clear_faults(request: Request, body: dict[str, Any]) -> None:
        sandbox.clear_faults()

    def requests(request: Request, body: dict[str, Any]) -> dict[str, Any]:
        return {"requests": sandbox.requests}

    return [
        route("GET", r"/_sandbox/health", admin_action(health)),
        route("POST", r"/_sandbox/faults", admin_action(add_fault)),
        route("DELETE", r"/_sandbox/faults", admin_action(clear_faults)),
        route("GET", r"/_sandbox/requests", admin_action(requests, ok=False)),
        *emulator_routes,
    ]


def parse_day(value: object) -> date:
    """A ``YYYY-MM-DD`` calendar day, as test controls take one; ValueError otherwise."""
    if isinstance(value, str) and _DAY.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"day must be a YYYY-MM-DD string, got {value!r}")


def admin_not_found() -> Reply:
    """Answer an unknown admin path, in the admin endpoints' own shape."""
    return json_reply({"ok": False, "error": "not found"}, status=404)


def _object_body(request: Request) -> dict[str, Any]:
    """The JSON object body; a read or a delete may come without one."""
    if request.method in ("GET", "DELETE") and not request.body.strip():
        return {}
    body = parse_json(request.body)
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body
