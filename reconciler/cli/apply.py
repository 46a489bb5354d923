"""``reconciler apply``: plan and confirm, or run a saved plan; then the receipt.

Thin like every command: the workspace plans and executes, this module decides what a
person sees and when to stop. Without a plan file it shows the plan once and asks for
``yes`` on a terminal (``--auto-approve`` in CI). With a saved plan (``apply FILE``) the
config files come from the plan itself, so no ``-c`` is needed; it prints the summary
line, not the reviewed plan again. Either way, before the first provider change: an
unsafe plan (the blast-radius guard) is refused without ``--force``, a plan producing
secrets needs somewhere to keep them, and the state must be writable. Progress lines go
to stderr, the receipt to stdout.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import click

from reconciler.cli.common import (
    acceptance,
    config_option,
    continuity_options,
    err,
    grace_period,
    lock_timeout_option,
    no_color_option,
    now,
    target_option,
    use_color,
)
from reconciler.errors import PlanError, ReconcilerError

if TYPE_CHECKING:
    from reconciler.applier import Receipt
    from reconciler.model import Plan
    from reconciler.state import StateDocument
    from reconciler.workspace import Workspace


@click.command()
@click.argument("plan_file", required=False, metavar="[FILE]")
@config_option
@click.option("--auto-approve", is_flag=True, help="Apply without asking for confirmation.")
@click.option(
    "--parallelism",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    help="Changes to run at once.",
)
@target_option("Apply")
@click.option(
    "--force", is_flag=True, help="Apply a plan the blast-radius guard (safety:) marks unsafe."
)
@lock_timeout_option
@continuity_options
@no_color_option
def apply(
    plan_file: str | None,
    config_paths: Sequence[str],
    auto_approve: bool,
    parallelism: int,
    targets: Sequence[str],
    force: bool,
    lock_timeout: float,
    accept_lost_secrets: bool,
    adopt_state: bool,
    no_color: bool,
) -> int:
    """Make the providers match the config (or execute a saved plan)."""
    from reconciler.applier import check_secrets_ready
    from reconciler.saved_plan import load_saved_plan, saved_config
    from reconciler.workspace import Workspace

    color = use_color(no_color)
    saved = load_saved_plan(plan_file) if plan_file else None
    if saved and targets:
        raise PlanError("--target cannot narrow a saved plan; make a new plan with --target")
    directory = None
    if saved and plan_file and not config_paths:
        config_paths, directory = saved_config(saved, plan_file)
    workspace = Workspace.open(config_paths, os.environ, default_dir=directory)
    workspace.accept = acceptance(accept_lost_secrets, adopt_state)
    credentials = workspace.credentials(targets)
    grace = grace_period()
    backend = workspace.backend
    with backend.lock("apply", timeout=lock_timeout):
        store = workspace.secret_store()  # under the lock: another apply may have just saved it
        state = backend.read()
        if saved and plan_file:
            result = _accept(workspace, saved, state, plan_file, force)
        else:
            result = _plan_and_show(workspace, state, targets, color, force)
        if not result.has_changes:
            workspace.settle(state, store)
            return 0
        settings = workspace.secrets_settings
        check_secrets_ready(result, store, settings.command, settings.key_env)
        workspace.check_writable(result)
        if not saved and not auto_approve and not _confirm():
            return 1
        receipt = workspace.execute(result, state, store, credentials, now, err, parallelism, grace)
        code = _print_receipt(receipt, color)  # before the lock ends, which may report its loss
    return code


def _accept(
    workspace: Workspace, saved: Plan, state: StateDocument, plan_file: str, force: bool
) -> Plan:
    """The saved plan, if it still holds; its summary line (it was reviewed already)."""
    from reconciler.render import summary_line
    from reconciler.safety import blast_radius
    from reconciler.saved_plan import accept_saved_plan, check_live_values

    for warning in workspace.check_continuity(state):  # before planning, as plan did
        err(f"Warning: {warning}")
    accept_saved_plan(saved, state, workspace.config, workspace.config_files(), plan_file)
    # Judged again from this config and state: the file's own "unsafe" could be edited out.
    unsafe = blast_radius(saved.changes, state.records(), workspace.config.safety)
    result = replace(saved, unsafe=unsafe)
    if not result.has_changes:
        click.echo(f"The saved plan {plan_file} has no changes.")
        return result
    click.echo(f"Applying the saved plan {plan_file}. {summary_line(result)}")
    _refuse_unsafe(result, force)
    check_live_values(saved, plan_file, lambda: workspace.refresh(state, now(), values_only=True))
    return result


def _plan_and_show(
    workspace: Workspace, state: StateDocument, targets: Sequence[str], color: bool, force: bool
) -> Plan:
    """Plan (refreshing) and show it once; an unsafe plan is refused before any provider call.

    What the guard counts (deletes, disables) comes from the config and the state alone,
    so a plan without the refresh tells whether to stop before reading anything live.
    """
    from reconciler.render import render_text

    if not force:
        recorded = workspace.plan(state, now(), targets, refresh=False)
        if recorded.unsafe:
            click.echo(render_text(recorded, color=color), nl=False)
            _refuse_unsafe(recorded, force)
    result = workspace.plan(state, now(), targets, refresh=True)
    click.echo(render_text(result, color=color), nl=False)
    _refuse_unsafe(result, force)
    return result


def _refuse_unsafe(plan: Plan, force: bool) -> None:
    if not plan.unsafe:
        return
    reasons = "\n".join(f"  {reason}" for reason in plan.unsafe)
    if force:
        err(f"Applying an unsafe plan, as --force asks:\n{reasons}")
        return
    raise PlanError(
        f"this plan is unsafe (the blast-radius guard, safety: in the config):\n{reasons}\n"
        "Nothing was changed. If this is intended, apply it with --force; to change the "
        "threshold, set safety.max_delete_percent or safety.min_managed."
    )


def _confirm() -> bool:
    if not sys.stdin.isatty():
        raise ReconcilerError(
            "apply needs a confirmation and there is no terminal: pass --auto-approve, or apply a "
            "saved plan (`reconciler plan --out FILE`, then `reconciler apply FILE`). Nothing was changed."
        )
    answer = click.prompt(
        "\nDo you want to perform these actions? Only 'yes' will be accepted",
        default="",
        show_default=False,
        err=True,
    )
    if answer.strip() != "yes":
        err("Apply cancelled. Nothing was changed.")
        return False
    return True


def _print_receipt(receipt: Receipt, color: bool) -> int:
    from reconciler.applier import FAILED, PENDING, SKIPPED, SUCCEEDED

    def paint(text: str, fg: str) -> str:
        return click.style(text, fg=fg, bold=True) if color else text

    for outcome in receipt.outcomes:
        if outcome.result != SUCCEEDED:
            label = paint(
                f"{outcome.result.upper()}:", "red" if outcome.result == FAILED else "yellow"
            )
            click.echo(f"{label} {outcome.address} ({outcome.action.value}): {outcome.message}")
    ending = "interrupted" if receipt.interrupted else "complete" if receipt.ok else "incomplete"
    verdict = paint(f"Apply {ending}:", "green" if receipt.ok else "red")
    pending = receipt.count(PENDING)
    click.echo(
        f"{verdict} {receipt.count(SUCCEEDED)} succeeded, {receipt.count(FAILED)} failed, "
        f"{receipt.count(SKIPPED)} skipped" + (f", {pending} pending." if pending else ".")
    )
    return 0 if receipt.ok else 1
