"""HTTP transport of the sandbox: sockets in, :class:`Request` out, :class:`Reply` back.

Kept apart from :mod:`reconciler.sandbox.server` so the policy there (routing, faults,
logging) reads without socket details. It is a ``ThreadingHTTPServer`` speaking HTTP/1.1
with a Content-Length on every answer, so keep-alive clients such as httpx work and
concurrent requests are served in parallel. It also knows the two transport tricks the
fault kinds need: closing a connection without a byte of answer, and closing every open
connection on stop so no handler thread outlives the sandbox.
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from reconciler.sandbox.wire import Reply, Request, json_reply

POLL_INTERVAL = 0.01  # seconds; bounds how long stop() waits for the serve loop (cheap idle)

Responder = Callable[[Request], Reply | None]


class TransportServer(ThreadingHTTPServer):
    """Threaded server that remembers open connections so stop() can close them."""

    daemon_threads = True
    # socketserver listens with a backlog of 5: a burst of 16 connections (an apply with
    # --parallelism 16 starting) overflowed it, and the dropped SYNs came back a second
    # later. Real providers accept far more at once.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], responder: Responder) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.responder = responder
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse-DNS lookup of the host, which can be slow."""
        socketserver.TCPServer.server_bind(self)
        self.server_name = str(self.server_address[0])
        self.server_port = int(self.server_address[1])

    def track(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def close_connections(self) -> None:
        """Shut idle keep-alive connections so their handler threads end promptly."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet: clients hanging up mid-answer (drops, stop) are expected here."""


class _Handler(BaseHTTPRequestHandler):
    """Turns HTTP into Request/Reply for the server's responder; None from it means drop."""

    protocol_version = "HTTP/1.1"
    server: TransportServer
    timeout = 120  # an idle keep-alive connection is closed after this many seconds
    disable_nagle_algorithm = True  # headers and body go out in separate writes: no 40 ms stall

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: the CLI owns the terminal."""

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def _handle(self) -> None:
        split = urlsplit(self.path)
        body = self._read_body()
        if body is None:
            return
        request = Request(
            method=self.command.upper(),
            path=unquote(split.path),
            query=dict(parse_qsl(split.query, keep_blank_values=True)),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            raw_query=split.query,
        )
        try:
            reply = self.server.responder(request)
        except Exception as exc:  # a server bug (emulators' are shaped by the server): answer it
            message = f"sandbox internal error: {type(exc).__name__}: {exc}"
            reply = json_reply({"error": message}, 500)
        if reply is None:
            self._drop()
        else:
            self._send(reply)

    def _read_body(self) -> bytes | None:
        """Read the whole body (Content-Length or chunked); None after answering 400."""
        try:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                return self._read_chunked()
            length = int(self.headers.get("Content-Length") or 0)
            if length < 0:
                raise ValueError("negative Content-Length")
        except ValueError as exc:
            self.close_connection = True
            self._send(json_reply({"ok": False, "error": f"bad request body: {exc}"}, 400))
            return None
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int(self.rfile.readline(65_537).split(b";")[0].strip(), 16)
            if size == 0:
                while self.rfile.readline(65_537) not in (b"\r\n", b"\n", b""):
                    pass  # skip trailers
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline(65_537)  # the CRLF after each chunk

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(reply.body)))
        self.send_header("Trace-Id", secrets.token_hex(16))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if reply.drip <= 0:
            self.wfile.write(reply.body)
            return
        for index in range(len(reply.body)):  # a provider that drips its answer
            try:
                self.wfile.write(reply.body[index : index + 1])
                self.wfile.flush()
            except OSError:
                return  # the client gave up
            time.sleep(reply.drip)

    def _drop(self) -> None:
        """Close without a byte of answer, as a lost connection looks to the client."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
