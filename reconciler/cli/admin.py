"""Commands on what is recorded: state list/show/rm, secrets keygen/show, force-unlock.

They use the config's ``state`` and ``secrets`` settings when a config is there, and the
defaults otherwise, so they work in an empty directory too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import click

from reconciler.cli.common import address_argument, config_option, err, open_workspace
from reconciler.errors import StateError


@click.group()
def state() -> None:
    """Inspect or edit the recorded state."""


@state.command(name="list")
@config_option
def state_list(config_paths: Sequence[str]) -> int:
    """List recorded addresses."""
    backend = open_workspace(config_paths).backend
    for address, data in sorted(backend.read().resources.items()):
        suffix = " (pending create)" if data.get("pending") else ""
        click.echo(f"{address}{suffix}")
    return 0


@state.command(name="show")
@address_argument
@config_option
def state_show(address: str, config_paths: Sequence[str]) -> int:
    """Show one recorded resource (no secrets: fingerprints only)."""
    import json

    resources = open_workspace(config_paths).backend.read().resources
    _require_recorded(address, resources)
    click.echo(json.dumps(resources[address], indent=2, ensure_ascii=False))
    return 0


@state.command(name="rm")
@address_argument
@config_option
def state_rm(address: str, config_paths: Sequence[str]) -> int:
    """Forget a resource without deleting it at the provider."""
    backend = open_workspace(config_paths).backend
    with backend.lock("state rm"):
        current = backend.read()
        _require_recorded(address, current.resources)
        current.remove(address)
        backend.write(current)
    err(f"Removed {address} from the state; it still exists at the provider, unmanaged.")
    return 0


def _require_recorded(address: str, resources: Mapping[str, object]) -> None:
    if address not in resources:
        raise StateError(f"{address} is not in the state (see `reconciler state list`)")


@click.group()
def secrets() -> None:
    """Encryption key and stored secrets."""


@secrets.command()
def keygen() -> int:
    """Print a new encryption key (put it in RECONCILER_SECRET_KEY)."""
    from reconciler.secrets import generate_key

    click.echo(generate_key())
    return 0


@secrets.command(name="show")
@address_argument
@click.option(
    "--field", type=click.Choice(["token", "password"]), default="token", show_default=True
)
@config_option
def secrets_show(address: str, field: str, config_paths: Sequence[str]) -> int:
    """Decrypt and print one stored secret."""
    from reconciler.continuity import check_store
    from reconciler.errors import SecretsError
    from reconciler.resources import kind_of_record

    workspace = open_workspace(config_paths)
    store = workspace.secret_store()
    if store is None:
        raise SecretsError(
            f"{workspace.secrets_settings.key_env} is unset: it holds the key to the secrets store"
        )
    state = workspace.backend.read()
    check_store(state, store)  # a missing store says so, and another state's serves nothing
    secret = store.get(address, field)
    record = state.record(address)
    doubt = kind_of_record(record).secret_doubt(record) if record is not None else None
    if doubt:
        err(f"Warning: {address}: {doubt}.")
    click.echo(secret)
    return 0


@click.command(name="force-unlock")
@click.argument("lock_id", metavar="LOCK_ID")
@click.option(
    "--force",
    is_flag=True,
    help="Release it even though its holder still runs on this host (its writes are refused).",
)
@config_option
def force_unlock(lock_id: str, force: bool, config_paths: Sequence[str]) -> int:
    """Release a state lock held by a process that hangs (a dead one has released it already)."""
    backend = open_workspace(config_paths).backend
    holder = backend.force_unlock(lock_id, force=force)
    if holder.running_here():
        err(
            f"Released the lock held by {holder.describe()}, which is still running: each of "
            "its writes to the state and the secrets store is refused from now on, so it stops "
            "without touching them. Its creates in flight stay pending for the next apply."
        )
    else:
        err(f"Released the lock held by {holder.describe()}.")
    return 0
