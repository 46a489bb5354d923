"""Commands that messages suggest, written so that pasting them into a shell works.

A name may hold quotes, spaces or ``$``: every argument is shell-quoted here, in one place.
"""

from __future__ import annotations

import shlex


def command(*args: str) -> str:
    """``reconciler ARGS`` as a shell reads it back: ``command("state", "rm", address)``."""
    return shlex.join(["reconciler", *args])
