"""The ``/_sandbox/minimax/{group_id}/...`` admin routes, mirroring the MiniMax test controls.

A sandbox in another process (``reconciler sandbox``) is driven over HTTP: each route calls
the emulator method of the same name with the group from the path and the JSON body as
keyword arguments. ``sub_accounts`` lists (GET) or creates one behind the tool's back, as
the console would (POST); ``bills`` appends a raw row; ``spend`` bills spend to an account
by name (``主账号`` for the main account). Answers use the admin shape of ``admin.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from reconciler.sandbox.admin import admin_action
from reconciler.sandbox.wire import Request, Route, route

if TYPE_CHECKING:
    from reconciler.sandbox.minimax import MiniMaxEmulator

_PREFIX = r"/_sandbox/minimax/(?P<group_id>[^/]+)"


def minimax_admin_routes(minimax: MiniMaxEmulator) -> Sequence[Route]:
    """The admin route table for one MiniMax emulator."""

    def sub_accounts(request: Request, body: dict[str, Any]) -> dict[str, Any]:
        return {"sub_accounts": minimax.accounts(request.params["group_id"])}

    def create(request: Request, body: dict[str, Any]) -> dict[str, Any]:
        return minimax.create_sub_account(request.params["group_id"], **body)

    def add_bill(request: Request, body: dict[str, Any]) -> None:
        minimax.add_bill(request.params["group_id"], body)

    def spend(request: Request, body: dict[str, Any]) -> None:
        minimax.spend(request.params["group_id"], **body)

    return (
        route("GET", rf"{_PREFIX}/sub_accounts", admin_action(sub_accounts, ok=False)),
        route("POST", rf"{_PREFIX}/sub_accounts", admin_action(create)),
        route("POST", rf"{_PREFIX}/bills", admin_action(add_bill)),
        route("POST", rf"{_PREFIX}/spend", admin_action(spend)),
    )
