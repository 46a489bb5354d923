"""The ``/_sandbox/xai/{team_id}/...`` admin routes, mirroring XaiEmulator's test controls.

A sandbox running in another process (``reconciler sandbox``) is driven over HTTP: each
route calls the emulator method of the same name with the team from the path and the
JSON body as keyword arguments, so the two stay one API. Answers use the admin shape of
``admin.py`` (400 with ``{"ok": false, "error": ...}`` for a bad body).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from reconciler.sandbox.admin import admin_action
from reconciler.sandbox.wire import Request, Route, route

if TYPE_CHECKING:
    from reconciler.sandbox.xai import XaiEmulator

_PREFIX = r"/_sandbox/xai/(?P<team_id>[^/]+)"


def xai_admin_routes(xai: XaiEmulator) -> Sequence[Route]:
    """The admin route table for one xAI emulator."""

    def limits(request: Request, body: dict[str, Any]) -> dict[str, Any]:
        return {"spendingLimits": xai.spending_limits(request.params["team_id"])}

    def soft(request: Request, body: dict[str, Any]) -> None:
        xai.set_soft_limit(request.params["team_id"], **body)

    def hard(request: Request, body: dict[str, Any]) -> None:
        xai.set_hard_limit(request.params["team_id"], **body)

    def usage(request: Request, body: dict[str, Any]) -> None:
        xai.add_usage(request.params["team_id"], **body)

    def max_series(request: Request, body: dict[str, Any]) -> None:
        xai.set_usage_max_series(request.params["team_id"], **body)

    def balance(request: Request, body: dict[str, Any]) -> None:
        xai.add_balance_change(request.params["team_id"], **body)

    def invoice(request: Request, body: dict[str, Any]) -> dict[str, Any]:
        return {"invoiceId": xai.add_invoice(request.params["team_id"], **body)}

    return (
        route("GET", rf"{_PREFIX}/spending_limits", admin_action(limits, ok=False)),
        route("PUT", rf"{_PREFIX}/soft_limit", admin_action(soft)),
        route("PUT", rf"{_PREFIX}/hard_limit", admin_action(hard)),
        route("POST", rf"{_PREFIX}/usage", admin_action(usage)),
        route("PUT", rf"{_PREFIX}/usage_max_series", admin_action(max_series)),
        route("POST", rf"{_PREFIX}/balance_changes", admin_action(balance)),
        route("POST", rf"{_PREFIX}/invoices", admin_action(invoice)),
    )
