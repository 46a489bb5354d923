"""Plan -> text (terminal), markdown (pull-request comment) or JSON (machines).

Output classes are separate from the plan, as in octoDNS: the plan is inert data and each
renderer only reads it. The text form reads like Terraform's; every change shows its
address, action, the attributes that change and why. Nothing here can leak a secret: the
plan holds none, by construction.
"""

from __future__ import annotations

import json
import re
from typing import Any

from reconciler.model import Action, Change, Plan
from reconciler.render_money import money_markdown, money_text
from reconciler.resources import kind_of

FORMAT_VERSION = 2

_SYMBOL = {
    Action.CREATE: "+",
    Action.UPDATE: "~",
    Action.ROTATE: "~",
    Action.DELETE: "-",
    Action.FORGET: "-",
}
_VERB = {
    Action.CREATE: "will be created",
    Action.UPDATE: "will be updated in place",
    Action.ROTATE: "will get a new API token",
    Action.DELETE: "will be deleted",
    Action.FORGET: "will no longer be managed (nothing is changed at the provider)",
}


def summary_line(plan: Plan) -> str:
    """``Plan: N to create, ...``; "to forget" appears only when something is forgotten."""
    counts = plan.summary()
    forget = f", {counts['forget']} to forget" if counts["forget"] else ""
    return (
        f"Plan: {counts['create']} to create, {counts['update']} to update, "
        f"{counts['rotate']} to rotate, {counts['delete']} to delete{forget}."
    )


def render_text(plan: Plan) -> str:
    lines: list[str] = [f"Warning: {w}" for w in plan.warnings]
    if lines:
        lines.append("")
    if not plan.changes:
        lines.append("No changes. The recorded state matches the configuration.")
    else:
        lines.append("reconciler will perform the following actions:")
        lines.append("")
        for change in plan.changes:
            lines.extend(_text_change(change))
            lines.append("")
        lines.append(summary_line(plan))
    lines.extend(money_text(plan))
    return "\n".join(lines) + "\n"


def _text_change(change: Change) -> list[str]:
    symbol = _SYMBOL[change.action]
    kind = kind_of(change.address)
    drifted = " has drifted outside reconciler and" if change.drift else ""
    out = [f"  # {change.address}{drifted} {_VERB[change.action]}", f"  # ({change.reason})"]
    rows = kind.rows(change)
    width = max((len(row.name) for row in rows), default=0)
    out.append(f"  {symbol} {kind.label} {{")
    for row in rows:
        out.append(f"      {symbol if row.changes else ' '} {row.name.ljust(width)} = {row.value}")
    out.append("    }")
    return out


def render_markdown(plan: Plan) -> str:
    """A pull-request comment: summary first, one table row per change, warnings quoted."""
    lines = ["### reconciler plan", ""]
    for warning in plan.warnings:
        lines.append(f"> **Warning:** {_md(warning)}")
    if plan.warnings:
        lines.append("")
    if not plan.changes:
        lines.append("**No changes.** The recorded state matches the configuration.")
        return "\n".join([*lines, *money_markdown(plan)]) + "\n"
    lines.extend(
        [
            f"**{summary_line(plan)}**",
            "",
            "| action | address | change | why |",
            "|---|---|---|---|",
        ]
    )
    for change in plan.changes:
        detail = "; ".join(
            f"{row.name} = {row.value}" for row in kind_of(change.address).rows(change)
        )
        action = f"{change.action.value} (drift)" if change.drift else change.action.value
        lines.append(
            f"| {action} | {_md_code(change.address)} | {_md(detail)} | {_md(change.reason)} |"
        )
    return "\n".join([*lines, *money_markdown(plan)]) + "\n"


# Characters that make Markdown out of text: a name like "x [click](https://evil)" must
# reach the reviewer as the text it is, not as a link. "://" is broken to stop autolinks.
_MD_ACTIVE = re.compile(r"[\\`*_\[\]<|~&]|(?<=:)/")


def _md(text: str) -> str:
    """Text for a table cell, rendered literally: every active character escaped."""
    return _MD_ACTIVE.sub(lambda m: "\\" + m.group(), text.replace("\n", " "))


def _md_code(text: str) -> str:
    """A code span that holds any text: its fence is longer than any backtick run inside."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    body = text.replace("\n", " ").replace("|", "\\|")  # GFM splits cells before code spans
    return f"{fence}{pad}{body}{pad}{fence}"


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """The JSON form (``schemas/plan.schema.json``); also what ``--out`` saves."""
    return {
        "format_version": FORMAT_VERSION,
        "changes": [{"type": kind_of(c.address).type_name, **c.to_dict()} for c in plan.changes],
        "summary": plan.summary(),
        "warnings": list(plan.warnings),
        "state": {"lineage": plan.lineage, "serial": plan.serial},
        "config_digest": plan.config_digest,
        "created_at": plan.created_at,
        "refreshed": plan.refreshed,
        "live": plan.live,
        "money": plan.money.to_json() if plan.money else None,
    }


def render_json(plan: Plan) -> str:
    return json.dumps(plan_to_dict(plan), indent=2, ensure_ascii=False) + "\n"


RENDERERS = {"text": render_text, "markdown": render_markdown, "json": render_json}
