"""The sandbox server and the demo: local tools that need no credentials."""

from __future__ import annotations

import errno

import click

from reconciler.cli.common import err
from reconciler.errors import ReconcilerError


@click.command()
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
def sandbox(port: int, host: str) -> int:
    """Run the local emulator of the provider APIs (data in memory)."""
    from reconciler.sandbox import (
        SANDBOX_MINIMAX_API_KEY,
        SANDBOX_MINIMAX_GROUP_ID,
        SANDBOX_USEAPI_ACCOUNT,
        SANDBOX_USEAPI_TOKEN,
        SANDBOX_XAI_MANAGEMENT_KEY,
        SANDBOX_XAI_READONLY_KEY,
        SANDBOX_XAI_TEAM_ID,
        Sandbox,
    )

    server = Sandbox(host=host, port=port)
    try:
        url = server.url  # binds the socket
    except OSError as exc:
        raise ReconcilerError(
            f"the sandbox cannot listen on {host}:{port}: {exc.strerror or exc}"
            + ("; pick another --port" if exc.errno == errno.EADDRINUSE else "")
        ) from None
    err(f"Sandbox listening on {url}")
    err("Test values only:")
    err(f"  MiniMax: group_id {SANDBOX_MINIMAX_GROUP_ID}, API key {SANDBOX_MINIMAX_API_KEY!r}")
    err(
        f"  xAI: team_id {SANDBOX_XAI_TEAM_ID}, management key {SANDBOX_XAI_MANAGEMENT_KEY!r}"
        f"; {SANDBOX_XAI_READONLY_KEY!r} has no billing access"
    )
    err(f"  useapi.net: token {SANDBOX_USEAPI_TOKEN!r}, account {SANDBOX_USEAPI_ACCOUNT!r}")
    err("Press Ctrl-C to stop.")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        err("Stopped.")
    finally:
        server.stop()
    return 0


@click.command()
def demo() -> int:
    """Start the sandbox, then plan and apply the quickstart example: no credentials needed."""
    from reconciler.cli import cli
    from reconciler.demo import run_demo

    return run_demo(cli, click.echo)
