"""Local emulator of the provider APIs, for the demo and the end-to-end tests.

``reconciler sandbox`` and ``reconciler demo`` run it; the test suite starts one per test
on a free loopback port. It is written from the API documents alone and imports nothing
from the rest of ``reconciler``, so that it checks the provider clients instead of
sharing their assumptions. Today it emulates MiniMax's sub-account and bill endpoints;
xAI and useapi.net emulators will sit beside ``minimax.py`` and join the route table.
"""

from __future__ import annotations

from reconciler.sandbox.faults import FAULT_KINDS
from reconciler.sandbox.minimax import SANDBOX_MINIMAX_API_KEY, SANDBOX_MINIMAX_GROUP_ID
from reconciler.sandbox.server import Sandbox

__all__ = ["FAULT_KINDS", "SANDBOX_MINIMAX_API_KEY", "SANDBOX_MINIMAX_GROUP_ID", "Sandbox"]
