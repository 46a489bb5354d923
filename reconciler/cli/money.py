"""The money commands: ``usage`` (what was spent, what is left) and ``check`` (guard rails).

Thin, like every command: parse, call ``billing.run``, render, exit code. ``usage`` writes
its table, CSV or JSON to stdout and nothing else there; ``check`` exits 2 when a guard
rail is broken, 0 when all hold, 1 on any error (a provider refusal among them).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import date, timedelta

import click

from reconciler.cli.common import config_option, now
from reconciler.errors import ReconcilerError


@click.command()
@config_option
@click.option(
    "--from", "first", metavar="YYYY-MM-DD", help="First day (UTC). Default: the 1st of this month."
)
@click.option(
    "--to", "last", metavar="YYYY-MM-DD", help="Last day, inclusive (UTC). Default: today."
)
@click.option(
    "--by",
    type=click.Choice(["account", "model", "day"]),
    default="account",
    show_default=True,
    help="Group MiniMax and xAI spend by spender, model or day.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)
def usage(
    config_paths: Sequence[str], first: str | None, last: str | None, by: str, output_format: str
) -> int:
    """Spend per sub-account, model or day; xAI credit and invoices; useapi.net credits."""
    from reconciler.billing.run import usage_report
    from reconciler.render_usage import USAGE_RENDERERS
    from reconciler.workspace import Workspace

    moment = now()
    span = _span(first, last, moment.date())
    workspace = Workspace.open(config_paths, os.environ)
    report = usage_report(workspace, span, by, moment)
    click.echo(USAGE_RENDERERS[output_format](report), nl=False)
    return 0


def _span(first: str | None, last: str | None, today: date) -> tuple[date, date]:
    end = _day(last, "--to") if last else today
    start = _day(first, "--from") if first else end.replace(day=1)
    if start > end:
        raise ReconcilerError(f"--from {start} is after --to {end}")
    if end - start > timedelta(days=3660):
        raise ReconcilerError("the range may span at most ten years")
    return start, end


def _day(text: str, option: str) -> date:
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise ReconcilerError(f"{option} {text!r} is not a day: write it as YYYY-MM-DD")


@click.command()
@config_option
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
)
def check(config_paths: Sequence[str], output_format: str) -> int:
    """Judge budgets, credit floors and unmanaged spenders; exit 2 when one is broken."""
    from reconciler.billing.run import judge_money
    from reconciler.render_money import check_json, check_text
    from reconciler.workspace import Workspace

    workspace = Workspace.open(config_paths, os.environ)
    report = judge_money(workspace, now())
    click.echo((check_json if output_format == "json" else check_text)(report), nl=False)
    return 2 if report.broken() else 0
