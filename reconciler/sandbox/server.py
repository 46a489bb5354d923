"""The sandbox server: a real loopback HTTP server in front of the provider emulators.

DESIGN.md asks for end-to-end tests that go over HTTP with the same client code that
talks to the real APIs, so :class:`Sandbox` runs a genuine HTTP/1.1 server
(``transport.py``), not a mock. It owns what is common to every provider and nothing
provider-specific: it mounts a list of emulators (``emulator.py``) and sends each request
to the one owning its path (the first mounted, MiniMax, answers paths nobody owns, as the
sandbox always has), keeps the request log, applies faults around the call (asking the
owner to shape their answers), serves the admin endpoints and runs the lifecycle
(``start``/``serve_forever``/``stop``). The Python test controls below are thin and
mirrored by the ``/_sandbox/`` admin routes. It prints nothing; the CLI owns the terminal.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

from reconciler.sandbox.admin import ADMIN_PREFIX, admin_not_found, admin_routes
from reconciler.sandbox.emulator import Emulator
from reconciler.sandbox.faults import (
    AFTER_KINDS,
    REPLACING_KINDS,
    FaultSet,
    check_in_band,
    dripping,
    fault_reply,
    make_fault,
)
from reconciler.sandbox.minimax import MiniMaxEmulator
from reconciler.sandbox.transport import POLL_INTERVAL, TransportServer
from reconciler.sandbox.useapi import SANDBOX_USEAPI_TOKEN, UseapiEmulator
from reconciler.sandbox.wire import Reply, Request, dispatch
from reconciler.sandbox.xai import XaiEmulator, XaiKey


class Sandbox:
    """A local emulator of the provider APIs, with fault injection, for demo and tests."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        minimax_keys: Mapping[str, str] | None = None,
        xai_keys: Mapping[str, str | XaiKey] | None = None,
        useapi_tokens: Mapping[str, Sequence[str]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Key maps default to the ``SANDBOX_*`` constants; ``clock`` gives unix seconds.

        ``minimax_keys`` maps an API key to its group id; ``xai_keys`` a management key to
        its team id (every billing permission) or to an :class:`XaiKey`; ``useapi_tokens``
        a useapi.net token to the MiniMax account names configured under it.
        """
        self._host = host
        self._requested_port = port
        self._minimax = MiniMaxEmulator(minimax_keys, clock=clock)
        self._xai = XaiEmulator(xai_keys, clock=clock)
        self._useapi = UseapiEmulator(useapi_tokens, clock=clock)
        # Order matters only for paths nobody owns: the first emulator answers those.
        self._emulators: tuple[Emulator, ...] = (self._minimax, self._xai, self._useapi)
        self._admin_routes = admin_routes(
            self, [r for emulator in self._emulators for r in emulator.admin_routes()]
        )
        self._faults = FaultSet()
        self._log_lock = threading.Lock()
        self._log: list[dict[str, Any]] = []
        self._lifecycle = threading.Lock()
        self._server: TransportServer | None = None
        self._thread: threading.Thread | None = None
        self._serving = False

    # -- lifecycle --

    @property
    def port(self) -> int:
        """The bound port; reading it binds the socket, so port 0 is resolved early."""
        return self._bind().server_address[1]

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8765``; binds the socket like :attr:`port`."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    def start(self) -> Sandbox:
        """Serve in a daemon thread; connections are accepted once this returns."""
        server = self._bind()
        with self._lifecycle:
            if self._thread is not None and self._thread.is_alive():
                return self
            self._serving = True
            self._thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": POLL_INTERVAL},
                name=f"sandbox-{server.server_address[1]}",
                daemon=True,
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until :meth:`stop` or Ctrl-C, then close."""
        server = self._bind()
        with self._lifecycle:
            self._serving = True
        try:
            server.serve_forever(poll_interval=POLL_INTERVAL)
        except KeyboardInterrupt:
            pass
        finally:
            self._close()

    def stop(self) -> None:
        """Stop serving, close the listening socket and every open connection."""
        with self._lifecycle:
            server, serving, thread = self._server, self._serving, self._thread
        if server is not None and serving:
            server.shutdown()
        self._close()
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _bind(self) -> TransportServer:
        """Bind and listen once; later calls return the same server."""
        with self._lifecycle:
            if self._server is None:
                address = (self._host, self._requested_port)
                self._server = TransportServer(address, self._respond)
            return self._server

    def _close(self) -> None:
        with self._lifecycle:
            server, self._server = self._server, None
            self._serving = False
        if server is not None:
            server.server_close()
            server.close_connections()

    # -- test controls (mirrored by the /_sandbox/ admin endpoints) --

    def add_fault(
        self,
        method: str = "POST",
        path: str = r"/v1/sub_account",
        kind: str = "http_status",
        http_status: int = 429,
        retry_after: float | None = 1,
        code: int | None = None,
        message: str | None = None,
        delay: float = 0.0,
        times: int | None = 1,
        size: int = 0,
        chance: float = 1.0,
    ) -> None:
        """Inject a fault on requests matching method (``*`` = any) and full path regex,
        firing on a ``chance`` share of them (``seed_faults`` makes the draw repeatable).

        The provider owning the request path shapes the answer. ``base_resp`` (an error
        code in an HTTP 200) exists only where the provider has such errors (MiniMax): it
        passes over other providers' requests, and a path that can only match theirs is
        refused with ValueError, like any other bad argument.
        """
        fault = make_fault(
            method=method,
            path=path,
            kind=kind,
            http_status=http_status,
            retry_after=retry_after,
            code=code,
            message=message,
            delay=delay,
            times=times,
            size=size,
            chance=chance,
        )
        check_in_band(fault, self._emulators)
        self._faults.add(fault)

    def clear_faults(self) -> None:
        """Remove every fault, fired or not."""
        self._faults.clear()

    def seed_faults(self, seed: int) -> None:
        """Make the draws of faults with a ``chance`` repeatable."""
        self._faults.random.seed(seed)

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every provider request received so far (admin ones excluded), oldest first."""
        with self._log_lock:
            return [{**entry, "query": dict(entry["query"])} for entry in self._log]

    def minimax_accounts(self, group_id: str) -> list[dict[str, Any]]:
        """The live MiniMax sub-accounts of a group, secrets included."""
        return self._minimax.accounts(group_id)

    def add_minimax_bill(self, group_id: str, row: Mapping[str, Any]) -> None:
        """Append a bill row that ``batch_query_bill`` will report for the group."""
        self._minimax.add_bill(group_id, row)

    def create_minimax_sub_account(self, group_id: str, account_name: str) -> dict[str, Any]:
        """Create a sub-account behind the tool's back (as in the console): its
        ``subject_id`` and ``account``; ValueError for a duplicate or bad name."""
        return self._minimax.create_sub_account(group_id, account_name)

    def add_minimax_spend(
        self, group_id: str, account_name: str, cash: str, **details: Any
    ) -> None:
        """Bill ``cash`` (a decimal string) to a sub-account by name, or to ``主账号``;
        ``details``: ``model``, ``tokens``, ``day`` (``YYYY-MM-DD``), ``hour``, ``method``."""
        self._minimax.spend(group_id, account_name, cash, **details)

    def xai_spending_limits(self, team_id: str) -> dict[str, Any]:
        """A team's ``spendingLimits`` object, as ``GET postpaid/spending-limits`` has it."""
        return self._xai.spending_limits(team_id)

    def set_xai_soft_limit(self, team_id: str, cents: int | str) -> None:
        """Change a team's soft limit (USD cents) behind the tool's back, as the console can."""
        self._xai.set_soft_limit(team_id, cents)

    def set_xai_hard_limit(
        self, team_id: str, cents: int | str, override: int | str | None = None
    ) -> None:
        """Set ``hardSlAuto`` (cents) and ``hardSlOverride`` (None: none), which wins."""
        self._xai.set_hard_limit(team_id, cents, override)

    def add_xai_usage(self, team_id: str, day: str, description: str, usd: str) -> None:
        """Record spend (dollars, a decimal string) on a ``YYYY-MM-DD`` day for a model."""
        self._xai.add_usage(team_id, day, description, usd)

    def set_xai_usage_max_series(self, team_id: str, max_series: int) -> None:
        """Cap the series of one ``usage`` answer; beyond it ``limitReached`` is true."""
        self._xai.set_usage_max_series(team_id, max_series)

    def add_xai_balance_change(
        self,
        team_id: str,
        cents: int | str,
        origin: str = "PURCHASE",
        create_time: str | None = None,
    ) -> None:
        """Append a prepaid balance change, signed as xAI's ledger: a purchase is negative."""
        self._xai.add_balance_change(team_id, cents, origin, create_time)

    def add_xai_invoice(
        self,
        team_id: str,
        year: int,
        month: int,
        lines: Sequence[Mapping[str, Any]] | None = None,
        tax_cents: int | str = 0,
        status: str = "INVOICE_STATUS_PAID",
    ) -> str:
        """Add an invoice (lines ``{"description", "cents"}``; None bills that month's usage)."""
        return self._xai.add_invoice(team_id, year, month, lines, tax_cents, status)

    def useapi_account(self, account: str) -> dict[str, Any]:
        """A useapi.net account's credits: ``account``, ``total``, ``expiring``, ``audio_credits``."""
        return self._useapi.account(account)

    def set_useapi_credits(
        self,
        account: str,
        total: int,
        expiring: Sequence[Mapping[str, int]] | None = None,
        audio_credits: int | None = None,
    ) -> None:
        """Set credits; ``expiring`` is ``[{"credit", "endTime" (unix ms)}]``, None keeps it."""
        self._useapi.set_credits(account, total, expiring, audio_credits)

    def add_useapi_account(
        self,
        account: str,
        token: str = SANDBOX_USEAPI_TOKEN,
        total: int = 0,
        expiring: Sequence[Mapping[str, int]] = (),
        audio_credits: int = 0,
    ) -> None:
        """Configure another account under a token; with two, ``account`` becomes required."""
        self._useapi.add_account(account, token, total, expiring, audio_credits)

    # -- request handling, called from the handler threads --

    def _respond(self, request: Request) -> Reply | None:
        """Answer one request; None means drop the connection without an answer."""
        if request.path.startswith(ADMIN_PREFIX):
            return dispatch(self._admin_routes, request) or admin_not_found()
        with self._log_lock:
            self._log.append(
                {"method": request.method, "path": request.path, "query": dict(request.query)}
            )
        owner = self._owner(request.path)
        fault = self._faults.take(request.method, request.path, owner.in_band_errors)
        if fault is not None and fault.kind == "latency":
            time.sleep(fault.delay)
        elif fault is not None and fault.kind in REPLACING_KINDS:
            return None if fault.kind == "drop_before" else fault_reply(fault, owner)
        reply = self._call(owner, request)
        if fault is not None and fault.kind == "drip":
            return dripping(reply, fault)
        if fault is not None and fault.kind in AFTER_KINDS:
            return None if fault.kind == "drop_after" else fault_reply(fault, owner)
        return reply

    def _owner(self, path: str) -> Emulator:
        """The emulator whose routes or namespace cover the path; else the first one."""
        for emulator in self._emulators:
            if emulator.owns(path):
                return emulator
        return self._emulators[0]

    @staticmethod
    def _call(owner: Emulator, request: Request) -> Reply:
        """Run the owner's handler; a 404 or a sandbox bug is answered in its shape too."""
        try:
            reply = dispatch(owner.routes, request)
        except Exception as exc:
            message = f"sandbox internal error: {type(exc).__name__}: {exc}"
            return owner.error_reply(500, message)
        return owner.not_found_reply(request) if reply is None else reply
