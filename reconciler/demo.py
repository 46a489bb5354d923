"""``reconciler demo``: the whole loop against the built-in sandbox, no credentials needed.

Starts the sandbox on a free loopback port, copies the quickstart config into a temporary
directory (pointed at that port), and runs the real commands in-process with a throwaway
API key and encryption key: validate, plan, apply, plan again (no changes), state list,
then a config edit that rotates a token, its plan and its apply.
Everything it wrote is deleted at the end; nothing touches the current directory.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path

import click

from reconciler.secrets import generate_key

STEPS = (
    ["validate"],
    ["plan"],
    ["apply", "--auto-approve"],
    ["plan", "--detailed-exitcode"],
    ["state", "list"],
    ["edit", "ci-bot: token_generation 1 -> 2 (rotate its API token)"],
    ["plan"],
    ["apply", "--auto-approve"],
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
    """Run each step as the CLI would; stop at the first failing one."""
    from reconciler.sandbox import SANDBOX_MINIMAX_API_KEY, SANDBOX_MINIMAX_GROUP_ID, Sandbox

    with tempfile.TemporaryDirectory(prefix="reconciler-demo-") as workdir, Sandbox() as sandbox:
        Path(workdir, "reconciler.yaml").write_text(
            quickstart_config(sandbox.url), encoding="utf-8"
        )
        say(f"Sandbox running at {sandbox.url}; working in {workdir} (deleted afterwards).")
        env = {"MINIMAX_API_KEY": SANDBOX_MINIMAX_API_KEY, "RECONCILER_SECRET_KEY": generate_key()}
        with _inside(workdir), _environment(env):
            for args in STEPS:
                if args[0] == "edit":
                    say(f"\n# edit reconciler.yaml: {args[1]}")
                    _raise_generation(Path("reconciler.yaml"))
                    continue
                say(f"\n$ reconciler {' '.join(args)}")
                code = cli.main(args=args, prog_name="reconciler", standalone_mode=False)
                if code not in (0, None):
                    say(f"The demo stopped: `reconciler {' '.join(args)}` exited {code}.")
                    return 1
        accounts = sandbox.minimax_accounts(SANDBOX_MINIMAX_GROUP_ID)
        say("\nThe sandbox now holds:")
        for account in accounts:
            status = "enabled" if account["status"] == 0 else "disabled"
            say(f"  {account['account']}  subject_id {account['subject_id']}  {status}")
        say(
            "\nTheir passwords and tokens went only to the encrypted store "
            "(`reconciler secrets show ADDR` decrypts one). Next: README.md, GitOps walkthrough."
        )
    return 0


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
