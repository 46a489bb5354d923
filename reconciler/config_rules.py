"""The config rules a JSON Schema cannot express, each issue at ``file:line``.

Third stage of the config flow, after the merge and beside the schema (``config.load_config``
runs both and reports every issue at once). The rules run on the merged document before it
is known to be valid, so each one skips what has the wrong shape: the schema says why.

* names: unique in their group (compared in their NFC identity), and free of characters
  that show as nothing or a blank (``names.refused_characters``);
* credentials go only where they belong (``credential_rules``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from reconciler.credential_rules import credential_issues
from reconciler.echo import shown_name
from reconciler.errors import ConfigIssue
from reconciler.names import RefusedCharacter, identity, refused_characters
from reconciler.yamlsource import Location, Locations, Path, issue_at

_REFUSED_SHOWN = 3  # distinct characters named in one message, at most


def rule_issues(
    doc: dict[str, Any], locations: Locations, environ: Mapping[str, str]
) -> list[ConfigIssue]:
    """Every issue of every rule above; an empty list when the config keeps them all."""
    return [*_name_issues(doc, locations), *credential_issues(doc, locations, environ)]


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
