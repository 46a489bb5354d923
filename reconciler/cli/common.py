"""What every command shares: options (-c, --format, --lock-timeout, --no-color), the
clock, colour, stderr messages.

Part of the CLI layer (parse, call, render, exit code). ``err`` is how commands talk to
people on stderr; results go to stdout with ``click.echo``.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

import click

from reconciler.errors import ReconcilerError

if TYPE_CHECKING:
    from reconciler.continuity import Acceptance
    from reconciler.workspace import Workspace

FC = TypeVar("FC", bound=Callable[..., object])

config_option = click.option(
    "-c",
    "--config",
    "config_paths",
    multiple=True,
    metavar="PATH",
    help="Config file or directory of *.yaml files; repeatable. Default: $RECONCILER_CONFIG, "
    "else reconciler.yaml, reconciler.yml or reconciler/.",
)
format_option = click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="Output format.",
)


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


class Duration(click.ParamType[float]):
    """A duration as Terraform writes it: ``30s``, ``5m``, ``1m30s``, ``500ms``; a bare number
    is seconds. Converts to seconds."""

    name = "duration"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, int | float):
            return float(value)
        text = str(value).strip()
        if re.fullmatch(r"\d+(\.\d+)?", text):
            return float(text)
        parts = _DURATION_PART.findall(text)
        if not parts or "".join(n + u for n, u in parts) != text:
            self.fail(f"{text!r} is not a duration like 30s, 5m or 1m30s", param, ctx)
        return sum(float(number) * _UNIT_S[unit] for number, unit in parts)


def grace_period() -> float:
    """Seconds an interrupted apply waits for the answers in flight: ``RECONCILER_GRACE_PERIOD``
    (a duration like ``8s`` or ``1m``; 0 abandons them at once), else ``GRACE_S``."""
    from reconciler.stopping import GRACE_S

    text = os.environ.get("RECONCILER_GRACE_PERIOD", "").strip()
    if not text:
        return GRACE_S
    try:
        return Duration().convert(text, None, None)
    except click.BadParameter:
        raise ReconcilerError(
            f"RECONCILER_GRACE_PERIOD={text[:24]!r} is not a duration like 8s, 30s or 1m"
        ) from None


lock_timeout_option = click.option(
    "--lock-timeout",
    type=Duration(),
    default="0s",
    show_default=True,
    metavar="DURATION",
    help="Wait this long for a state lock held by another command (30s, 5m).",
)


def target_option(verb: str) -> Callable[[FC], FC]:
    """``--target ADDR`` (repeatable), for plan and apply."""
    return click.option(
        "--target",
        "targets",
        multiple=True,
        metavar="ADDR",
        help=f"{verb} only this address or group (repeatable); one that names nothing is an error.",
    )


def continuity_options(command: FC) -> FC:
    """``--accept-lost-secrets`` and ``--adopt-state``: losses plan and apply refuse unless told."""
    command = click.option(
        "--adopt-state",
        is_flag=True,
        help="Apply a state another config directory applied: what it holds and this config "
        "lacks is planned for deletion.",
    )(command)
    return click.option(
        "--accept-lost-secrets",
        is_flag=True,
        help="Go on although the secrets store this state's secrets were sealed in is missing "
        "or another one: its tokens and passwords are given up.",
    )(command)


def acceptance(accept_lost_secrets: bool, adopt_state: bool) -> Acceptance:
    from reconciler.continuity import Acceptance

    return Acceptance(lost_secrets=accept_lost_secrets, adopt_state=adopt_state)


no_color_option = click.option(
    "--no-color", is_flag=True, help="No colours (also: NO_COLOR set, or not a terminal)."
)


def use_color(no_color: bool) -> bool:
    """Colour only on a terminal, never with --no-color, NO_COLOR (https://no-color.org) or TERM=dumb."""
    if no_color or os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return sys.stdout.isatty()


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
