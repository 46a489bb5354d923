"""Local emulator of the provider APIs, for the demo and the end-to-end tests.

``reconciler sandbox`` and ``reconciler demo`` run it; the test suite starts one per test
on a free loopback port. It is written from the API documents alone and imports nothing
from the rest of ``reconciler``, so that it checks the provider clients instead of
sharing their assumptions. It emulates MiniMax's sub-account and bill endpoints
(``minimax.py``), xAI's Management API billing endpoints (``xai.py``) and useapi.net's
MiniMax credits endpoint (``useapi.py``), each an emulator mounted in one server
(``server.py``) with provider-agnostic fault injection (``faults.py``).
"""

from __future__ import annotations

from reconciler.sandbox.faults import FAULT_KINDS
from reconciler.sandbox.minimax import SANDBOX_MINIMAX_API_KEY, SANDBOX_MINIMAX_GROUP_ID
from reconciler.sandbox.server import Sandbox
from reconciler.sandbox.useapi import SANDBOX_USEAPI_ACCOUNT, SANDBOX_USEAPI_TOKEN
from reconciler.sandbox.xai import (
    SANDBOX_XAI_MANAGEMENT_KEY,
    SANDBOX_XAI_READONLY_KEY,
    SANDBOX_XAI_TEAM_ID,
    XaiKey,
)

__all__ = [
    "FAULT_KINDS",
    "SANDBOX_MINIMAX_API_KEY",
    "SANDBOX_MINIMAX_GROUP_ID",
    "SANDBOX_USEAPI_ACCOUNT",
    "SANDBOX_USEAPI_TOKEN",
    "SANDBOX_XAI_MANAGEMENT_KEY",
    "SANDBOX_XAI_READONLY_KEY",
    "SANDBOX_XAI_TEAM_ID",
    "Sandbox",
    "XaiKey",
]
