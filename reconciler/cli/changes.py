"""The commands that read the config and plan: validate, plan, show, import (apply has
its own module).

Thin: each loads a ``Workspace``, calls the planner, renders, returns an exit code.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import click

from reconciler.cli.common import (
    acceptance,
    address_argument,
    config_option,
    continuity_options,
    err,
    format_option,
    lock_timeout_option,
    no_color_option,
    now,
    target_option,
    use_color,
)


@click.command()
@config_option
def validate(config_paths: Sequence[str]) -> int:
    """Check the config and schema, offline: no credentials, no provider call."""
    from reconciler.config import load_config

    desired = load_config(config_paths, os.environ)
    for warning in desired.warnings:
        err(f"Warning: {warning}")
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
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 2 when there are changes or drift (unmanaged spenders under `unmanaged: fail`).",
)
@target_option("Plan")
@click.option(
    "--no-refresh", is_flag=True, help="Skip live provider reads; needs no provider credential."
)
@lock_timeout_option
@continuity_options
@no_color_option
def plan(
    config_paths: Sequence[str],
    output_format: str,
    out_file: str | None,
    detailed_exitcode: bool,
    targets: Sequence[str],
    no_refresh: bool,
    lock_timeout: float,
    accept_lost_secrets: bool,
    adopt_state: bool,
    no_color: bool,
) -> int:
    """Show what apply would change. Creates no file but --out."""
    from reconciler.render import render
    from reconciler.saved_plan import save_plan
    from reconciler.workspace import Workspace

    workspace = Workspace.open(config_paths, os.environ)
    workspace.accept = acceptance(accept_lost_secrets, adopt_state)
    if out_file:
        workspace.refuse_to_overwrite(out_file)
    if not no_refresh:
        workspace.credentials(targets)  # every missing variable named before any call
    backend = workspace.backend
    with backend.lock("plan", shared=True, timeout=lock_timeout):
        state = backend.read()
        result = workspace.plan(state, now(), targets, refresh=not no_refresh)
    click.echo(render(result, output_format, color=use_color(no_color)), nl=False)
    if out_file:
        save_plan(result, out_file)
        err(f"Saved the plan to {out_file}: apply it with `reconciler apply {out_file}`.")
    return 2 if detailed_exitcode and (result.has_changes or result.drifted) else 0


@click.command()
@click.argument("plan_file", metavar="FILE")
@format_option
@no_color_option
def show(plan_file: str, output_format: str, no_color: bool) -> int:
    """Render a saved plan."""
    from reconciler.render import render
    from reconciler.saved_plan import load_saved_plan

    result = load_saved_plan(plan_file)
    click.echo(render(result, output_format, color=use_color(no_color)), nl=False)
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
