"""The provider clients of one command: made on first use, shared by parallel changes.

Both plan (its access check) and apply need a client per MiniMax group of the config,
with the key from its variable; this is the one place that builds them.
"""

from __future__ import annotations

import threading

from reconciler.model import Desired
from reconciler.providers.minimax import MinimaxProvider


class ProviderPool:
    """One provider client per MiniMax group, made on first use, closed at the end."""

    def __init__(self, desired: Desired, credentials: dict[str, str]) -> None:
        self._desired = desired
        self._credentials = credentials
        self._clients: dict[str, MinimaxProvider] = {}
        self._lock = threading.Lock()

    def minimax(self, alias: str) -> MinimaxProvider:
        with self._lock:
            if alias not in self._clients:
                group = self._desired.minimax[alias]
                self._clients[alias] = MinimaxProvider(
                    base_url=group.base_url,
                    group_id=group.group_id,
                    api_key=self._credentials[group.api_key_env],
                    api_key_env=group.api_key_env,
                )
            return self._clients[alias]

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
