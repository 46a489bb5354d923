"""What every command shares: the -c and --format options, the clock, stderr messages.

Part of the CLI layer (parse, call, render, exit code). ``err`` is how commands talk to
people on stderr; results go to stdout with ``click.echo``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from reconciler.errors import ReconcilerError

if TYPE_CHECKING:
    from reconciler.workspace import Workspace

config_option = click.option(
    "-c",
    "--config",
    "config_paths",
    multiple=True,
    metavar="PATH",
    help="Config file or directory of *.yaml files; repeatable. Default: reconciler.yaml.",
)
format_option = click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="Output format.",
)


def _canonical(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from reconciler.resources import canonical_address

    return canonical_address(value)


# Every command that takes an address reads it in reconciler's own spelling.
address_argument = click.argument("address", metavar="ADDR", callback=_canonical)


def now() -> datetime:
    """The current time; ``RECONCILER_NOW`` (ISO 8601) pins it for tests and reproducible demos."""
    pinned = os.environ.get("RECONCILER_NOW")
    if pinned:
        try:
            moment = datetime.fromisoformat(pinned.replace("Z", "+00:00"))
        except ValueError:
            raise ReconcilerError(f"RECONCILER_NOW={pinned!r} is not an ISO 8601 time") from None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return datetime.now(UTC).replace(microsecond=0)


def err(message: str) -> None:
    click.echo(message, err=True)


def open_workspace(config_paths: Sequence[str]) -> Workspace:
    """For state, secrets and force-unlock: the config when there is one, else the defaults."""
    from reconciler.workspace import Workspace

    return Workspace.open(config_paths, os.environ, optional=True)
