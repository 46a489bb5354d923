"""Crash-safe private files: the one way state and secrets reach the disk, and come back.

A torn state file loses track of real accounts, and a world-readable secrets file leaks
them, so every write goes to a 0600 temp file in the same directory, is fsynced, and is
renamed over the target (then the directory is fsynced so the rename survives a crash).
Reading back, ``load_json`` turns every way a file can be unreadable (a person's edit, a
truncated copy) into the caller's error naming the file, so none of them ends in a crash.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from reconciler.errors import ReconcilerError

# Reconciler's own files nest 3 or 4 levels; deeper ones would only make writing or
# rendering them back recurse until Python's stack gives out.
MAX_JSON_DEPTH = 64


def write_private_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically, mode 0600, creating parent directories.

    A symlink is followed: its target is replaced, and the link stays.
    """
    path = followed(path)
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
    fsync_directory(path.parent)


def check_writable(path: Path, room: int = 0) -> None:
    """Raise ``OSError`` if ``write_private_atomic(path, ...)`` could not make its temp file,
    or if the disk there has not ``room`` bytes free (reserved for a moment, then freed).

    An apply that can call a provider but cannot record the answer would lose what the
    provider hands back only once, so it proves it can write, and has room, before the
    first call. An empty file proves nothing about room: a full disk still makes one.
    """
    fd, temp = _make_temp(path)
    try:
        if room > 0:
            _reserve(fd, room)
    finally:
        os.close(fd)
        os.unlink(temp)


def _reserve(fd: int, size: int) -> None:
    """Allocate ``size`` bytes to ``fd`` (ENOSPC when the disk has not got them)."""
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
            raise
        stats = os.fstatvfs(fd)  # a file system that cannot allocate: ask how much is free
        if stats.f_bavail * stats.f_frsize < size:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)) from None


def make_parent(path: Path) -> None:
    """The directory ``path`` goes in, made (private) when missing. A file standing where a
    directory should be is ENOTDIR: ``mkdir`` says "File exists", which reads as if
    ``path`` itself were in the way."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    except FileExistsError:
        reason = f"{os.strerror(errno.ENOTDIR)} (a file is in the way)"
        raise NotADirectoryError(errno.ENOTDIR, reason, str(path.parent)) from None


def _make_temp(path: Path) -> tuple[int, str]:
    make_parent(path)
    return tempfile.mkstemp(prefix=f".{path.name}.", suffix=_TEMP_SUFFIX, dir=path.parent)


_TEMP_SUFFIX = ".tmp"


def remove_stale_temps(path: Path) -> None:
    """Remove the temp files a killed writer of ``path`` left beside it.

    Call it only holding the lock that makes this process ``path``'s one writer: any temp
    file of its name is then a leftover (a ``kill -9`` between making it and renaming it).
    """
    pattern = re.compile(rf"\.{re.escape(path.name)}\.[A-Za-z0-9_]{{8}}{re.escape(_TEMP_SUFFIX)}")
    try:
        names = os.listdir(path.parent)
    except OSError:
        return
    for name in names:
        if pattern.fullmatch(name):
            with contextlib.suppress(OSError):
                os.unlink(path.parent / name)


def followed(path: Path) -> Path:
    """``path``, or the file it names when it is a symlink (resolved whole, to the end).

    A state file kept elsewhere behind a link is written where it lives, and its journal
    and lock sit beside it, so every link to one state shares one lock.
    """
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def fsync_directory(directory: Path) -> None:
    """Make a rename, a new file or an unlink in ``directory`` survive a power loss."""
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


def load_json(data: bytes | str, where: str, error: type[ReconcilerError], advice: str = "") -> Any:
    """``data`` parsed as JSON, or ``error("<where>: <what is wrong>[; advice]")``.

    Besides bad syntax and encoding, this refuses what ``json.loads`` cannot read without
    crashing (a number past Python's digit limit, nesting past the stack) and what would
    crash later: nesting deeper than ``MAX_JSON_DEPTH`` and unpaired UTF-16 surrogates
    (``"\\ud800"``), which can be neither written back as UTF-8 nor printed.
    """
    try:
        # Decoded as json.loads decodes bytes, so the text can be searched for surrogates.
        text = (
            data
            if isinstance(data, str)
            else data.decode(json.detect_encoding(data), "surrogatepass")
        )
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        reason = f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
    except UnicodeDecodeError:
        reason = "not valid JSON (not UTF-8 text)"
    except ValueError as exc:  # the only other one: int() refusing a number that long
        limit = sys.get_int_max_str_digits()
        reason = (
            f"holds a number longer than {limit} digits, which reconciler cannot read"
            if "digits" in str(exc)
            else f"not valid JSON ({exc})"
        )
    except RecursionError:
        reason = _TOO_DEEP
    else:
        if too_deep(value):
            reason = _TOO_DEEP
        elif not _is_text(text) or ("\\u" in text and not _all_text(value)):
            reason = _SURROGATE
        else:
            return value
    raise error(f"{where}: {reason}" + (f"; {advice}" if advice else "")) from None


def version_problem(version: Any, supported: int, label: str = "version") -> str | None:
    """Why a file's ``version`` is not the one this reconciler reads; None when it is."""
    if type(version) is int and version == supported:
        return None
    if version is None:
        return f"it has no {label}"
    shown = json.dumps(version)[:40]
    if type(version) is int and version > supported:
        return (
            f"{label} {shown} is not {supported}: it was written by a newer reconciler; "
            "upgrade reconciler to read it"
        )
    return f"{label} {shown} is not {supported}"


_TOO_DEEP = f"nested more than {MAX_JSON_DEPTH} levels deep, which reconciler never writes"
_SURROGATE = "holds an unpaired UTF-16 surrogate (like \\ud800), which is not text"


def too_deep(value: Any) -> bool:
    """Whether containers nest deeper than ``MAX_JSON_DEPTH``: level by level, no recursion."""
    level = [value] if type(value) in (dict, list) else []
    for _ in range(MAX_JSON_DEPTH):
        if not level:
            return False
        level = [
            child
            for item in level
            for child in (item.values() if type(item) is dict else item)
            if type(child) in (dict, list)
        ]
    return bool(level)


def _all_text(value: Any) -> bool:
    """Whether every string in ``value`` (keys too) is text: a ``\\u`` escape may not be."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not _is_text(item):
                return False
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


def _is_text(value: str) -> bool:
    """Whether ``value`` encodes as UTF-8, which a lone surrogate does not."""
    if value.isascii():
        return True
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True
