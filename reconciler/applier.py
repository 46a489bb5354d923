"""The applier: executes a plan, the only stage that changes the outside world.

Changes to one address run in order (update before rotate); addresses run in parallel,
at most ``parallelism`` at once, creates/updates/rotates before any delete. The state is
written after every single change (``Recorder``), so a crash loses at most the change in
flight, and a create is recorded as *pending* before its call. Ctrl-C (or SIGTERM,
SIGHUP) starts no new change and gives those in flight a grace period (``stopping.py``);
what is still running after it is reported *pending*, never as done. A change that could
not be recorded stops every later one: no provider call goes out whose answer could not
be kept. One failed change does not stop the independent ones; the ``Receipt`` lists what
succeeded, failed, was skipped or is pending. What each action does belongs to the
change's resource kind.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from reconciler.errors import ReconcilerError, SecretsError, describe_bug
from reconciler.execution import ApplyContext, Recorder
from reconciler.model import Action, Change, Plan
from reconciler.progress import Progress
from reconciler.resources import kind_of
from reconciler.secrets import SecretStore
from reconciler.stopping import GRACE_S, Stopping

__all__ = [
    "FAILED",
    "PENDING",
    "SKIPPED",
    "SUCCEEDED",
    "ApplyContext",
    "Receipt",
    "Recorder",
    "apply_plan",
]

SUCCEEDED, FAILED, SKIPPED, PENDING = "succeeded", "failed", "skipped", "pending"
_INTERRUPTED = "not started: apply was interrupted"
_ABANDONED = (
    "abandoned: its answer had not come when apply stopped; the state does not record it "
    "as done, so the next plan shows it again"
)


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
        whole = all(o.result == SUCCEEDED for o in self.outcomes)
        return not self.interrupted and whole


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


def apply_plan(
    plan: Plan, context: ApplyContext, parallelism: int = 4, grace: float = GRACE_S
) -> Receipt:
    """Execute every change of ``plan``; never raises for a single failed change.

    After an interrupt, changes in flight get ``grace`` seconds to finish.
    """
    by_address: dict[str, list[Change]] = {}
    for change in plan.changes:
        by_address.setdefault(change.address, []).append(change)
    phases = [
        [group for group in by_address.values() if group[0].action is not Action.DELETE],
        [group for group in by_address.values() if group[0].action is Action.DELETE],
    ]
    receipt = Receipt()
    stopping = Stopping(context.report, grace)
    progress = Progress(len(plan.changes), context.report)
    with progress.heartbeat():
        for phase in phases:
            why = _why_not_start(stopping, context)
            if why:
                receipt.outcomes.extend(o for group in phase for o in _not_started(group, why))
            else:
                receipt.outcomes.extend(
                    _Phase(phase, context, parallelism, stopping, progress).run()
                )
    order = {c.address: i for i, c in enumerate(plan.changes)}
    receipt.outcomes.sort(key=lambda o: (order.get(o.address, 0), list(Action).index(o.action)))
    receipt.interrupted = stopping.interrupted.is_set()
    return receipt


def _why_not_start(stopping: Stopping, context: ApplyContext) -> str | None:
    """Why no new change may start: an interrupt, or a change that could not be recorded."""
    if stopping.interrupted.is_set():
        return _INTERRUPTED
    failure = context.recorder.failure
    if failure is not None:
        return f"not started: an earlier change could not be recorded ({failure})"
    return None


class _Phase:
    """One phase's addresses in a queue, and the ``parallelism`` threads that take from it.

    No future or thread is made per change, so thousands of changes cost no more to start
    than a handful. What the next ``parallelism`` changes record before their first call
    is written ahead, so each finds it on disk when its turn comes instead of waiting.
    The threads never hold the process: one still waiting for an answer when the grace
    period ends is left behind, and its change reported pending.
    """

    def __init__(
        self,
        groups: list[list[Change]],
        context: ApplyContext,
        parallelism: int,
        stopping: Stopping,
        progress: Progress,
    ) -> None:
        self.groups, self.context, self.parallelism = groups, context, parallelism
        self.stopping, self.progress = stopping, progress
        self.results: list[list[Outcome]] = [[] for _ in groups]
        self._lock = threading.Lock()  # guards the counters and results below
        self._next = 0  # the next address to take
        self._ahead = 0  # addresses whose first record was written ahead, from the start
        self._done: set[int] = set()  # addresses whose every change has an outcome
        self._running = 0  # worker threads started and not yet ended
        self._finished = threading.Event()

    def run(self) -> list[Outcome]:
        try:
            for number in range(min(self.parallelism, len(self.groups))):
                with self._lock:
                    self._running += 1
                worker = threading.Thread(target=self._work, name=f"apply-{number}", daemon=True)
                worker.start()
        except KeyboardInterrupt:  # the workers started so far finish, within the grace period
            self.stopping.interrupt()
        with self._lock:
            if not self._running:
                self._finished.set()
        self.stopping.wait(self._finished)
        with self._lock:
            if self.stopping.abandoned:
                self.progress.silence()
                return self._left_behind()
            return [outcome for outcomes in self.results for outcome in outcomes]

    def _left_behind(self) -> list[Outcome]:
        """Under the lock, once abandoned: what finished, then the rest pending or unstarted."""
        outcomes: list[Outcome] = []
        for index, group in enumerate(self.groups):
            done = self.results[index]
            outcomes.extend(done)
            rest = group[len(done) :]
            if index in self._done or not rest:
                continue
            if index < self._next:  # taken: its next change is the one in flight
                first, rest = rest[0], rest[1:]
                outcomes.append(Outcome(first.address, first.action, PENDING, _ABANDONED))
            outcomes.extend(_not_started(rest, _INTERRUPTED))
        self._done = set(range(len(self.groups)))  # a thread left behind reports nothing more
        return outcomes

    def _take(self) -> tuple[int, list[list[Change]]] | None:
        """The next address's index, and the addresses to write ahead for now."""
        with self._lock:
            index = self._next
            if index >= len(self.groups) or self.stopping.abandoned:
                return None
            self._next += 1
            start, end = self._ahead, min(index + 1 + self.parallelism, len(self.groups))
            self._ahead = max(start, end)
        return index, self.groups[start:end]

    def _emit(self, index: int, outcome: Outcome) -> None:
        with self._lock:
            if index not in self._done:
                self.results[index].append(outcome)

    def _work(self) -> None:
        try:
            while (taken := self._take()) is not None:
                index, ahead = taken
                if ahead and _why_not_start(self.stopping, self.context) is None:
                    _write_ahead(ahead, self.context)
                try:
                    self._run_address(index)
                except BaseException as exc:  # a bug must not lose the other changes' records
                    message = f"internal error: {describe_bug(exc)} (run with --debug for details)"
                    with self._lock:
                        finished = len(self.results[index])
                    for change in self.groups[index][finished:]:
                        self._emit(index, Outcome(change.address, change.action, FAILED, message))
                with self._lock:
                    self._done.add(index)
        finally:
            with self._lock:
                self._running -= 1
                if not self._running:
                    self._finished.set()

    def _run_address(self, index: int) -> None:
        """One address's changes in order, each outcome emitted; after a failure the rest
        are skipped."""
        group, progress = self.groups[index], self.progress
        for position, change in enumerate(group):
            why = _why_not_start(self.stopping, self.context)
            if why:
                for later in group[position:]:
                    self._emit(index, Outcome(later.address, later.action, SKIPPED, why))
                return
            progress.started(change)
            outcome = _execute(change, self.context)
            succeeded = outcome.result == SUCCEEDED
            progress.finished(
                change, "done" if succeeded else "FAILED", outcome.message if succeeded else ""
            )
            self._emit(index, outcome)
            if not succeeded:
                reason = f"skipped: the {change.action.value} before it failed"
                for later in group[position + 1 :]:
                    progress.finished(later, "skipped", reason.removeprefix("skipped: "))
                    self._emit(index, Outcome(later.address, later.action, SKIPPED, reason))
                return


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


def _execute(change: Change, context: ApplyContext) -> Outcome:
    try:
        note = kind_of(change.address).execute(change, context)
        return Outcome(change.address, change.action, SUCCEEDED, note)
    except ReconcilerError as exc:
        return Outcome(change.address, change.action, FAILED, str(exc))
    except Exception as exc:  # a bug must not lose the other changes' records
        message = f"internal error: {describe_bug(exc)} (run with --debug for details)"
        return Outcome(change.address, change.action, FAILED, message)


def _not_started(changes: list[Change], reason: str) -> list[Outcome]:
    return [Outcome(c.address, c.action, SKIPPED, reason) for c in changes]
