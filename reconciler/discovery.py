"""Which config files a command reads: ``-c`` paths expanded, or the defaults discovered.

First step of loading, before any YAML is read. ``-c PATH`` may name files or directories
(a directory means its ``*.yaml``/``*.yml`` files, sorted, not recursive: YAML files in its
subdirectories are listed as left out, so the command can say so rather than ignore them). Without ``-c``
the config is ``RECONCILER_CONFIG`` when set, else ``reconciler.yaml``, ``reconciler.yml``
or a ``reconciler/`` directory holding YAML files in the current directory; when none (or
more than one) is there, the error lists what was tried, so a CI job run from the wrong
directory says so instead of planning against nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from reconciler.errors import ConfigError, ConfigIssue

CONFIG_ENV = "RECONCILER_CONFIG"
DEFAULT_FILES = ("reconciler.yaml", "reconciler.yml")
DEFAULT_DIRECTORY = "reconciler"
_SUFFIXES = (".yaml", ".yml")
_WALK_MAX = 2000  # directories looked into for left-out files, at most (``-c .`` in a big repo)
LEFT_OUT_SHOWN = 5  # left-out files named in a message, at most


class ConfigFiles(NamedTuple):
    """The files a command reads, and the YAML files in subdirectories it does not read."""

    files: list[str]
    left_out: list[str]


def default_config(environ: Mapping[str, str]) -> list[str] | None:
    """The config a command reads without ``-c``, or None when there is none here.

    ``ConfigError`` when several defaults exist: reading one would silently ignore the other.
    """
    named = environ.get(CONFIG_ENV, "").strip()
    if named:
        return [named]
    found = [name for name in DEFAULT_FILES if Path(name).is_file()]
    if _yaml_in(Path(DEFAULT_DIRECTORY)):
        found.append(f"{DEFAULT_DIRECTORY}/")
    if len(found) > 1:
        message = f"found {' and '.join(found)}; pass -c PATH to say which config to read"
        raise ConfigError([ConfigIssue(found[0], None, "", message)])
    return found or None


def tried() -> str:
    """What discovery looked for, for the error when nothing is found."""
    return f"{CONFIG_ENV} (unset), {', '.join(DEFAULT_FILES)}, {DEFAULT_DIRECTORY}/*.yaml"


def config_files(paths: Sequence[str], environ: Mapping[str, str]) -> ConfigFiles:
    """The YAML files that ``-c`` arguments (or the discovered default) name, in order."""
    named_by_env = not paths and bool(environ.get(CONFIG_ENV, "").strip())
    if not paths:
        discovered = default_config(environ)
        if discovered is None:
            message = f"no config found here (tried {tried()}); pass -c PATH"
            raise ConfigError([ConfigIssue(os.getcwd(), None, "", message)])
        paths = discovered
    try:
        return _expand(paths)
    except ConfigError as exc:
        if not named_by_env:
            raise
        raise ConfigError(
            [
                ConfigIssue(i.file, i.line, i.path, f"{i.message} (named by {CONFIG_ENV})")
                for i in exc.issues
            ]
        ) from None


def _expand(paths: Sequence[str]) -> ConfigFiles:
    files: list[str] = []
    left_out: list[str] = []
    issues: list[ConfigIssue] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            try:
                found = sorted(p for p in path.iterdir() if p.suffix in _SUFFIXES and p.is_file())
            except OSError as exc:
                issues.append(ConfigIssue(raw, None, "", f"cannot list: {exc.strerror or exc}"))
                continue
            below = _yaml_below(path)
            if not found:
                issues.append(ConfigIssue(raw, None, "", _no_yaml(below)))
            files.extend(str(p) for p in found)
            left_out.extend(below)
        elif path.is_file():
            files.append(raw)
        else:
            issues.append(ConfigIssue(raw, None, "", _not_a_config(raw, path)))
    if issues:
        raise ConfigError(issues)
    files = list(dict.fromkeys(files))
    read = {os.path.normpath(f) for f in files}
    return ConfigFiles(
        files, [f for f in dict.fromkeys(left_out) if os.path.normpath(f) not in read]
    )


def _yaml_below(directory: Path) -> list[str]:
    """YAML files in the subdirectories of ``directory`` (hidden ones skipped), sorted."""
    found: list[str] = []
    for walked, (root, dirs, names) in enumerate(os.walk(directory)):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        if walked:  # the directory itself is read
            found.extend(os.path.join(root, n) for n in sorted(names) if n.endswith(_SUFFIXES))
        if walked >= _WALK_MAX:
            break
    return found


def left_out_names(left_out: Sequence[str]) -> str:
    """The first few left-out files for a message, and how many more there are."""
    shown = ", ".join(left_out[:LEFT_OUT_SHOWN])
    more = len(left_out) - LEFT_OUT_SHOWN
    return f"{shown} and {more} more" if more > 0 else shown


def _no_yaml(below: list[str]) -> str:
    message = "directory holds no *.yaml or *.yml file"
    if below:
        message += f" (subdirectories are not read: {left_out_names(below)})"
    return message


def _yaml_in(directory: Path) -> bool:
    """Whether ``directory`` holds a YAML file: a ``reconciler/`` of Python code is no config."""
    try:
        return directory.is_dir() and any(
            p.suffix in _SUFFIXES and p.is_file() for p in directory.iterdir()
        )
    except OSError:
        return directory.is_dir()  # unreadable: let loading say why


def _not_a_config(raw: str, path: Path) -> str:
    """Why ``-c raw`` names neither a file nor a directory."""
    if raw == "-":
        return "reading the config from stdin is not supported; pass a file or a directory"
    if path.exists():  # /dev/null, a pipe (/dev/stdin, <(...)), a socket: maybe endless
        return "not a regular file; pass a YAML file or a directory"
    return "no such file or directory"
