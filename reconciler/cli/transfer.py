"""``state pull [FILE]`` and ``state push FILE [--force]``: moving a state between backends.

Part of the CLI layer: parse, call ``reconciler.transfer``, say what happened. Pull holds
the lock shared (as a plan does) and writes FILE privately (mode 0600: the secrets are
sealed, but the state still names every account), or stdout without one; push holds it
exclusively while it compares and writes.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from reconciler.cli.common import config_option, err, lock_timeout_option, open_workspace
from reconciler.errors import StateError


@click.command(name="pull")
@click.argument("file", metavar="[FILE]", required=False)
@config_option
@lock_timeout_option
def state_pull(file: str | None, config_paths: Sequence[str], lock_timeout: float) -> int:
    """Write the state and its sealed secrets as one JSON document (stdout without FILE)."""
    from reconciler.fsutil import write_private_atomic
    from reconciler.transfer import pull

    workspace = open_workspace(config_paths)
    backend = workspace.backend
    if file is not None:
        kept = backend.owns_file(os.path.realpath(file))
        if kept is not None:
            raise StateError(f"{file} is {kept} that reconciler keeps; pull into another file")
    with backend.lock("state pull", shared=True, timeout=lock_timeout):
        document = pull(backend)
    data = document.to_json()
    if file is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return 0
    try:
        write_private_atomic(Path(file), data)
    except OSError as exc:  # named as given: the error's own name is the temp file's
        raise StateError(f"cannot write {file}: {exc.strerror or exc}") from None
    err(
        f"Pulled serial {document.state['serial']} of {backend.describe()} into {file} "
        f"({len(document.state['resources'])} resources, secrets sealed as they are)."
    )
    return 0


@click.command(name="push")
@click.argument("file", metavar="FILE")
@click.option(
    "--force",
    is_flag=True,
    help="Replace another lineage, a newer serial, or secrets of another key.",
)
@config_option
@lock_timeout_option
def state_push(file: str, force: bool, config_paths: Sequence[str], lock_timeout: float) -> int:
    """Upload a document made by `state pull` into the configured backend."""
    from reconciler.secrets import load_key, store_key_check
    from reconciler.transfer import Transfer, parse, push, refusal

    raw = sys.stdin.buffer.read() if file == "-" else _read(file)
    pushed = parse(raw, "stdin" if file == "-" else file)
    workspace = open_workspace(config_paths)
    key = load_key(workspace.secrets_settings.key_env, workspace.environ)
    backend = workspace.backend
    with backend.lock("state push", timeout=lock_timeout):
        state = backend.state_store().read()
        secrets = backend.sealed_secrets().read()
        target = None if state is None else Transfer(state, secrets)
        if target is not None and target == pushed:
            serial = target.state["serial"]
            err(
                f"{backend.describe()} holds this state already (serial {serial}); nothing to push."
            )
            return 0
        alone = secrets if target is None else None
        key_env = workspace.secrets_settings.key_env
        problem = refusal(
            pushed, target, backend.describe(), store_key_check(key), alone, key_env=key_env
        )
        if problem and not force:
            raise StateError(f"{problem}. Nothing was pushed; --force pushes it all the same.")
        serial = push(backend, pushed, target)
    err(
        f"Pushed {file} into {backend.describe()}: lineage {pushed.state['lineage']}, serial "
        f"{serial}, {len(pushed.state['resources'])} resources."
    )
    return 0


def _read(file: str) -> bytes:
    try:
        return Path(file).read_bytes()
    except OSError as exc:
        raise StateError(f"cannot read {file}: {exc.strerror or exc}") from None
