"""The applier in-process against the sandbox, where a test needs to break the disk."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from reconciler.applier import FAILED, ApplyContext, ProviderPool, Recorder, apply_plan
from reconciler.errors import StateError
from reconciler.model import (
    Desired,
    DesiredSubAccount,
    MinimaxGroup,
    SecretsSettings,
    StateSettings,
)
from reconciler.planner import make_plan
from reconciler.sandbox import SANDBOX_MINIMAX_API_KEY, SANDBOX_MINIMAX_GROUP_ID, Sandbox
from reconciler.state import LocalBackend, StateDocument

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


class FailingAfterFirstWrite(LocalBackend):
    """A disk that fills up right after the pending record of a create is written."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.writes = 0

    def write(self, state: StateDocument) -> None:
        self.writes += 1
        if self.writes > 1:
            raise StateError(f"cannot write state {self.path}: No space left on device")
        super().write(state)


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
        context = ApplyContext(
            desired, Recorder(backend, state, None), providers, command, lambda: NOW, lambda _: None
        )
        try:
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
