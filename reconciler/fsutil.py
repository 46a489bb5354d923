"""Crash-safe private files: the one way state and secrets reach the disk.

A torn state file loses track of real accounts, and a world-readable secrets file leaks
them, so every write goes to a 0600 temp file in the same directory, is fsynced, and is
renamed over the target (then the directory is fsynced so the rename survives a crash).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_private_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically, mode 0600, creating parent directories."""
    fd, temp = _make_temp(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o600)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    _fsync_directory(path.parent)


def check_writable(path: Path) -> None:
    """Raise ``OSError`` if ``write_private_atomic(path, ...)`` could not make its temp file.

    An apply that can call a provider but cannot record the answer would lose what the
    provider hands back only once, so it proves it can write before the first call.
    """
    fd, temp = _make_temp(path)
    os.close(fd)
    os.unlink(temp)


def _make_temp(path: Path) -> tuple[int, str]:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    return tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
