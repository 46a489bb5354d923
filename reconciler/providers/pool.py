"""The provider clients of one command: made on first use, shared by parallel changes.

Refresh and apply both need a client per provider section of the config (a MiniMax group,
an xAI team) with the key from its variable. Each provider module exports a
``ProviderFactory`` that builds one from the config; the pool keeps one client per
(provider, alias) and closes them all at the end. Tests may hand in other factories,
and a shorter retry policy.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Protocol, TypeVar

from reconciler.model import Desired
from reconciler.providers import http
from reconciler.providers.http import RetryPolicy

ClientT = TypeVar("ClientT", bound="Closable")
ClientT_co = TypeVar("ClientT_co", bound="Closable", covariant=True)


class Closable(Protocol):
    def close(self) -> None: ...


class ProviderFactory(Protocol[ClientT_co]):
    """Builds the client of one config section (``name`` + alias) with its credentials."""

    @property
    def name(self) -> str: ...

    def __call__(
        self, config: Desired, alias: str, credentials: Mapping[str, str], policy: RetryPolicy
    ) -> ClientT_co: ...


class ProviderPool:
    """One provider client per (provider, alias), made on first use, closed at the end.

    ``connections`` is how many requests may be in flight at once (``--parallelism``):
    each client keeps that many connections alive, so no change waits for a new one.
    Tests may hand in a ``policy`` with shorter waits.
    """

    def __init__(
        self,
        desired: Desired,
        credentials: Mapping[str, str],
        *,
        connections: int = 0,
        policy: RetryPolicy | None = None,
    ) -> None:
        """``policy`` defaults to ``http.DEFAULT_POLICY`` as it is when the pool is made."""
        self._desired = desired
        self._credentials = credentials
        policy = policy or http.DEFAULT_POLICY
        self._policy = replace(policy, connections=max(policy.connections, connections))
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def get(self, factory: ProviderFactory[ClientT], alias: str) -> ClientT:
        key = (factory.name, alias)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = factory(self._desired, alias, self._credentials, self._policy)
            client: ClientT = self._clients[key]
            return client

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
