"""``reconciler demo``: the whole loop against the built-in sandbox, no credentials needed.

Starts the sandbox on a free loopback port, copies the quickstart config into a temporary
directory (pointed at that port), and runs the real commands in-process with throwaway
keys: validate, plan, apply (three sub-accounts and an xAI spending limit), plan again (no
changes), state list; then someone lowers the xAI limit in the console behind the tool's
back and the nightly drift check catches it (exit 2); then a config edit rotates a token,
and one apply fixes both. Last comes money: ci-bot spends past its budget and an account
made in the MiniMax console spends too; ``usage`` shows who spent what, ``plan`` disables
ci-bot and names the stranger, ``apply`` acts and ``check`` still reports the broken
budget (exit 2). Everything it wrote is deleted at the end; nothing touches the current
directory.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import click

from reconciler.secrets import generate_key

if TYPE_CHECKING:
    from reconciler.sandbox import Sandbox

DRIFTED_CENTS = 25000  # what "someone in the console" sets the xAI limit to
STRANGER = "临时工"  # an account "someone" makes in the MiniMax console

# Each step: a command and the exit codes it may end with, or a change made by hand.
STEPS: tuple[tuple[str, ...], ...] = (
    ("run", "validate"),
    ("run", "plan"),
    ("run", "apply", "--auto-approve"),
    ("run", "plan", "--detailed-exitcode"),
    ("run", "state", "list"),
    ("console", "someone lowers the xAI spending limit to $250.00 in the xAI console", "limit"),
    ("drift", "plan", "--detailed-exitcode"),
    ("edit", "ci-bot: token_generation 1 -> 2 (rotate its API token)"),
    ("run", "plan"),
    ("run", "apply", "--auto-approve"),
    ("run", "plan", "--detailed-exitcode"),
    (
        "console",
        f"ci-bot spends 6.00 (its budget is 5.00); {STRANGER}, made in the console, spends 3.21",
        "spend",
    ),
    ("run", "usage"),
    ("run", "plan"),
    ("run", "apply", "--auto-approve"),
    ("broken", "check"),
)


def quickstart_config(base_url: str) -> str:
    """The shipped quickstart config, pointed at ``base_url``."""
    text = (
        resources.files("reconciler")
        .joinpath("examples", "quickstart", "reconciler.yaml")
        .read_text("utf-8")
    )
    return re.sub(r"base_url: http://127\.0\.0\.1:\d+", f"base_url: {base_url}", text)


def run_demo(cli: click.Group, say: Callable[[str], None]) -> int:
    """Run each step as the CLI would; stop at the first one that ends unexpectedly."""
    from reconciler.sandbox import (
        SANDBOX_MINIMAX_API_KEY,
        SANDBOX_MINIMAX_GROUP_ID,
        SANDBOX_USEAPI_TOKEN,
        SANDBOX_XAI_MANAGEMENT_KEY,
        SANDBOX_XAI_TEAM_ID,
        Sandbox,
    )

    with tempfile.TemporaryDirectory(prefix="reconciler-demo-") as workdir, Sandbox() as sandbox:
        Path(workdir, "reconciler.yaml").write_text(
            quickstart_config(sandbox.url), encoding="utf-8"
        )
        say(f"Sandbox running at {sandbox.url}; working in {workdir} (deleted afterwards).")
        env = {
            "MINIMAX_API_KEY": SANDBOX_MINIMAX_API_KEY,
            "XAI_MANAGEMENT_KEY": SANDBOX_XAI_MANAGEMENT_KEY,
            "USEAPI_TOKEN": SANDBOX_USEAPI_TOKEN,
            "RECONCILER_SECRET_KEY": generate_key(),
        }
        with _inside(workdir), _environment(env):
            for step, *args in STEPS:
                if step == "edit":
                    say(f"\n# edit reconciler.yaml: {args[0]}")
                    _raise_generation(Path("reconciler.yaml"))
                    continue
                if step == "console":
                    say(f"\n# meanwhile, {args[0]}")
                    _behind_the_back(sandbox, args[1])
                    continue
                expected = (2,) if step in ("drift", "broken") else (0, None)
                say(f"\n$ reconciler {' '.join(args)}")
                code = cli.main(args=args, prog_name="reconciler", standalone_mode=False)
                if code not in expected:
                    say(f"The demo stopped: `reconciler {' '.join(args)}` exited {code}.")
                    return 1
                if step == "drift":
                    say("(exit 2: the nightly drift check would fail here, and name the drift)")
                if step == "broken":
                    say("(exit 2: a guard rail is broken; ci-bot is disabled until next month)")
        _show_sandbox(sandbox, SANDBOX_MINIMAX_GROUP_ID, SANDBOX_XAI_TEAM_ID, say)
    return 0


def _behind_the_back(sandbox: Sandbox, what: str) -> None:
    """What "someone" does in a provider's console while reconciler is not looking."""
    from reconciler.sandbox import SANDBOX_MINIMAX_GROUP_ID, SANDBOX_XAI_TEAM_ID

    if what == "limit":
        sandbox.set_xai_soft_limit(SANDBOX_XAI_TEAM_ID, DRIFTED_CENTS)
        return
    group = SANDBOX_MINIMAX_GROUP_ID
    sandbox.add_minimax_spend(group, "ci-bot", "6.0000", model="MiniMax-M1", tokens=300_000)
    sandbox.create_minimax_sub_account(group, STRANGER)
    sandbox.add_minimax_spend(group, STRANGER, "3.2100", model="abab6.5s-chat", tokens=321_000)


def _show_sandbox(
    sandbox: Sandbox, group_id: str, team_id: str, say: Callable[[str], None]
) -> None:
    say("\nThe sandbox now holds:")
    for account in sandbox.minimax_accounts(group_id):
        status = "enabled" if account["status"] == 0 else "disabled"
        say(f"  MiniMax {account['account']}  subject_id {account['subject_id']}  {status}")
    cents = int(sandbox.xai_spending_limits(team_id)["softSl"]["val"])
    say(f"  xAI team {team_id}  soft spending limit ${cents / 100:,.2f}")
    say(
        "\nThe passwords and tokens went only to the encrypted store "
        "(`reconciler secrets show ADDR` decrypts one). Next: README.md, GitOps walkthrough."
    )


def _raise_generation(config: Path) -> None:
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace("token_generation: 1", "token_generation: 2", 1), encoding="utf-8"
    )


@contextlib.contextmanager
def _inside(directory: str) -> Iterator[None]:
    previous = os.getcwd()
    os.chdir(directory)
    try:
        yield
    finally:
        os.chdir(previous)


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
