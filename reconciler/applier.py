"""The applier: executes a plan, the only stage that changes the outside world.

Changes to one address run in order (update before rotate); addresses run in parallel,
at most ``parallelism`` at once, creates/updates/rotates before any delete. The state is
written after every single change (``Recorder``), so a crash loses at most the change in
flight, and a create is recorded as *pending* before its call. Ctrl-C lets the changes in
flight finish and starts no new ones. One failed change does
not stop the independent ones; the ``Receipt`` lists what succeeded, failed or was
skipped. What each action does belongs to the change's resource kind.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
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
                receipt.outcomes.extend(_run_phase(phase, context, parallelism, stop, progress))
    order = {c.address: i for i, c in enumerate(plan.changes)}
    receipt.outcomes.sort(key=lambda o: (order.get(o.address, 0), list(Action).index(o.action)))
    receipt.interrupted = stop.is_set()
    return receipt


def _run_phase(
    phase: list[list[Change]],
    context: ApplyContext,
    parallelism: int,
    stop: threading.Event,
    progress: Progress,
) -> list[Outcome]:
    """Run independent addresses in parallel; on Ctrl-C let those in flight finish."""
    with ThreadPoolExecutor(max_workers=max(1, parallelism)) as pool:
        futures = [pool.submit(_run_address, group, context, stop, progress) for group in phase]
        _wait_through_interrupts(futures, context, stop)
    return [outcome for future in futures for outcome in future.result()]


def _wait_through_interrupts(
    futures: list[Future[list[Outcome]]], context: ApplyContext, stop: threading.Event
) -> None:
    """Wait for every change; a Ctrl-C stops new ones, never those in flight.

    An answer in flight may carry the only copy of a password and token, and its state
    record must be written: giving up on it would leave a pending create behind. ``kill -9``
    remains the way to force an exit (the next run then reports what was lost).
    """
    while True:
        try:
            wait(futures)
            return
        except KeyboardInterrupt:
            if stop.is_set():
                context.report(
                    "Still finishing the changes in flight: their answers carry secrets that exist "
                    "nowhere else. Use kill -9 to force an exit (their creates stay pending)."
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
    return [
        Outcome(c.address, c.action, SKIPPED, "not started: apply was interrupted") for c in changes
    ]
