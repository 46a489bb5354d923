"""The money beside a plan: a short table per provider section and the guard rails judged.

``render.py`` calls this once per format: ``money_text`` ends a terminal plan,
``money_markdown`` ends a pull-request comment with a table in the spirit of Infracost's
(month-to-date spend, credit left, limit before -> after) and calls out broken guard
rails first. Both read only the plan's ``MoneyReport``; without one (``--no-refresh``) the
plan's warnings already say budgets were not evaluated.
"""

from __future__ import annotations

from reconciler.billing.figures import show
from reconciler.billing.rails import BROKEN, BUDGET, HELD, GuardRail
from reconciler.billing.report import MoneyReport, SectionMoney
from reconciler.columns import pad, width
from reconciler.model import Plan

HELD_BUDGET_ROWS = 20  # a pull-request comment lists every broken budget, held ones up to this


def money_text(plan: Plan) -> list[str]:
    """Lines to end a text plan with; none when no money was read."""
    report = plan.money
    if report is None or not (report.sections or report.guard_rails):
        return []
    lines = ["", f"Money, month to date ({_period(report)}):"]
    columns = min(max((width(section.section) for section in report.sections), default=0), 40)
    for section in report.sections:
        lines.append(f"  {pad(section.section, columns)}  {_section_text(section)}")
    if report.guard_rails:
        lines.append(f"Guard rails: {_counts(report)}")
        lines.extend(
            f"  {_status(rail)} {rail.subject}: {rail.message}" for rail in report.guard_rails
        )
    return lines


def money_markdown(plan: Plan) -> list[str]:
    """Lines to end a markdown plan with; none when no money was read."""
    from reconciler.markdown import md as _md
    from reconciler.markdown import md_code as _md_code

    report = plan.money
    if report is None or not (report.sections or report.guard_rails):
        return []
    lines = ["", f"#### Money, month to date ({_period(report)})", ""]
    broken = report.broken()
    if broken:
        lines.append(f"**Guard rails broken ({len(broken)}):**")
        lines.extend(f"- {_md_code(rail.subject)}: {_md(rail.message)}" for rail in broken)
        lines.append("")
    if report.sections:
        lines += ["| section | month to date | credit left | limit | |", "|---|---|---|---|---|"]
        for s in report.sections:
            cells = (_spent(s), _credit(s), _limit(s), s.note)
            lines.append(f"| {_md_code(s.section)} | " + " | ".join(_md(c) for c in cells) + " |")
    budgets, untold = _budgets_worth_a_row(report)
    if budgets:
        lines += ["", "| budgeted sub-account | month to date | budget | |", "|---|---|---|---|"]
        for rail in budgets:
            figures = (show(rail.figure, rail.unit), show(rail.threshold, rail.unit), rail.status)
            lines.append(
                f"| {_md_code(rail.subject)} | " + " | ".join(_md(f) for f in figures) + " |"
            )
    if untold:
        lines += ["", f"... and {untold} more budgets held (`reconciler check` lists them all)."]
    return lines


def _budgets_worth_a_row(report: MoneyReport) -> tuple[list[GuardRail], int]:
    """Every broken budget, then the held ones closest to their limit, up to a table a
    reviewer reads; and how many were left out."""
    budgets = [rail for rail in report.guard_rails if rail.rule == BUDGET]
    broken = [rail for rail in budgets if rail.status != HELD]
    held = sorted(
        (rail for rail in budgets if rail.status == HELD),
        key=lambda rail: rail.figure / rail.threshold if rail.threshold else rail.figure,
        reverse=True,
    )
    shown = held[: max(0, HELD_BUDGET_ROWS - len(broken))]
    return broken + shown, len(held) - len(shown)


def _period(report: MoneyReport) -> str:
    through = report.read.through
    return f"{through:%Y-%m}-01 .. {through.isoformat()}"


def _section_text(section: SectionMoney) -> str:
    parts = [part for part in (_spent(section), _credit(section), _limit(section)) if part]
    if section.note:
        parts.append(section.note)
    return "; ".join(parts)


def _spent(section: SectionMoney) -> str:
    if section.month_to_date is None:
        return "" if section.unit == "credits" else "(not shown by the provider)"
    return f"{show(section.month_to_date, section.unit)} spent"


def _credit(section: SectionMoney) -> str:
    if section.credit is None:
        return ""
    label = "credits left" if section.unit == "credits" else "prepaid credit left"
    return f"{show(section.credit, section.unit)} {label}"


def _limit(section: SectionMoney) -> str:
    if section.limit is None:
        return ""
    before = show(section.limit, section.unit)
    if section.limit_after is None or section.limit_after == section.limit:
        return f"limit {before}"
    return f"limit {before} -> {show(section.limit_after, section.unit)}"


def _counts(report: MoneyReport) -> str:
    broken = len(report.broken())
    held = sum(1 for rail in report.guard_rails if rail.status == HELD)
    warned = len(report.guard_rails) - broken - held
    text = f"{broken} broken, {held} held"
    return text + (f", {warned} warned" if warned else "")


def _status(rail: GuardRail) -> str:
    return {BROKEN: "BROKEN", HELD: "held  "}.get(rail.status, "warn  ")


def check_text(report: MoneyReport) -> str:
    """``reconciler check``: every guard rail with its figures, then the count."""
    if not report.guard_rails:
        return (
            "No guard rails are set: add a budget to a sub-account, checks to a useapi section, "
            "or `unmanaged: fail` to a MiniMax group.\n"
        )
    columns = min(max(width(rail.subject) for rail in report.guard_rails), 60)
    lines = []
    for rail in report.guard_rails:
        text = f"{_status(rail)}  {pad(rail.subject, columns)}  {rail.rule.replace('_', ' ')}: {rail.message}"
        lines.append(text + (f"; {rail.advice}" if rail.advice and rail.status != HELD else ""))
    lines.append(
        f"{len(report.guard_rails)} guard rail(s) as of {report.read.through}: {_counts(report)}."
    )
    return "\n".join(lines) + "\n"


def check_json(report: MoneyReport) -> str:
    import json

    broken = len(report.broken())
    held = sum(1 for rail in report.guard_rails if rail.status == HELD)
    document = {
        "through": report.read.through.isoformat(),
        "guard_rails": [rail.to_dict() for rail in report.guard_rails],
        "broken": broken,
        "held": held,
        "warned": len(report.guard_rails) - broken - held,
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
