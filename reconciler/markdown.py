"""Plan -> Markdown for a pull-request comment, always under GitHub's comment limit.

A renderer like the text and JSON ones (``render.py``): it only reads the plan. The
comment opens with what a reviewer needs first (unsafe plans, warnings, the summary line
and a table of counts per group), then one collapsible section per group with a row per
change. GitHub refuses comments over 65,536 characters, so every section is written
against one ``Budget``: when the changes do not all fit, the sections stop where the
budget ends and a closing note says how many changes were not shown and where the full
plan is. The summary table always counts every change. Each section is one function
taking the plan and the budget, so a new section (a money table, say) slots in as one
more call in ``render_markdown``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from reconciler.model import Action, Change, Plan
from reconciler.resources import kind_of

GITHUB_COMMENT_LIMIT = 65_536
# What the plan may use: the rest is left for what a workflow wraps around it (a marker
# that finds the sticky comment again, a heading).
MARKDOWN_LIMIT = 60_000
_CLOSING_RESERVE = 600  # room kept for the note on what was cut
_OPEN_UP_TO = 25  # a plan this small shows its changes expanded
_TABLE_HEAD = "| action | address | change | why |\n|---|---|---|---|"


class Budget:
    """The comment being written, and how many characters it may still take."""

    def __init__(self, limit: int = MARKDOWN_LIMIT) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.used = 0

    def left(self) -> int:
        return self.limit - self.used

    def fits(self, text: str, reserve: int = 0) -> bool:
        return self.used + len(text) + 1 + reserve <= self.limit

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.used += len(text) + 1

    def text(self) -> str:
        return "\n".join(self.parts) + "\n"


def render_markdown(plan: Plan, limit: int = MARKDOWN_LIMIT) -> str:
    """The whole comment: unsafe, warnings, summary, per-group details, what was cut."""
    out = Budget(limit)
    out.add("### reconciler plan\n")
    _unsafe(plan, out)
    _warnings(plan, out)
    if not plan.changes:
        out.add(f"**No changes.** {md(no_changes_line(plan))}")
        _money(plan, out)
        return out.text()
    _summary(plan, out)
    _money(plan, out)
    shown = _details(plan, out)
    _cut_note(len(plan.changes), shown, out)
    return out.text()


def no_changes_line(plan: Plan) -> str:
    """What a plan with no changes says after "No changes.": that the state matches, and
    what that does not cover (a broken guard rail, the providers not read)."""
    if plan.drifted:
        return (
            "Nothing to apply, but a guard rail is broken (see Guard rails): "
            "--detailed-exitcode exits 2."
        )
    if not plan.refreshed:
        return (
            "The recorded state matches the configuration; the providers were not read "
            "(--no-refresh), so drift made outside reconciler is not shown."
        )
    return "The recorded state matches the configuration."


def summary_line(plan: Plan) -> str:
    """``Plan: N to create, ...``; "to forget" appears only when something is forgotten."""
    counts = plan.summary()
    forget = f", {counts['forget']} to forget" if counts["forget"] else ""
    return (
        f"Plan: {counts['create']} to create, {counts['update']} to update, "
        f"{counts['rotate']} to rotate, {counts['delete']} to delete{forget}."
    )


def _unsafe(plan: Plan, out: Budget) -> None:
    if not plan.unsafe:
        return
    out.add("> **Unsafe: `apply` refuses this plan unless `--force` is given.**")
    for reason in plan.unsafe:
        out.add(f"> - {md(reason)}")
    out.add("")


def _warnings(plan: Plan, out: Budget) -> None:
    """Each warning quoted; a flood of them gets a quarter of the budget at most."""
    ceiling = out.used + out.left() // 4
    for index, warning in enumerate(plan.warnings):
        # A ">" line between warnings: each its own paragraph wherever the markdown renders.
        separator = ">\n" if index else ""
        line = f"{separator}> **Warning:** {md(warning)}"
        if out.used + len(line) > ceiling:
            out.add(f">\n> ... and {len(plan.warnings) - index} more warnings (see the job log)")
            break
        out.add(line)
    if plan.warnings:
        out.add("")


def _summary(plan: Plan, out: Budget) -> None:
    """The summary line, then one row of counts per group: always every change."""
    out.add(f"**{summary_line(plan)}**\n")
    actions = [a for a in Action if a is not Action.FORGET or plan.summary()["forget"]]
    drift = any(c.drift for c in plan.changes)
    columns = [a.value for a in actions] + (["drift"] if drift else [])
    out.add(f"| group | {' | '.join(columns)} |")
    out.add("|---" * (len(columns) + 1) + "|")
    for group, changes in _groups(plan.changes).items():
        counts = Counter(c.action for c in changes)
        cells = [str(counts[a]) for a in actions]
        if drift:
            cells.append(str(sum(1 for c in changes if c.drift)))
        out.add(f"| {md_code(group)} | {' | '.join(cells)} |")
    out.add("")


def _money(plan: Plan, out: Budget) -> None:
    """The money table and the broken guard rails, before the details they may explain."""
    from reconciler.render_money import money_markdown

    lines = money_markdown(plan)
    if not lines:
        return
    text = "\n".join(lines)
    if out.fits(text, reserve=_CLOSING_RESERVE):
        out.add(text)
    else:
        out.add("\n_The money table is too long for this comment: `reconciler check` lists it._")


def _details(plan: Plan, out: Budget) -> int:
    """One collapsible table per group, row by row while the budget lasts; rows shown."""
    shown = 0
    expanded = " open" if len(plan.changes) <= _OPEN_UP_TO else ""
    for group, changes in _groups(plan.changes).items():
        header = f"<details{expanded}><summary>{_group_title(group, changes)}</summary>\n"
        footer = "\n</details>\n"
        if not out.fits(header + _TABLE_HEAD + footer, _CLOSING_RESERVE):
            break
        out.add(header)
        out.add(_TABLE_HEAD)
        rows = 0
        for change in changes:
            row = _row(change)
            if not out.fits(row + footer, _CLOSING_RESERVE):
                break
            out.add(row)
            rows += 1
        if rows < len(changes):
            out.add(f"\n*... and {len(changes) - rows} more changes in {md_code(group)}.*")
        out.add(footer)
        shown += rows
        if rows < len(changes):
            break
    return shown


def _cut_note(total: int, shown: int, out: Budget) -> None:
    if shown == total:
        return
    out.add(
        f"**Summarised:** this comment lists {shown:,} of {total:,} changes to stay under "
        f"GitHub's {GITHUB_COMMENT_LIMIT:,}-character comment limit; the table above counts "
        "all of them. The full plan is in the job log (`reconciler show FILE` renders a saved "
        "plan)."
    )


def _groups(changes: Iterable[Change]) -> dict[str, list[Change]]:
    """Changes by group (``minimax.cn-main``, ``xai.prod``), in plan order."""
    groups: dict[str, list[Change]] = {}
    for change in changes:
        group = ".".join(change.address.split("[", 1)[0].split(".")[:2])
        groups.setdefault(group, []).append(change)
    return groups


def _group_title(group: str, changes: list[Change]) -> str:
    counts = Counter(c.action.value for c in changes)
    listed = ", ".join(f"{n} to {action}" for action, n in counts.items())
    return f"<code>{_html(group)}</code>: {listed}"


def _row(change: Change) -> str:
    detail = "; ".join(f"{row.name} = {row.value}" for row in kind_of(change.address).rows(change))
    action = f"{change.action.value} (drift)" if change.drift else change.action.value
    return f"| {action} | {md_code(change.address)} | {md(detail)} | {md(change.reason)} |"


# Characters that make Markdown out of text: a name like "x [click](https://evil)" must
# reach the reviewer as the text it is, not as a link. "://" is broken to stop autolinks.
_MD_ACTIVE = re.compile(r"[\\`*_\[\]<|~&]|(?<=:)/")


def md(text: str) -> str:
    """Text for a table cell, rendered literally: every active character escaped."""
    return _MD_ACTIVE.sub(lambda m: "\\" + m.group(), text.replace("\n", " "))


def md_code(text: str) -> str:
    """A code span that holds any text: its fence is longer than any backtick run inside."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    body = text.replace("\n", " ").replace("|", "\\|")  # GFM splits cells before code spans
    return f"{fence}{pad}{body}{pad}{fence}"


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
