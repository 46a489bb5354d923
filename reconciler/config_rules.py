"""The config rules a JSON Schema cannot express, each issue at ``file:line``.

Third stage of the config flow, after the merge and beside the schema (``config.load_config``
runs both and reports every issue at once). The rules run on the merged document before it
is known to be valid, so each one skips what has the wrong shape: the schema says why.

* names: unique in their group (compared in their NFC identity), and free of characters
  that show as nothing or a blank (``names.refused_characters``);
* one provider account, one alias: two MiniMax groups of one ``group_id``, two xAI teams of
  one ``team_id`` or two useapi.net sections of one token variable would have their
  settings applied twice, flip-flopping and drifting forever;
* ``state.path`` names a file: not a directory (``st/``), and ``~`` is the home directory;
* credentials go only where they belong (``credential_rules``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

from reconciler.credential_rules import credential_issues
from reconciler.echo import fits, shown_name, shown_value
from reconciler.errors import ConfigIssue
from reconciler.names import RefusedCharacter, identity, refused_characters
from reconciler.state_rules import state_issues
from reconciler.yamlsource import Location, Locations, Path, issue_at

# What identifies a provider account in each section: the same value twice is one account.
_ACCOUNT_KEYS = {"minimax": "group_id", "xai": "team_id", "useapi": "token_env"}
_REFUSED_SHOWN = 3  # distinct characters named in one message, at most


def rule_issues(
    doc: dict[str, Any], locations: Locations, environ: Mapping[str, str]
) -> list[ConfigIssue]:
    """Every issue of every rule above; an empty list when the config keeps them all."""
    return [
        *_name_issues(doc, locations),
        *_accounts_declared_twice(doc, locations),
        *_state_path_issues(doc, locations, environ),
        *credential_issues(doc, locations, environ),
        *state_issues(doc, locations),
    ]


def _names(doc: dict[str, Any], locations: Locations) -> Iterator[tuple[str, str, Path]]:
    """``(alias, name, path)`` of every sub-account name that is text and was written."""
    groups = doc.get("minimax")
    for alias, group in groups.items() if isinstance(groups, dict) else ():
        accounts = group.get("sub_accounts") if isinstance(group, dict) else None
        for i, account in enumerate(accounts if isinstance(accounts, list) else ()):
            name = account.get("name") if isinstance(account, dict) else None
            path = ("minimax", alias, "sub_accounts", i, "name")
            if isinstance(name, str) and path in locations:
                yield alias, name, path


def _name_issues(doc: dict[str, Any], locations: Locations) -> list[ConfigIssue]:
    """Duplicate names in a group, and names holding characters a reader cannot see."""
    issues = []
    # By (alias, identity): where the name was first written, and how.
    first: dict[tuple[str, str], tuple[Location, str]] = {}
    for alias, name, path in _names(doc, locations):
        here = locations[path]
        refused = refused_characters(name)
        if refused:
            issues.append(issue_at(locations, path, _refused_message(name, refused)))
        key = (alias, identity(name))  # café typed as NFC or NFD is one name
        if key not in first:
            first[key] = (here, name)
            continue
        where, written = first[key]
        message = (
            f"duplicate sub-account name {shown_name(name)} in group {alias} (first at {where})"
        )
        if written != name:
            message += "; the two differ only in how their Unicode characters are composed"
        issues.append(issue_at(locations, path, message))
    return issues


def _refused_message(name: str, refused: list[RefusedCharacter]) -> str:
    distinct = list({r.char: r for r in refused}.values())
    named = [f"{r.label} ({r.kind})" for r in distinct[:_REFUSED_SHOWN]]
    if len(distinct) > _REFUSED_SHOWN:
        named.append(f"{len(distinct) - _REFUSED_SHOWN} more")
    return (
        f"{shown_name(name)} holds {', '.join(named)}: a name may not hold control, invisible "
        "or blank-looking characters, private-use characters or spaces other than ' ', which "
        "make it read as another name (joiners inside emoji and words are fine)"
    )


def _accounts_declared_twice(doc: dict[str, Any], locations: Locations) -> list[ConfigIssue]:
    """Two aliases of one provider account: refused at the second, naming the first."""
    issues = []
    for section, key in _ACCOUNT_KEYS.items():
        aliases = doc.get(section)
        first: dict[str, Path] = {}
        for alias, body in aliases.items() if isinstance(aliases, dict) else ():
            value = body.get(key) if isinstance(body, dict) else None
            path = (section, alias, key)
            if not isinstance(value, str) or path not in locations:
                continue
            earlier = first.setdefault(value, path)
            if earlier is path:
                continue
            shown = f" {shown_value(value)}" if fits(value) else ""
            message = (
                f"{key}{shown} declared twice: also {section}.{earlier[1]} at "
                f"{locations[earlier]}. One account under two aliases gets both aliases' "
                "settings, each undoing the other on every apply: keep one alias"
            )
            issues.append(issue_at(locations, path, message))
    return issues


def _state_path_issues(
    doc: dict[str, Any], locations: Locations, environ: Mapping[str, str]
) -> list[ConfigIssue]:
    """A ``state.path`` that names a directory, or a home directory that cannot be found."""
    state = doc.get("state")
    declared = state.get("path") if isinstance(state, dict) else None
    if not isinstance(declared, str) or not declared:
        return []
    path = ("state", "path")
    if declared.endswith(("/", os.sep)) or os.path.basename(declared) in (".", ".."):
        message = (
            f"{shown_name(declared, 'path')} names a directory; state.path names the state file "
            "in it, like state/reconciler.json (the secrets store goes beside it)"
        )
        return [issue_at(locations, path, message)]
    if declared.startswith("~") and expand_home(declared, environ) is None:
        message = (
            f"{shown_name(declared, 'path')} starts with ~, but the home directory it names is not "
            "known here (HOME is unset, or no such user); write the path out"
        )
        return [issue_at(locations, path, message)]
    return []


def expand_home(path: str, environ: Mapping[str, str]) -> str | None:
    """``~/x`` and ``~user/x`` with the home directory written out (``HOME`` from ``environ``),
    ``path`` itself when it starts with no ``~``, None when the home directory is unknown."""
    if not path.startswith("~"):
        return path
    head, _, rest = path.partition("/")
    home = (environ.get("HOME") or _home_of(None)) if head == "~" else _home_of(head[1:])
    if not home:
        return None
    return os.path.join(home, rest) if rest else home


def _home_of(user: str | None) -> str:
    """A user's home directory from the password database ("" when unknown)."""
    try:
        import pwd  # not on Windows

        entry = pwd.getpwuid(os.getuid()) if user is None else pwd.getpwnam(user)
    except (ImportError, KeyError):
        return ""
    return entry.pw_dir
