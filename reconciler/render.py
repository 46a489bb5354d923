"""Plan -> text (terminal), markdown (pull-request comment) or JSON (machines).

Output classes are separate from the plan, as in octoDNS: the plan is inert data and each
renderer only reads it. The text form reads like Terraform's (coloured on a terminal, when
the CLI asks); every change shows its address, action, the attributes that change and
why. Markdown lives in ``markdown.py``. Nothing here can leak a secret: the plan holds
none, by construction.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from reconciler.markdown import no_changes_line, render_markdown, summary_line
from reconciler.model import Action, Change, Plan
from reconciler.render_money import money_text
from reconciler.resources import kind_of

__all__ = ["RENDERERS", "plan_to_dict", "render", "render_json", "render_markdown", "summary_line"]

FORMAT_VERSION = 2

_SYMBOL = {
    Action.CREATE: "+",
    Action.UPDATE: "~",
    Action.ROTATE: "~",
    Action.DELETE: "-",
    Action.FORGET: "-",
}
_COLOR = {
    Action.CREATE: "green",
    Action.UPDATE: "yellow",
    Action.ROTATE: "yellow",
    Action.DELETE: "red",
    Action.FORGET: "red",
}
_VERB = {
    Action.CREATE: "will be created",
    Action.UPDATE: "will be updated in place",
    Action.ROTATE: "will get a new API token",
    Action.DELETE: "will be deleted",
    Action.FORGET: "will no longer be managed (nothing is changed at the provider)",
}


def render_text(plan: Plan, *, color: bool = False) -> str:
    """Terraform's layout; with ``color``, its green ``+``, yellow ``~`` and red ``-``."""
    paint = _painter(color)
    lines: list[str] = [f"{paint('Warning:', 'yellow', True)} {w}" for w in plan.warnings]
    if lines:
        lines.append("")
    if not plan.changes:
        lines.append(f"No changes. {no_changes_line(plan)}")
    else:
        lines.append("reconciler will perform the following actions:")
        lines.append("")
        for change in plan.changes:
            lines.extend(_text_change(change, paint))
            lines.append("")
        lines.append(paint(summary_line(plan), None, True))
        lines.extend(unsafe_lines(plan, color=color))
    lines.extend(money_text(plan))
    return "\n".join(lines) + "\n"


def unsafe_lines(plan: Plan, *, color: bool = False) -> list[str]:
    """Why the blast-radius guard marks the plan unsafe, for a terminal."""
    if not plan.unsafe:
        return []
    paint = _painter(color)
    lines = ["", paint("Unsafe: apply refuses this plan unless --force is given:", "red", True)]
    lines.extend(f"  {reason}" for reason in plan.unsafe)
    return lines


def _text_change(change: Change, paint: Paint) -> list[str]:
    symbol = paint(_SYMBOL[change.action], _COLOR[change.action], False)
    kind = kind_of(change.address)
    drifted = " has drifted outside reconciler and" if change.drift else ""
    out = [
        paint(f"  # {change.address}{drifted} {_VERB[change.action]}", None, True),
        f"  # ({change.reason})",
    ]
    rows = kind.rows(change)
    width = max((len(row.name) for row in rows), default=0)
    out.append(f"  {symbol} {kind.label} {{")
    for row in rows:
        out.append(f"      {symbol if row.changes else ' '} {row.name.ljust(width)} = {row.value}")
    out.append("    }")
    return out


Paint = Callable[[str, str | None, bool], str]


def _painter(color: bool) -> Paint:
    """``paint(text, colour, bold)``: ANSI styles on a terminal, the text alone otherwise."""
    if not color:
        return lambda text, fg, bold: text
    import click

    return lambda text, fg, bold: click.style(text, fg=fg, bold=bold or None)


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
        "unsafe": list(plan.unsafe),
        "config_files": [{"path": f.path, "sha256": f.sha256} for f in plan.config_files],
        "money": plan.money.to_json() if plan.money else None,
    }


def render_json(plan: Plan) -> str:
    return json.dumps(plan_to_dict(plan), indent=2, ensure_ascii=False) + "\n"


def render(plan: Plan, output_format: str, *, color: bool = False) -> str:
    """The plan in ``output_format`` (text, markdown, json); only text is ever coloured."""
    if output_format == "text":
        return render_text(plan, color=color)
    return RENDERERS[output_format](plan)


RENDERERS: dict[str, Callable[[Plan], str]] = {
    "text": render_text,
    "markdown": render_markdown,
    "json": render_json,
}
