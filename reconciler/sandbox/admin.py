"""The sandbox's own HTTP endpoints under ``/_sandbox/``, mirroring its Python API.

End-to-end tests and the demo may run the sandbox in another process (``reconciler
sandbox``); these endpoints let them inject faults, read the request log, inspect the
emulated MiniMax sub-accounts and seed bills over plain HTTP. They need no auth, are
never logged as provider requests and are never subject to faults, so a test can always
observe the server it is breaking.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reconciler.sandbox.wire import Reply, Request, Route, json_reply, parse_json, route

if TYPE_CHECKING:
    from reconciler.sandbox.server import Sandbox

ADMIN_PREFIX = "/_sandbox/"
_GROUP = r"(?P<group_id>[^/]+)"


def admin_routes(sandbox: Sandbox) -> list[Route]:
    """The admin route table, bound to one sandbox."""

    def health(request: Request) -> Reply:
        return _ok()

    def sub_accounts(request: Request) -> Reply:
        return json_reply({"sub_accounts": sandbox.minimax_accounts(request.params["group_id"])})

    def add_fault(request: Request) -> Reply:
        try:
            sandbox.add_fault(**_object_body(request))
        except (TypeError, ValueError) as exc:  # TypeError: an unknown keyword argument
            return _bad_request(str(exc))
        return _ok()

    def clear_faults(request: Request) -> Reply:
        sandbox.clear_faults()
        return _ok()

    def requests(request: Request) -> Reply:
        return json_reply({"requests": sandbox.requests})

    def add_bill(request: Request) -> Reply:
        try:
            sandbox.add_minimax_bill(request.params["group_id"], _object_body(request))
        except ValueError as exc:
            return _bad_request(str(exc))
        return _ok()

    return [
        route("GET", r"/_sandbox/health", health),
        route("GET", rf"/_sandbox/minimax/{_GROUP}/sub_accounts", sub_accounts),
        route("POST", r"/_sandbox/faults", add_fault),
        route("DELETE", r"/_sandbox/faults", clear_faults),
        route("GET", r"/_sandbox/requests", requests),
        route("POST", rf"/_sandbox/minimax/{_GROUP}/bills", add_bill),
    ]


def admin_not_found() -> Reply:
    """Answer an unknown admin path, in the admin endpoints' own shape."""
    return json_reply({"ok": False, "error": "not found"}, status=404)


def _object_body(request: Request) -> dict[str, Any]:
    body = parse_json(request.body)
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


def _ok() -> Reply:
    return json_reply({"ok": True})


def _bad_request(error: str) -> Reply:
    return json_reply({"ok": False, "error": error}, status=400)
