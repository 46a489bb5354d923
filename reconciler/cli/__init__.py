"""The command line: parse, call, render, exit code. No business logic lives here.

Results go to stdout (plans, state listings, a secret asked for), messages and progress to
stderr. Exit codes: 0 success, 1 any error including usage errors (click's 2 would read as
"changes present" in CI), 2 only for ``plan --detailed-exitcode`` with changes. Every
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
from reconciler.cli.changes import apply, import_, plan, show, validate
from reconciler.cli.common import err
from reconciler.cli.tools import demo, sandbox
from reconciler.errors import ReconcilerError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.version_option(package_name="reconciler")
def cli(debug: bool) -> None:
    """Terraform-style GitOps for AI-provider accounts (MiniMax, xAI, useapi.net)."""


for command in (validate, plan, apply, show, import_, state, secrets, force_unlock, sandbox, demo):
    cli.add_command(command)


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: maps every outcome to an exit code (usage errors exit 1, not 2)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    # Reading a 10,000-account config makes ~10^5 objects without a cycle among them; the
    # default threshold (700) would run ~150 collections over them, 15% of a plan.
    gc.set_threshold(50_000, 20, 20)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        code = cli.main(args=args, prog_name="reconciler", standalone_mode=False)
    except click.exceptions.Abort:
        err("Aborted.")
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
        err(f"Internal error: {exc!r}. Run with --debug for the traceback, and please report it.")
        code = 1
    gc.freeze()
    sys.exit(code if isinstance(code, int) else 0)


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM (a cancelled CI job, ``timeout``, ``docker stop``) stops like Ctrl-C does.

    Dying at once would lose what a create in flight hands back: its password and token
    exist nowhere else. Ctrl-C's path lets the changes in flight finish and record.
    """
    raise KeyboardInterrupt
