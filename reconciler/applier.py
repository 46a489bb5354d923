"""The applier: executes a plan, the only stage that changes the outside world.

Changes to one address run in order (update before rotate); addresses run in parallel,
at most ``parallelism`` at once, creates/updates/rotates before any delete. The state is
written after every single change (``Recorder``), so a crash loses at most the change in
flight, and a create is recorded as *pending* before its call. Ctrl-C (or SIGTERM,
SIGHUP) lets the changes in flight finish and starts no new ones. One failed change does
not stop the independent ones; the ``Receipt`` lists what succeeded, failed or was
skipped. What each action does belongs to the change's resource kind.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from reconciler.errors import ReconcilerError, SecretsError, describe_bug
from reconciler.execution import ApplyContext, Recorder
from reconciler.model import Action, Change, Plan
from reconciler.progress import Progress
from reconciler.providers.http import request_stop
from reconciler.resources import kind_of
from reconciler.secrets import SecretStore

__all__ = ["FAILED", "SKIPPED", "SUCCEEDED", "ApplyContext", "Receipt", "Recorder", "apply_plan"]

SUCCEEDED, FAILED, SKIPPED = "succeeded", "failed", "skipped"
_NOT_STARTED = "not started: apply was interrupted"


@dataclass(frozen=True)
class Outcome:
    address: str
    action: Action
    result: str
    message: str = ""


@dataclass
class Receipt:
    outcomes: list[Outcome] = field(default_factory=list)
    interrupted: bool = False  # Ctrl-C, SIGTERM or SIGHUP came: the run is not whole

    def count(self, result: str) -> int:
        return sum(1 for o in self.outcomes if o.result == result)

    @property
    def ok(self) -> bool:
        return not self.interrupted and self.count(FAILED) == 0 and self.count(SKIPPED) == 0


def check_secrets_ready(
    plan: Plan, store: SecretStore | None, command: str | None, key_env: str
) -> None:
    """Refuse, before any provider call, a plan that would produce secrets with nowhere to go."""
    produces = any(kind_of(c.address).produces_secrets(c) for c in plan.changes)
    if produces and store is None and not command:
        raise SecretsError(
            f"this plan creates passwords and tokens, but there is nowhere to keep them: set {key_env} "
            "(make a key with `reconciler secrets keygen`) or configure secrets.command. Nothing was changed."
        )


def apply_plan(plan: Plan, context: ApplyContext, parallelism: int = 4) -> Receipt:
    """Execute every change of ``plan``; never raises for a single failed change."""
    by_address: dict[str, list[Change]] = {}
    for change in plan.changes:
        by_address.setdefault(change.address, []).append(change)
    phases = [
        [group for group in by_address.values() if group[0].action is not Action.DELETE],
        [group for group in by_address.values() if group[0].action is Action.DELETE],
    ]
    receipt = Receipt()
    stop = threading.Event()
    progress = Progress(len(plan.changes), context.report)
    with progress.heartbeat():
        for phase in phases:
            if stop.is_set():
                receipt.outcomes.extend(o for group in phase for o in _not_started(group))
            else:
                receipt.outcomes.extend(_Phase(phase, context, parallelism, stop, progress).run())
    order = {c.address: i for i, c in enumerate(plan.changes)}
    receipt.outcomes.sort(key=lambda o: (order.get(o.address, 0), list(Action).index(o.action)))
    receipt.interrupted = stop.is_set()
    return receipt


class _Phase:
    """One phase's addresses in a queue, and the ``parallelism`` threads that take from it.

    No future or thread is made per change, so thousands of changes cost no more to start
    than a handful. What the next ``parallelism`` changes record before their first call
    is written ahead, so each finds it on disk when its turn comes instead of waiting.
    """

    def __init__(
        self,
        groups: list[list[Change]],
        context: ApplyContext,
        parallelism: int,
        stop: threading.Event,
        progress: Progress,
    ) -> None:
        self.groups, self.context, self.parallelism = groups, context, parallelism
        self.stop, self.progress = stop, progress
        self.results: list[list[Outcome]] = [[] for _ in groups]
        self._lock = threading.Lock()  # guards the counters below
        self._next = 0  # the next address to take
        self._ahead = 0  # addresses whose first record was written ahead, from the start
        self._running = min(parallelism, len(groups))
        self._finished = threading.Event()

    def run(self) -> list[Outcome]:
        if self._running:
            for number in range(self._running):
                threading.Thread(target=self._work, name=f"apply-{number}").start()
            _wait_through_interrupts(self._finished, self.context, self.stop)
        return [outcome for outcomes in self.results for outcome in outcomes]

    def _take(self) -> tuple[int, list[list[Change]]] | None:
        """The next address's index, and the addresses to write ahead for now."""
        with self._lock:
            index = self._next
            if index >= len(self.groups):
                return None
            self._next += 1
            start, end = self._ahead, min(index + 1 + self.parallelism, len(self.groups))
            self._ahead = max(start, end)
        return index, self.groups[start:end]

    def _work(self) -> None:
        try:
            while (taken := self._take()) is not None:
                index, ahead = taken
                if ahead and not self.stop.is_set():
                    _write_ahead(ahead, self.context)
                group = self.groups[index]
                try:
                    self.results[index] = _run_address(
                        group, self.context, self.stop, self.progress
                    )
                except BaseException as exc:  # a bug must not lose the other changes' records
                    message = f"internal error: {describe_bug(exc)} (run with --debug for details)"
                    self.results[index] = [
                        Outcome(c.address, c.action, FAILED, message) for c in group
                    ]
        finally:
            with self._lock:
                self._running -= 1
                if not self._running:
                    self._finished.set()


