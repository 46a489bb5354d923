"""Every provider answer is bounded: in time, by one deadline per call, and in size.

httpx's timeouts apply to each read, so a provider that drips its answer a byte at a time
never times out, and a 400 MB answer is read whole into memory. ``send`` (``http.py``)
sets a deadline for a whole call (every attempt and every wait between them); the
transport installed by ``new_client`` caps each request's timeouts at the time left,
reads the answer itself, and gives up once the deadline passes or the answer outgrows
``max_bytes``. Answers are asked for uncompressed, so the cap is on what is parsed.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

MAX_ANSWER_BYTES = 16 * 1024 * 1024  # far above any documented answer; bills ask for more

_local = threading.local()


class AnswerTooLarge(Exception):
    """The answer grew past what reconciler reads; ``limit`` is that size in bytes."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


@contextlib.contextmanager
def call_bounds(deadline: float, max_bytes: int = MAX_ANSWER_BYTES) -> Iterator[None]:
    """Bound every request this thread sends inside the block: ``deadline`` seconds from
    now for all of them together, ``max_bytes`` for each answer."""
    saved = getattr(_local, "bounds", None)
    _local.bounds = (time.monotonic() + deadline, max_bytes)
    try:
        yield
    finally:
        _local.bounds = saved


def time_left() -> float | None:
    """Seconds left before this thread's deadline (None outside ``call_bounds``)."""
    bounds = getattr(_local, "bounds", None)
    return None if bounds is None else bounds[0] - time.monotonic()


def bounded_transport(inner: httpx.BaseTransport) -> httpx.BaseTransport:
    """``inner`` wrapped so that each request obeys the calling thread's bounds."""
    import httpx

    class BoundedTransport(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            bounds = getattr(_local, "bounds", None)
            if bounds is None:
                return inner.handle_request(request)
            at, max_bytes = bounds
            left = at - time.monotonic()
            if left <= 0:
                raise httpx.ConnectTimeout("the call's deadline passed", request=request)
            timeouts = dict(request.extensions.get("timeout") or {})
            for name in ("connect", "read", "write", "pool"):
                timeouts[name] = min(timeouts.get(name) or left, left)
            request.extensions["timeout"] = timeouts
            response = inner.handle_request(request)
            try:
                body = _read(response, request, at, max_bytes)
            finally:
                response.close()
            return httpx.Response(
                response.status_code,
                headers=response.headers,
                stream=httpx.ByteStream(body),
                extensions=response.extensions,
                request=request,
            )

        def close(self) -> None:
            inner.close()

    return BoundedTransport()


def _read(response: httpx.Response, request: httpx.Request, at: float, max_bytes: int) -> bytes:
    import httpx

    body = bytearray()
    assert isinstance(response.stream, httpx.SyncByteStream), "a sync transport's answer"
    for chunk in response.stream:
        body += chunk
        if len(body) > max_bytes:
            raise AnswerTooLarge(max_bytes)
        if time.monotonic() > at:
            raise httpx.ReadTimeout("no whole answer before the call's deadline", request=request)
    return bytes(body)
