"""What one provider emulator gives the sandbox server: routes, error shape, admin hooks.

DESIGN.md: "each provider API is one emulator (routes, error shape, admin hooks) mounted
in one server; faults are generic and ask the emulator to shape their reply". The server
(``server.py``) mounts a list of :class:`Emulator` and knows no provider: a request
belongs to the first emulator that :meth:`~Emulator.owns` its path (the real providers
live on different hosts, the sandbox folds them onto one, and their paths do not
collide), and every answer the server makes up itself (a fault, a 404, an internal
error) is shaped by that owner, so a client always meets its provider's own error shape.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from http import HTTPStatus
from typing import ClassVar

from reconciler.sandbox.wire import Reply, Request, Route


class Emulator(ABC):
    """One provider API: its routes, its error shape and its ``/_sandbox/<name>/`` hooks.

    Subclasses keep their data in memory behind one lock of their own, since the server
    calls them from one thread per connection.
    """

    #: Names the provider in admin paths (``/_sandbox/<name>/...``) and in messages.
    name: ClassVar[str]
    #: Path prefixes owned even where no route matches (the provider's namespace on its
    #: host), so a mistyped path still gets this provider's 404 shape.
    prefixes: ClassVar[tuple[str, ...]] = ()
    #: One concrete path per route; the server tests fault patterns against them.
    example_paths: ClassVar[tuple[str, ...]] = ()
    #: True when the provider reports errors inside an HTTP 200 (MiniMax's ``base_resp``).
    in_band_errors: ClassVar[bool] = False
    #: An HTTP 200 body that strict JSON parsers refuse (the ``malformed`` fault).
    malformed_body: ClassVar[bytes] = b'{"error": "",}'

    @property
    @abstractmethod
    def routes(self) -> Sequence[Route]:
        """The provider endpoints; built once, since :meth:`owns` reads them per request."""

    def admin_routes(self) -> Sequence[Route]:
        """Test hooks under ``/_sandbox/<name>/``, mirroring the Python ones on Sandbox."""
        return ()

    @abstractmethod
    def error_reply(
        self, status: int, message: str | None = None, code: int | None = None
    ) -> Reply:
        """An HTTP error answer in this provider's shape.

        ``message`` None means a default (usually the status phrase); ``code`` is the
        provider's numeric code where its shape has one, and is ignored otherwise.
        """

    def in_band_error_reply(self, code: int | None, message: str | None) -> Reply | None:
        """An HTTP 200 carrying a provider error code; None when the provider has none."""
        return None

    def not_found_reply(self, request: Request) -> Reply:
        """The answer to a path or method the emulator does not serve."""
        return self.error_reply(404, "not found")

    def owns(self, path: str) -> bool:
        """Whether requests to ``path`` are this provider's (any method)."""
        if self.prefixes and path.startswith(self.prefixes):
            return True
        return any(candidate.pattern.fullmatch(path) for candidate in self.routes)


def status_phrase(status: int) -> str:
    """``Too Many Requests`` for 429; a neutral phrase for codes HTTP does not name."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "sandbox fault"


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (scheme case-insensitive)."""
    header = (request.header("Authorization") or "").strip()
    scheme, _, token = header.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None
