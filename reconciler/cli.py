"""The command line: parse, call, render, exit code. No business logic lives here.

Results go to stdout (plans, state listings, a secret asked for), messages and progress to
stderr. Exit codes: 0 success, 1 any error including usage errors (click's 2 would read as
"changes present" in CI), 2 only for ``plan --detailed-exitcode`` with changes. Every
``ReconcilerError`` becomes ``Error: ...`` and exit 1; tracebacks only with ``--debug``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

import click

from reconciler.errors import PlanError, ReconcilerError, StateError

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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.version_option(package_name="reconciler")
def cli(debug: bool) -> None:
    """Terraform-style GitOps for AI-provider accounts (MiniMax, xAI, useapi.net)."""


@cli.command()
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


@cli.command()
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


@cli.command()
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
    from reconciler.applier import (
        ApplyContext,
        ProviderPool,
        Recorder,
        apply_plan,
        check_secrets_ready,
    )
    from reconciler.render import render_text, summary_line
    from reconciler.workspace import Workspace, accept_saved_plan, load_saved_plan

    workspace = Workspace.open(config_paths, os.environ)
    credentials = workspace.credentials()
    store = workspace.secret_store()
    saved = load_saved_plan(plan_file) if plan_file else None
    if saved and targets:
        raise PlanError("--target cannot narrow a saved plan; make a new plan with --target")
    backend = workspace.backend
    with backend.lock("apply"):
        state = backend.read()
        if saved:
            accept_saved_plan(saved, state, workspace.config, plan_file or "")
            result = saved
        else:
            result = workspace.plan(state, now(), targets, refresh=True)
            click.echo(render_text(result), nl=False)
        if not result.has_changes:
            if saved:
                click.echo("No changes. The providers match the configuration.")
            return 0
        check_secrets_ready(
            result, store, workspace.secrets_settings.command, workspace.secrets_settings.key_env
        )
        if not saved and not auto_approve and not _confirm(summary_line(result)):
            return 1
        providers = ProviderPool(workspace.config, credentials)
        context = ApplyContext(
            workspace.config,
            Recorder(backend, state, store),
            providers,
            workspace.secrets_settings.command,
            now,
            err,
        )
        try:
            receipt = apply_plan(result, context, parallelism)
        finally:
            providers.close()
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


def _print_receipt(receipt) -> int:  # type: ignore[no-untyped-def]
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
    return 0 if receipt.ok else 1


@cli.command()
@click.argument("plan_file", metavar="FILE")
@format_option
def show(plan_file: str, output_format: str) -> int:
    """Render a saved plan."""
    from reconciler.render import RENDERERS
    from reconciler.workspace import load_saved_plan

    click.echo(RENDERERS[output_format](load_saved_plan(plan_file)), nl=False)
    return 0


@cli.command(name="import")
@click.argument("address", metavar="ADDR")
@click.argument("subject_id", metavar="ID")
@config_option
def import_(address: str, subject_id: str, config_paths: Sequence[str]) -> int:
    """Adopt an existing sub-account by its subject_id (from the MiniMax console)."""
    from reconciler.importer import import_sub_account
    from reconciler.workspace import Workspace

    workspace = Workspace.open(config_paths, os.environ)
    backend = workspace.backend
    with backend.lock("import"):
        state = backend.read()
        record = import_sub_account(workspace.config, state, address, subject_id)
        backend.write(state)
    err(
        f"Imported {record.address} (subject_id {subject_id}). MiniMax cannot be read, so its status is "
        "unknown: the next plan sets it to the configured one. No token is known: raise token_generation "
        "to issue one that reconciler keeps."
    )
    return 0


@cli.group()
def state() -> None:
    """Inspect or edit the recorded state."""


@state.command(name="list")
@config_option
def state_list(config_paths: Sequence[str]) -> int:
    """List recorded addresses."""
    backend = _workspace(config_paths).backend
    for address, data in sorted(backend.read().resources.items()):
        suffix = " (pending create)" if data.get("pending") else ""
        click.echo(f"{address}{suffix}")
    return 0


@state.command(name="show")
@click.argument("address", metavar="ADDR")
@config_option
def state_show(address: str, config_paths: Sequence[str]) -> int:
    """Show one recorded resource (no secrets: fingerprints only)."""
    import json

    resources = _workspace(config_paths).backend.read().resources
    if address not in resources:
        raise StateError(f"{address} is not in the state (see `reconciler state list`)")
    click.echo(json.dumps(resources[address], indent=2, ensure_ascii=False))
    return 0


@state.command(name="rm")
@click.argument("address", metavar="ADDR")
@config_option
def state_rm(address: str, config_paths: Sequence[str]) -> int:
    """Forget a resource without deleting it at the provider."""
    backend = _workspace(config_paths).backend
    with backend.lock("state rm"):
        current = backend.read()
        if address not in current.resources:
            raise StateError(f"{address} is not in the state (see `reconciler state list`)")
        current.remove(address)
        backend.write(current)
    err(f"Removed {address} from the state; it still exists at the provider, unmanaged.")
    return 0


@cli.group()
def secrets() -> None:
    """Encryption key and stored secrets."""


@secrets.command()
def keygen() -> int:
    """Print a new encryption key (put it in RECONCILER_SECRET_KEY)."""
    from reconciler.secrets import generate_key

    click.echo(generate_key())
    return 0


@secrets.command(name="show")
@click.argument("address", metavar="ADDR")
@click.option(
    "--field", type=click.Choice(["token", "password"]), default="token", show_default=True
)
@config_option
def secrets_show(address: str, field: str, config_paths: Sequence[str]) -> int:
    """Decrypt and print one stored secret."""
    from reconciler.errors import SecretsError

    workspace = _workspace(config_paths)
    store = workspace.secret_store()
    if store is None:
        raise SecretsError(
            f"{workspace.secrets_settings.key_env} is unset: it holds the key to the secrets store"
        )
    click.echo(store.get(address, field))
    return 0


@cli.command(name="force-unlock")
@click.argument("lock_id", metavar="LOCK_ID")
@config_option
def force_unlock(lock_id: str, config_paths: Sequence[str]) -> int:
    """Release a state lock held by a process that hangs (a dead one has released it already)."""
    holder = _workspace(config_paths).backend.force_unlock(lock_id)
    err(f"Released the lock held by {holder.describe()}.")
    return 0


@cli.command()
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
def sandbox(port: int, host: str) -> int:
    """Run the local emulator of the provider APIs (data in memory)."""
    from reconciler.sandbox import SANDBOX_MINIMAX_API_KEY, SANDBOX_MINIMAX_GROUP_ID, Sandbox

    server = Sandbox(host=host, port=port)
    err(f"Sandbox listening on {server.url}")
    err(
        f"  MiniMax: group_id {SANDBOX_MINIMAX_GROUP_ID}, API key {SANDBOX_MINIMAX_API_KEY!r} (a test value)"
    )
    err("Press Ctrl-C to stop.")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        err("Stopped.")
    finally:
        server.stop()
    return 0


@cli.command()
def demo() -> int:
    """Start the sandbox, then plan and apply the quickstart example: no credentials needed."""
    from reconciler.demo import run_demo

    return run_demo(cli, click.echo)


def _workspace(config_paths: Sequence[str]):  # type: ignore[no-untyped-def]
    from reconciler.workspace import Workspace

    return Workspace.open(config_paths, os.environ, optional=True)


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: maps every outcome to an exit code (usage errors exit 1, not 2)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
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
    except KeyboardInterrupt:
        err("Interrupted.")
        code = 1
    except Exception as exc:
        if debug:
            raise
        err(f"Internal error: {exc!r}. Run with --debug for the traceback, and please report it.")
        code = 1
    sys.exit(code if isinstance(code, int) else 0)
