"""Which attributes of two versions of one object differ: for messages about moved values.

The planner joins by address with plain dicts (fast at any scale); only for the pairs
already known to differ does reconciler need to say *what* differs, and for that it asks
deepdiff, imported lazily so commands that never compare pay nothing for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def changed_attributes(
    before: Mapping[str, Any], after: Mapping[str, Any], money: frozenset[str] = frozenset()
) -> list[str]:
    """``name: old -> new`` for each top-level attribute that differs, sorted by name; the
    ``money`` attributes are shown in dollars."""
    if before == after:
        return []
    from deepdiff import DeepDiff

    keys = DeepDiff(dict(before), dict(after)).affected_root_keys
    return [
        f"{key}: {_shown(before.get(key), key in money)} -> {_shown(after.get(key), key in money)}"
        for key in sorted(keys)
    ]


def _shown(value: Any, is_money: bool) -> str:
    if value is None:
        return "(none)"
    return f"${value}" if is_money else str(value)
