"""The applier: executes a plan, the only stage that changes the outside world.

Changes to one address run in order (update before rotate); addresses run in parallel,
at most ``parallelism`` at once, creates/updates/rotates before any delete. The state is
written after every single change (``Recorder``), so a crash loses at most the change in
flight, and a create is recorded as *pending* before its call. Ctrl-C lets the changes in
flight finish and starts no new ones. One failed change does
not stop the independent ones; the ``Receipt`` lists what succeeded, failed or was
skipped. What each action does is in ``actions``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime

from reconciler.errors import ReconcilerError, SecretsError
from reconciler.model import Action, Change, Desired, Plan, RecordedSubAccount
from reconciler.providers.pool import ProviderPool
from reconciler.secrets import SecretStore
from reconciler.state import LocalBackend, StateDocument
from reconciler.state.records import read_record

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

    def count(self, result: str) -> int:
        return sum(1 for o in self.outcomes if o.result == result)

    @property
    def ok(self) -> bool:
        return self.count(FAILED) == 0 and self.count(SKIPPED) == 0


class Recorder:
    """Serialises state and secrets writes from parallel changes; writes after each one."""

    def __init__(
        self, backend: LocalBackend, state: StateDocument, store: SecretStore | None
    ) -> None:
        self.backend = backend
        self.state = state
        self.store = store
        self._lock = threading.Lock()

    def record(self, record: RecordedSubAccount) -> None:
        with self._lock:
            self.state.put(record)
            self.backend.write(self.state)

    def forget(self, address: str, *, deleted: str | None = None) -> None:
        """Drop ``address`` from the state; with ``deleted``, also that account's secrets.

        Without a confirmed delete the secrets stay: they may belong to an account that
        exists (a pending create's, sealed before its answer was lost).
        """
        with self._lock:
            self.state.remove(address)
            self.backend.write(self.state)
            if self.store is not None and deleted and self.store.forget_deleted(address, deleted):
                self.store.save()

    def recorded(self, address: str) -> RecordedSubAccount | None:
        with self._lock:
            data = self.state.resources.get(address)
        return read_record(data) if data else None

    def keep_secrets(
        self, address: str, fields: dict[str, str], issued_at: str, subject_id: str
    ) -> None:
        if self.store is None:
            return
        with self._lock:
            # MiniMax just issued these for ``subject_id``: the address is that account's now,
            # and whatever it held for another account is stale.
            self.store.forget_if_other(address, subject_id)
            for name, value in fields.items():
                self.store.put(address, name, value, issued_at, subject_id)
            self.store.save()


@dataclass
class ApplyContext:
    """Everything the actions need; built by the CLI, injected for tests."""

    desired: Desired
    recorder: Recorder
    providers: ProviderPool
    secrets_command: str | None
    now: Callable[[], datetime]
    report: Callable[[str], None]


def check_secrets_ready(
    plan: Plan, store: SecretStore | None, command: str | None, key_env: str
) -> None:
    """Refuse, before any provider call, a plan that would produce secrets with nowhere to go."""
    produces = any(c.action in (Action.CREATE, Action.ROTATE) for c in plan.changes)
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
    for phase in phases:
        if stop.is_set():
            receipt.outcomes.extend(o for group in phase for o in _not_started(group))
        else:
            receipt.outcomes.extend(_run_phase(phase, context, parallelism, stop))
    order = {c.address: i for i, c in enumerate(plan.changes)}
    receipt.outcomes.sort(key=lambda o: (order.get(o.address, 0), list(Action).index(o.action)))
    return receipt


def _run_phase(
    phase: list[list[Change]], context: ApplyContext, parallelism: int, stop: threading.Event
) -> list[Outcome]:
    """Run independent addresses in parallel; on Ctrl-C let those in flight finish."""
    with ThreadPoolExecutor(max_workers=max(1, parallelism)) as pool:
        futures = [pool.submit(_run_address, group, context, stop) for group in phase]
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
                context.report(
                    "Interrupted: finishing the changes in flight and starting no new ones "
                    "(the state stays recorded as it goes)."
                )


def _run_address(
    group: list[Change], context: ApplyContext, stop: threading.Event
) -> list[Outcome]:
    """One address's changes in order; after a failure the rest are skipped."""
    from reconciler.actions import execute  # the actions import the applier's types

    outcomes: list[Outcome] = []
    for index, change in enumerate(group):
        if stop.is_set():
            return outcomes + _not_started(group[index:])
        started = time.monotonic()
        context.report(f"{change.address}: {change.action.value} ...")
        try:
            outcome = Outcome(change.address, change.action, SUCCEEDED, execute(change, context))
        except ReconcilerError as exc:
            outcome = Outcome(change.address, change.action, FAILED, str(exc))
        except Exception as exc:  # a bug must not lose the other changes' records
            outcome = Outcome(change.address, change.action, FAILED, f"internal error: {exc!r}")
        context.report(_progress(outcome, time.monotonic() - started))
        outcomes.append(outcome)
        if outcome.result == FAILED:
            reason = f"skipped: the {change.action.value} before it failed"
            return outcomes + [
                Outcome(c.address, c.action, SKIPPED, reason) for c in group[index + 1 :]
            ]
    return outcomes


def _not_started(changes: list[Change]) -> list[Outcome]:
    return [
        Outcome(c.address, c.action, SKIPPED, "not started: apply was interrupted") for c in changes
    ]


def _progress(outcome: Outcome, seconds: float) -> str:
    if outcome.result == SUCCEEDED:
        detail = f" ({outcome.message})" if outcome.message else ""
        return f"{outcome.address}: {outcome.action.value} done after {seconds:.1f}s{detail}"
    return f"{outcome.address}: {outcome.action.value} FAILED after {seconds:.1f}s"