def _write_ahead(groups: list[list[Change]], context: ApplyContext) -> None:
    """Record what the first change of each address records before its call (memory only).

    Only a shortcut: when it fails, each change records for itself and reports the failure.
    """
    try:
        changes = [group[0] for group in groups]
        records = [kind_of(c.address).before(c, context) for c in changes]
        context.recorder.record_ahead([record for record in records if record is not None])
    except Exception:
        return


def _wait_through_interrupts(
    finished: threading.Event, context: ApplyContext, stop: threading.Event
) -> None:
    """Wait for every change; a Ctrl-C stops new ones, never those in flight.

    An answer in flight may carry the only copy of a password and token, and its state
    record must be written: giving up on it would leave a pending create behind. ``kill -9``
    remains the way to force an exit (the next run then reports what was lost).
    """
    while True:
        try:
            finished.wait()
            return
        except KeyboardInterrupt:
            if stop.is_set():
                context.report(
                    "Still finishing the changes in flight: their answers carry secrets that "
                    "exist nowhere else. Use kill -9 to force an exit (their creates stay pending)."
                )
            else:
                stop.set()
                request_stop()  # calls in flight get no further attempt
                context.report(
                    "Interrupted: finishing the changes in flight and starting no new ones "
                    "(the state stays recorded as it goes)."
                )


def _run_address(
    group: list[Change], context: ApplyContext, stop: threading.Event, progress: Progress
) -> list[Outcome]:
    """One address's changes in order; after a failure the rest are skipped."""
    outcomes: list[Outcome] = []
    for index, change in enumerate(group):
        if stop.is_set():
            return outcomes + _not_started(group[index:])
        progress.started(change)
        try:
            note = kind_of(change.address).execute(change, context)
            outcome = Outcome(change.address, change.action, SUCCEEDED, note)
        except ReconcilerError as exc:
            outcome = Outcome(change.address, change.action, FAILED, str(exc))
        except Exception as exc:  # a bug must not lose the other changes' records
            message = f"internal error: {describe_bug(exc)} (run with --debug for details)"
            outcome = Outcome(change.address, change.action, FAILED, message)
        succeeded = outcome.result == SUCCEEDED
        progress.finished(
            change, "done" if succeeded else "FAILED", outcome.message if succeeded else ""
        )
        outcomes.append(outcome)
        if not succeeded:
            reason = f"skipped: the {change.action.value} before it failed"
            skipped = [Outcome(c.address, c.action, SKIPPED, reason) for c in group[index + 1 :]]
            for later in group[index + 1 :]:
                progress.finished(later, "skipped", reason.removeprefix("skipped: "))
            return outcomes + skipped
    return outcomes


def _not_started(changes: list[Change]) -> list[Outcome]:
    return [Outcome(c.address, c.action, SKIPPED, _NOT_STARTED) for c in changes]
