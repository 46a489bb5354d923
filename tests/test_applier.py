"""The applier in-process against the sandbox, where a test needs to break the disk."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconciler.applier import FAILED, ApplyContext, Recorder, apply_plan
from reconciler.errors import StateError
from reconciler.model import (
    Action,
    Change,
    Desired,
    DesiredSubAccount,
    MinimaxGroup,
    Plan,
    RecordedSubAccount,
    SecretsSettings,
    StateSettings,
)
from reconciler.planner import make_plan
from reconciler.providers.minimax import MINIMAX
from reconciler.providers.pool import ProviderPool
from reconciler.sandbox import SANDBOX_MINIMAX_API_KEY, SANDBOX_MINIMAX_GROUP_ID, Sandbox
from reconciler.state import LocalBackend, StateDocument
from reconciler.state.backend import ChangeLog, Commit, Snapshot

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


class DiskFull:
    """A commit that fails as a full disk makes it fail."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def wait(self) -> None:
        raise StateError(f"cannot write state {self.path}: No space left on device")


class FailingAfterFirstWrite(LocalBackend):
    """A disk that fills up right after the pending record of a create is written."""

    def change_log(self, state: StateDocument, source: Callable[[], Snapshot]) -> ChangeLog:
        log = super().change_log(state, source)
        backend = self

        class Failing:
            writes = 0

            def record(
                self, serial: int, key: str, value: Any, after: Commit | None = None
            ) -> Commit:
                self.writes += 1
                if self.writes > 1:
                    return DiskFull(backend.path)
                return log.record(serial, key, value, after)

            def close(self) -> str | None:
                return None  # the disk is full: nothing more reaches it

        return Failing()


def test_a_state_write_failing_after_create_still_delivers_the_secret_and_names_the_id(tmp_path):
    sink = tmp_path / "sink.py"
    received = tmp_path / "received.json"
    sink.write_text(f"import sys\nopen({str(received)!r}, 'w').write(sys.stdin.read())\n")
    command = f"{sys.executable} {sink}"
    with Sandbox() as sandbox:
        group = MinimaxGroup(
            "cn-main",
            SANDBOX_MINIMAX_GROUP_ID,
            "MINIMAX_API_KEY",
            sandbox.url,
            (DesiredSubAccount("cn-main", "ci-bot"),),
        )
        desired = Desired(
            state=StateSettings(path=str(tmp_path / "state.json")),
            secrets=SecretsSettings(command=command),
            minimax={"cn-main": group},
        )
        backend = FailingAfterFirstWrite(tmp_path / "state.json")
        state = backend.read()
        providers = ProviderPool(desired, {"MINIMAX_API_KEY": SANDBOX_MINIMAX_API_KEY})
        recorder = Recorder(backend, state, None)
        context = ApplyContext(desired, recorder, providers, command, lambda: NOW, lambda _: None)
        try:
            with recorder:
                receipt = apply_plan(make_plan(desired, {}, NOW), context)
        finally:
            providers.close()
        (account,) = sandbox.minimax_accounts(SANDBOX_MINIMAX_GROUP_ID)

    (outcome,) = receipt.outcomes
    assert outcome.result == FAILED
    assert "No space left on device" in outcome.message
    assert f"import it with subject_id {account['subject_id']}" in outcome.message
    assert json.loads(received.read_text())["token"] == account["token"]
    assert account["token"] not in outcome.message


def test_a_delete_of_a_protected_or_configured_account_is_refused_whatever_the_plan_says(
    tmp_path,
):
    # The planner never makes these; a plan that does (edited, or from a buggy version)
    # must still not delete an account the config keeps.
    with Sandbox() as sandbox:
        accounts = (
            DesiredSubAccount("cn-main", "kept", prevent_destroy=True),
            DesiredSubAccount("cn-main", "wanted"),
        )
        group = MinimaxGroup(
            "cn-main", SANDBOX_MINIMAX_GROUP_ID, "MINIMAX_API_KEY", sandbox.url, accounts
        )
        desired = Desired(
            state=StateSettings(path=str(tmp_path / "state.json")), minimax={"cn-main": group}
        )
        backend = LocalBackend(tmp_path / "state.json")
        state = backend.read()
        providers = ProviderPool(desired, {"MINIMAX_API_KEY": SANDBOX_MINIMAX_API_KEY})
        for account in accounts:
            created = providers.get(MINIMAX, "cn-main").create(account.name)
            state.put(
                RecordedSubAccount(
                    "cn-main",
                    account.name,
                    SANDBOX_MINIMAX_GROUP_ID,
                    created.subject_id,
                    prevent_destroy=account.prevent_destroy,
                )
            )
        deletes = tuple(
            Change(a.address, Action.DELETE, {}, None, "removed from config") for a in accounts
        )
        recorder = Recorder(backend, state, None)
        context = ApplyContext(desired, recorder, providers, None, lambda: NOW, lambda _: None)
        try:
            with recorder:
                receipt = apply_plan(Plan(changes=deletes), context)
        finally:
            providers.close()
        remaining = {a["account_name"] for a in sandbox.minimax_accounts(SANDBOX_MINIMAX_GROUP_ID)}

    messages = {o.address: o.message for o in receipt.outcomes if o.result == FAILED}
    assert "has prevent_destroy set: refusing to delete" in messages[accounts[0].address]
    assert "is still in the config: refusing to delete" in messages[accounts[1].address]
    assert remaining == {"kept", "wanted"}
    assert set(state.records()) == {a.address for a in accounts}
