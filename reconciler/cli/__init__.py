"""The command line: parse, call, render, exit code. No business logic lives here.

Results go to stdout (plans, state listings, a secret asked for), messages and progress to
stderr. Exit codes: 0 success, 1 any error including usage errors (click's 2 would read as
"changes present" in CI), 2 only for ``plan --detailed-exitcode`` with changes or drift and
for ``check`` with a broken guard rail. Every
``ReconcilerError`` becomes ``Error: ...`` and exit 1; tracebacks only with ``--debug``.
The CLI package is the only place that prints.
"""

from __future__ import annotations

import gc
import signal
import sys
from collections.abc import Sequence

import click

from reconciler.cli.admin import force_unlock, secrets, state
from reconciler.cli.apply import apply
from reconciler.cli.changes import import_, plan, show, validate
from reconciler.cli.common import err
from reconciler.cli.money import check, usage
from reconciler.cli.tools import demo, sandbox
from reconciler.cli.transfer import state_pull, state_push
from reconciler.errors import ReconcilerError, describe_bug


def _clear_stop() -> None:
    """A stop asked of an earlier command in this process (tests run several) is forgotten.
    Not imported when not yet loaded: a fresh module has no stop, and --help stays fast."""
    http = sys.modules.get("reconciler.providers.http")
    if http is not None:
        http.clear_stop()


@click.group(
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Exit codes: 0 success, 1 any error, 2 changes present (plan --detailed-exitcode) "
    "or a guard rail broken (check). "
    'Shell completion: eval "$(_RECONCILER_COMPLETE=bash_source reconciler)" in ~/.bashrc '
    "(zsh_source for zsh; fish_source for fish).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.version_option(
    package_name="ai-account-reconciler",
    message="%(prog)s %(version)s (Python distribution %(package)s)",
)
def cli(debug: bool) -> None:
    """Terraform-style GitOps for AI-provider accounts (MiniMax, xAI, useapi.net)."""


for command in (validate, plan, apply, show, import_, state, secrets, force_unlock, sandbox, demo):
    cli.add_command(command)
cli.add_command(usage)
cli.add_command(check)
state.add_command(state_pull)
state.add_command(state_push)


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: maps every outcome to an exit code (usage errors exit 1, not 2)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    # Reading a 10,000-account config makes ~10^5 objects without a cycle among them; the
    # default threshold (700) would run ~150 collections over them, 15% of a plan.
    gc.set_threshold(50_000, 20, 20)
    for stop_signal in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(stop_signal, _interrupt)
    _clear_stop()
    try:
        code = cli.main(args=args, prog_name="reconciler", standalone_mode=False)
    except click.exceptions.Abort:  # click's name for Ctrl-C (or EOF at a prompt)
        err("Interrupted.")
        code = 1
    except click.ClickException as exc:
        exc.show()
        code = 1
    except ReconcilerError as exc:
        if debug:
            raise
        err(f"Error: {exc}")
        code = 1
    except OSError as exc:
        if debug:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        err(f"Error: {where}{exc.strerror or exc}")
        code = 1
    except KeyboardInterrupt:
        err("Interrupted.")
        code = 1
    except Exception as exc:
        if debug:
            raise
        err(
            f"Internal error: {describe_bug(exc)}. Run with --debug for the traceback, and "
            "please report it."
        )
        code = 1
    gc.freeze()
    sys.exit(code if isinstance(code, int) else 0)


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM (a cancelled CI job, ``timeout``, ``docker stop``) and SIGHUP (a dropped ssh
    session or terminal) stop like Ctrl-C does.

    Dying at once would lose what a create in flight hands back: its password and token
    exist nowhere else. Ctrl-C's path lets the changes in flight finish and record.
    """
    raise KeyboardInterrupt
