"""The commands that read the config and plan: validate, plan, apply, show, import.

Thin: each loads a ``Workspace``, calls the planner or applier, renders, returns an exit
code. Confirmation and the final receipt are printed here, never in the applier.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from reconciler.cli.common import address_argument, config_option, err, format_option, now
from reconciler.errors import PlanError, ReconcilerError

if TYPE_CHECKING:
    from reconciler.applier import Receipt


@click.command()
@config_option
def validate(config_paths: Sequence[str]) -> int:
    """Check the config and schema, offline: no credentials, no provider call."""
    from reconciler.config import load_config

    desired = load_config(config_paths)
    accounts = len(desired.sub_accounts())
    err(
        f"The configuration is valid: {len(desired.files)} file(s), {len(desired.minimax)} MiniMax "
        f"group(s), {accounts} sub-account(s), {len(desired.xai)} xAI team(s), "
        f"{len(desired.useapi)} useapi.net account(s)."
    )
    return 0


@click.command()
@config_option
@format_option
@click.option(
    "--out", "out_file", metavar="FILE", help="Save the plan for `reconciler apply FILE`."
)
@click.option(
    "--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes, 0 when none."
)
@click.option(
    "--target", "targets", multiple=True, metavar="ADDR", help="Plan only this address (or group)."
)
@click.option("--no-refresh", is_flag=True, help="Skip live provider reads.")
def plan(
    config_paths: Sequence[str],
    output_format: str,
    out_file: str | None,
    detailed_exitcode: bool,
    targets: Sequence[str],
    no_refresh: bool,
) -> int:
    """Show what apply would change."""
    from reconciler.render import RENDERERS
    from reconciler.workspace import Workspace, save_plan

    workspace = Workspace.open(config_paths, os.environ)
    workspace.credentials()
    backend = workspace.backend
    with backend.lock("plan", shared=True):
        state = backend.read()
        result = workspace.plan(state, now(), targets, refresh=not no_refresh)
    click.echo(RENDERERS[output_format](result), nl=False)
    if out_file:
        save_plan(result, out_file)
        err(f"Saved the plan to {out_file}: apply it with `reconciler apply {out_file}`.")
    return 2 if detailed_exitcode and result.has_changes else 0


@click.command()
@click.argument("plan_file", required=False, metavar="[FILE]")
@config_option
@click.option("--auto-approve", is_flag=True, help="Apply without asking for confirmation.")
@click.option("--parallelism", type=click.IntRange(1, 64), default=4, show_default=True)
@click.option(
    "--target", "targets", multiple=True, metavar="ADDR", help="Apply only this address (or group)."
)
def apply(
    plan_file: str | None,
    config_paths: Sequence[str],
    auto_approve: bool,
    parallelism: int,
    targets: Sequence[str],
) -> int:
    """Make the providers match the config (or execute a saved plan)."""
    from reconciler.applier import check_secrets_ready
    from reconciler.render import render_text, summary_line
    from reconciler.workspace import Workspace, accept_saved_plan, load_saved_plan

    workspace = Workspace.open(config_paths, os.environ)
    credentials = workspace.credentials()
    saved = load_saved_plan(plan_file) if plan_file else None
    if saved and targets:
        raise PlanError("--target cannot narrow a saved plan; make a new plan with --target")
    backend = workspace.backend
    with backend.lock("apply"):
        store = workspace.secret_store()  # under the lock: another apply may have just saved it
        state = backend.read()
        if saved:
            accept_saved_plan(
                saved,
                state,
                workspace.config,
                plan_file or "",
                lambda: workspace.refresh(state, now(), values_only=True),
            )
            result = saved
        else:
            # The access checks run beside the first changes (or alone below): not before.
            result = workspace.plan(state, now(), targets, refresh=True, checks=False)
        click.echo(render_text(result), nl=False)
        if not result.has_changes:
            if not saved:
                workspace.check_access(state, now())
            return 0
        settings = workspace.secrets_settings
        check_secrets_ready(result, store, settings.command, settings.key_env)
        workspace.check_writable()
        if not saved and not auto_approve and not _confirm(summary_line(result)):
            return 1
        receipt = workspace.execute(
            result, state, store, credentials, now, err, parallelism, checks=not saved
        )
    return _print_receipt(receipt)


def _confirm(summary: str) -> bool:
    if not sys.stdin.isatty():
        raise ReconcilerError(
            "apply needs a confirmation and there is no terminal: pass --auto-approve, or apply a "
            "saved plan (`reconciler plan --out FILE`, then `reconciler apply FILE`). Nothing was changed."
        )
    answer = click.prompt(
        f"\n{summary}\nDo you want to perform these actions? Only 'yes' will be accepted",
        default="",
        show_default=False,
        err=True,
    )
    if answer.strip() != "yes":
        err("Apply cancelled. Nothing was changed.")
        return False
    return True


def _print_receipt(receipt: Receipt) -> int:
    from reconciler.applier import FAILED, SKIPPED, SUCCEEDED

    for outcome in receipt.outcomes:
        if outcome.result != SUCCEEDED:
            click.echo(
                f"{outcome.result.upper()}: {outcome.address} ({outcome.action.value}): {outcome.message}"
            )
    click.echo(
        f"Apply {'complete' if receipt.ok else 'incomplete'}: {receipt.count(SUCCEEDED)} succeeded, "
        f"{receipt.count(FAILED)} failed, {receipt.count(SKIPPED)} skipped."
    )
    if receipt.error:
        err(f"Error: {receipt.error}")
    return 0 if receipt.ok else 1


@click.command()
@click.argument("plan_file", metavar="FILE")
@format_option
def show(plan_file: str, output_format: str) -> int:
    """Render a saved plan."""
    from reconciler.render import RENDERERS
    from reconciler.workspace import load_saved_plan

    click.echo(RENDERERS[output_format](load_saved_plan(plan_file)), nl=False)
    return 0


@click.command(name="import")
@address_argument
@click.argument("subject_id", metavar="ID")
@click.option(
    "--forget-sealed-secrets",
    is_flag=True,
    help="Drop secrets the store holds for another subject_id at ADDR (an account that is gone).",
)
@config_option
def import_(
    address: str, subject_id: str, forget_sealed_secrets: bool, config_paths: Sequence[str]
) -> int:
    """Adopt an existing sub-account by its subject_id (from the MiniMax console)."""
    from reconciler.importer import import_resource, sealed_for_others
    from reconciler.workspace import Workspace

    workspace = Workspace.open(config_paths, os.environ)
    backend = workspace.backend
    with backend.lock("import"):
        state = backend.read()
        store = workspace.secret_index()
        record = import_resource(workspace.config, state, address, subject_id)
        stale = sealed_for_others(store, address, subject_id, forget_sealed_secrets)
        backend.write(state)  # first: a failing store write then loses nothing
        if stale:
            store.forget_if_other(address, subject_id)
            store.save()
    err(
        f"Imported {record.address} (subject_id {subject_id}). MiniMax cannot be read, so its status is "
        "unknown: the next plan sets it to the configured one."
    )
    if store.has(address):
        err(
            "Its token and password, sealed by an interrupted create, are in the store: `reconciler secrets show`."
        )
    else:
        err("No token is known: raise token_generation to issue one that reconciler keeps.")
    return 0
