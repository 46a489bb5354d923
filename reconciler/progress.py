"""Apply progress: a counter and elapsed time per change, and a heartbeat for slow calls.

The applier tells ``Progress`` when a change starts and ends; it reports one line per
finished change (``[37/200] create minimax.cn-main.sub_account["x"] done 0.4s``) and,
from a heartbeat thread, a line for every change still in flight after each
``HEARTBEAT_S`` seconds, so a long apply in a CI log never looks hung. Lines go to the
``report`` callable (stderr in the CLI); nothing here prints. The clock is injected, so
the pure parts are tested without waiting.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator

from reconciler.model import Change

HEARTBEAT_S = 5.0


class Progress:
    """Counts finished changes out of ``total`` and watches the ones in flight."""

    def __init__(
        self,
        total: int,
        report: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
        interval: float = HEARTBEAT_S,
    ) -> None:
        self.total = total
        self.report = report
        self.clock = clock
        self.interval = interval
        self._done = 0
        self._in_flight: dict[int, tuple[Change, float, float]] = {}  # start, next beat
        self._lock = threading.Lock()
        self._silent = False

    def silence(self) -> None:
        """Report nothing more: the changes still in flight were abandoned."""
        with self._lock:
            self._silent = True

    def started(self, change: Change) -> float:
        """Note ``change`` as in flight; returns its start time."""
        now = self.clock()
        with self._lock:
            self._in_flight[id(change)] = (change, now, now + self.interval)
        return now

    def finished(self, change: Change, outcome: str, note: str = "") -> None:
        """Report ``change`` as done (``outcome``: done, FAILED, skipped) with its time."""
        detail = f" ({note})" if note else ""
        with self._lock:  # printed under the lock too, so the counter reads in order
            if self._silent:
                return
            entry = self._in_flight.pop(id(change), None)
            self._done += 1
            took = f" {self.clock() - entry[1]:.1f}s" if entry else ""
            self.report(
                f"[{self._done}/{self.total}] {change.action.value} {change.address} "
                f"{outcome}{took}{detail}"
            )

    def beat(self) -> None:
        """Report every change in flight whose next heartbeat is due."""
        now = self.clock()
        due = []
        with self._lock:
            if self._silent:
                return
            count = self._done
            for key, (change, start, next_beat) in self._in_flight.items():
                if now >= next_beat:
                    self._in_flight[key] = (change, start, next_beat + self.interval)
                    due.append((change, now - start))
        for change, elapsed in due:
            self.report(
                f"[{count}/{self.total}] {change.action.value} {change.address} "
                f"still running ({elapsed:.0f}s elapsed)"
            )

    @contextlib.contextmanager
    def heartbeat(self) -> Iterator[None]:
        """Run ``beat`` in the background while the block runs."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(min(1.0, self.interval)):
                self.beat()

        thread = threading.Thread(target=loop, name="reconciler-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
