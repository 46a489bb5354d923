"""How an apply stops: an interrupt, a grace period for the calls in flight, then exit.

Ctrl-C, SIGTERM and SIGHUP (the CLI turns the last two into ``KeyboardInterrupt``) stop
new changes at once and end the retries of calls in flight; those calls then get a
grace period (``GRACE_S``, ``RECONCILER_GRACE_PERIOD``) to answer, since an answer may
carry the only copy of a password and token. After it, or at a second interrupt, they
are abandoned: the apply ends the normal way (the state folded, the receipt printed)
while their threads, which never hold the process, are left behind. Nothing an abandoned
change did is recorded as done: a create stays pending, a rotation stays intended, an
update is planned again. A stopped ``Stopping`` also refuses any new provider call, so a
thread left behind can never send one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from reconciler.providers.http import abandon_calls, request_stop

# Under docker stop's and GitHub Actions' 10 s between the first signal and SIGKILL, so
# the apply still ends in order (its receipt printed) when a runner escalates.
GRACE_S = 8.0


class Stopping:
    """Whether an apply is stopping, and waiting for its workers within the grace period."""

    def __init__(self, report: Callable[[str], None], grace: float = GRACE_S) -> None:
        self.report = report
        self.grace = grace
        self.interrupted = threading.Event()  # no new change starts
        self.abandoned = False  # the workers still running were left behind

    def wait(self, finished: threading.Event) -> None:
        """Wait for ``finished``; after an interrupt, for at most the grace period."""
        deadline: float | None = None
        while True:
            try:
                if deadline is None and not self.interrupted.is_set():
                    finished.wait()
                    return
                if deadline is None:  # interrupted while the workers were starting
                    deadline = time.monotonic() + self.grace
                left = deadline - time.monotonic()
                if finished.wait(max(0.0, left)):
                    return
                self._abandon(f"no answer came within the {self.grace:g}s grace period")
                return
            except KeyboardInterrupt:
                if deadline is None:
                    deadline = time.monotonic() + self.grace
                    self.interrupt()
                else:
                    self._abandon("interrupted again")
                    return

    def interrupt(self) -> None:
        """Start no new change; calls in flight get no further attempt."""
        if self.interrupted.is_set():
            return
        self.interrupted.set()
        request_stop()
        self.report(
            "Interrupted: finishing the changes in flight and starting no new ones (the state "
            f"stays recorded as it goes). Waiting up to {self.grace:g}s for their answers; "
            "interrupt again to stop waiting."
        )

    def _abandon(self, why: str) -> None:
        self.abandoned = True
        abandon_calls()
        self.report(
            f"Stopping: {why}. The changes still in flight are abandoned and stay recorded as "
            "not done: the next plan shows them again (a create stays pending)."
        )
